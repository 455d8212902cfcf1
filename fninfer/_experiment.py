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
        self, config: Pipeline, tags: dict[str, str] | None = None, regenerate_outputs: bool = False
    ) -> PipelineRun:
        """Start a run of `config` (a Pipeline). `regenerate_outputs=True` runs every step even when allow_reuse
        would take an earlier output, as in Azure ML."""
        definition: dict[str, Any] = config._definition()
        if regenerate_outputs:
            for step in definition["steps"]:
                step["allow_reuse"] = False
        body = {"experiment": self.name, "pipeline": definition, "tags": tags or {}}
        record = self.workspace.client.request("POST", "pipelines/runs", json=body)
        return PipelineRun(self, record["id"])

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"
