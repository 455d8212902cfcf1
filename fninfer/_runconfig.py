"""`RunConfiguration`, as `azureml.core.runconfig` has it: what v1 pipeline and training code builds to say which
environment a step runs in. fninfer keeps it as a holder of that environment (and the few settings v1 code sets on
it); a Function App runs every step in its own Python environment (see fninfer/_environment.py).
"""

from __future__ import annotations

from typing import Any

from fninfer._environment import CondaDependencies, Environment


class RunConfiguration:
    """Mirrors `azureml.core.runconfig.RunConfiguration`."""

    def __init__(
        self,
        script: str | None = None,
        arguments: list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: CondaDependencies | None = None,
        _history_enabled: bool | None = None,
        _path: str | None = None,
        _name: str | None = None,
        command: str | list[str] | None = None,
    ) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.target = "local"
        self.node_count = 1
        self.max_run_duration_seconds: int | None = None
        self.environment = Environment(_name or "default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.history = {"output_collection": True, "enabled": _history_enabled is not False}

    @property
    def environment_variables(self) -> dict[str, str]:
        return self.environment.environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str]) -> None:
        self.environment.environment_variables = dict(value)

    def __repr__(self) -> str:
        return f"RunConfiguration(environment={self.environment.name!r}, target={self.target!r})"
