"""`fninfer.pipeline.core.graph`, mirroring `azureml.pipeline.core.graph` (the Learn how-tos import `PipelineParameter`
from here)."""

from fninfer._pipeline import PipelineParameter, PortDataReference
from fninfer._pipeline_run import PipelineRun
from fninfer._published import PublishedPipeline

__all__ = ["PipelineParameter", "PipelineRun", "PortDataReference", "PublishedPipeline"]
