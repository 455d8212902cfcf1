"""`fninfer.pipeline.steps`, mirroring `azureml.pipeline.steps`."""

from fninfer._parallel_run import ParallelRunConfig, ParallelRunStep
from fninfer._python_script_step import PythonScriptStep

__all__ = ["ParallelRunConfig", "ParallelRunStep", "PythonScriptStep"]
