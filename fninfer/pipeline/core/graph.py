"""`fninfer.pipeline.core.graph`, mirroring the names of `azureml.pipeline.core.graph` that v1 code imports."""

from fninfer._pipeline import PipelineData, PipelineParameter

__all__ = ["PipelineData", "PipelineParameter"]
