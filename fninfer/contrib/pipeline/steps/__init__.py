"""`fninfer.contrib.pipeline.steps`: where ParallelRunStep lived before it moved to `azureml.pipeline.steps`; one
seed imports it from here."""

from fninfer._parallel_run import ParallelRunConfig, ParallelRunStep

__all__ = ["ParallelRunConfig", "ParallelRunStep"]
