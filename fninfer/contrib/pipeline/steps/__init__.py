"""`fninfer.contrib.pipeline.steps`: where ParallelRunStep lived before it moved to `azureml.pipeline.steps`, with
its earlier signatures; one seed imports it from here."""

from fninfer._parallel_run import ContribParallelRunConfig as ParallelRunConfig
from fninfer._parallel_run import ContribParallelRunStep as ParallelRunStep

__all__ = ["ParallelRunConfig", "ParallelRunStep"]
