"""`fninfer.pipeline.steps`, mirroring `azureml.pipeline.steps`."""

from fninfer._parallel_run import ParallelRunConfig, ParallelRunStep

__all__ = ["ParallelRunConfig", "ParallelRunStep"]
