"""`fninfer.pipeline.core`, mirroring `azureml.pipeline.core`."""

from fninfer._pipeline import Pipeline, PipelineData, PortDataReference
from fninfer._pipeline_run import ActivityFailedException, PipelineRun, StepRun

__all__ = ["ActivityFailedException", "Pipeline", "PipelineData", "PipelineRun", "PortDataReference", "StepRun"]
