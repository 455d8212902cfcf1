"""`fninfer.core.script_run_config`, mirroring `azureml.core.script_run_config`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fninfer import _experiment
from fninfer._runconfig import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    TensorflowConfiguration,
)
from fninfer._script_run import ScriptRun
from fninfer._script_run_config import ScriptRunConfig, get_run_config_from_script_run

if TYPE_CHECKING:  # (not a name of this module: azureml.core.script_run_config has none of that name)
    from fninfer._workspace import Workspace


def submit(
    script_run_config: ScriptRunConfig,
    workspace: Workspace,
    experiment_name: str,
    run_id: str | None = None,
    _parent_run_id: str | None = None,
    credential_passthrough: bool = False,
) -> ScriptRun:
    """Submit the script run in the experiment of that name, as `Experiment(workspace, experiment_name).submit`
    does (credential_passthrough is kept in the run configuration: the script runs with the app's identity)."""
    script_run_config.run_config.credential_passthrough = credential_passthrough
    experiment = _experiment.Experiment(workspace, experiment_name)
    return experiment.submit(script_run_config, run_id=run_id, _parent_run_id=_parent_run_id)  # type: ignore[return-value]


__all__ = [
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
    "ScriptRunConfig",
    "TensorflowConfiguration",
    "get_run_config_from_script_run",
    "submit",
]
