"""`Experiment`: a named group of runs; `submit(pipeline)` starts a pipeline run."""

from __future__ import annotations

from typing import Any

from fninfer._pipeline import Pipeline
from fninfer._pipeline_run import PipelineRun
from fninfer._workspace import Workspace
from shared import layout


class Experiment:
    """Mirrors `azureml.core.Experiment`."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = layout.validate_name("experiment", name)

    def submit(
        self,
        config: Pipeline,
        tags: dict[str, str] | None = None,
        regenerate_outputs: bool = False,
        pipeline_parameters: dict[str, Any] | None = None,
        **_: Any,
    ) -> PipelineRun:
        """Start a run of `config` (a Pipeline). `pipeline_parameters` sets its PipelineParameters for this run (a
        dataset parameter takes a dataset, registered or not); `regenerate_outputs=True` runs every step even when
        allow_reuse would take an earlier output, as in Azure ML."""
        definition: dict[str, Any] = config._definition()
        if regenerate_outputs:
            for step in definition["steps"]:
                step["allow_reuse"] = False
        body = {
            "experiment": self.name,
            "pipeline": definition,
            "tags": tags or {},
            "parameters": {name: _assignment(value) for name, value in (pipeline_parameters or {}).items()},
        }
        record = self.workspace.client.request("POST", "pipelines/runs", json=body)
        return PipelineRun(self, record["id"])

    @staticmethod
    def list(
        workspace: Workspace, experiment_name: str | None = None, view_type: str = "ActiveOnly", tags: Any = None
    ) -> list[Experiment]:
        """The experiments that have runs (optionally the one named)."""
        names = sorted({run["experiment"] for run in workspace.client.request("GET", "pipelines/runs")})
        return [Experiment(workspace, name) for name in names if experiment_name in (None, name)]

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"


def _assignment(value: Any) -> Any:
    """A pipeline parameter's value as the app takes it: a dataset as its definition, anything else as it is."""
    if hasattr(value, "_step_input"):
        return value._step_input()
    return value
