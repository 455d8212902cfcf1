"""`fninfer.pipeline.core.schedule`, mirroring `azureml.pipeline.core.schedule`."""

from fninfer._schedule import Schedule, ScheduleRecurrence, TimeZone

__all__ = ["Schedule", "ScheduleRecurrence", "TimeZone"]
