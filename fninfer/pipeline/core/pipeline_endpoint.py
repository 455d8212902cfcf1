"""`fninfer.pipeline.core.pipeline_endpoint`, mirroring `azureml.pipeline.core.pipeline_endpoint`."""

from fninfer._pipeline_endpoint import PipelineEndpoint, PipelineIdVersion, PipelineVersion

__all__ = ["PipelineEndpoint", "PipelineIdVersion", "PipelineVersion"]
