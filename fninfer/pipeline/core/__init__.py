"""`fninfer.pipeline.core`, mirroring `azureml.pipeline.core`."""

from fninfer._pipeline import Pipeline, PipelineData, PipelineParameter, PortDataReference
from fninfer._pipeline_endpoint import PipelineEndpoint
from fninfer._pipeline_run import ActivityFailedException, PipelineRun, StepRun
from fninfer._published import PublishedPipeline
from fninfer._schedule import Schedule, ScheduleRecurrence, TimeZone
from fninfer._step import PipelineStep, StepSequence

__all__ = [
    "ActivityFailedException",
    "Pipeline",
    "PipelineData",
    "PipelineEndpoint",
    "PipelineParameter",
    "PipelineRun",
    "PipelineStep",
    "PortDataReference",
    "PublishedPipeline",
    "Schedule",
    "ScheduleRecurrence",
    "StepRun",
    "StepSequence",
    "TimeZone",
]
