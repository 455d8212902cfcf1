"""`fninfer.core.script_run`, mirroring `azureml.core.script_run`."""

from fninfer._run import Run
from fninfer._runconfig import RunConfiguration
from fninfer._script_run import ScriptRun

__all__ = ["Run", "RunConfiguration", "ScriptRun"]
