"""`Experiment`: a named group of runs; `submit(pipeline)` starts a pipeline run, `get_runs()` lists them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fninfer._pipeline import Pipeline
from fninfer._pipeline_run import PipelineRun, StepRun, _matches
from fninfer._workspace import Workspace
from shared import layout
from shared.errors import InvalidInput


class Experiment:
    """Mirrors `azureml.core.Experiment`."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = layout.validate_name("experiment", name)

    def submit(
        self,
        config: Any,
        tags: dict[str, str] | None = None,
        regenerate_outputs: bool = False,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
        **_: Any,
    ) -> PipelineRun:
        """Start a run of `config` (a Pipeline). `pipeline_parameters` sets its PipelineParameters for this run (a
        dataset parameter takes a dataset, registered or not); `regenerate_outputs=True` runs every step even when
        allow_reuse would take an earlier output; `continue_on_step_failure=True` lets the steps that do not depend
        on a failed step go on, as in Azure ML."""
        if not isinstance(config, Pipeline):  # a PublishedPipeline or a PipelineEndpoint: submitted as its own
            submit_to = getattr(config, "submit", None)
            if submit_to is None:
                raise InvalidInput("an Experiment submits a Pipeline, a PublishedPipeline or a PipelineEndpoint")
            if hasattr(config, "add_default"):  # a PipelineEndpoint
                return submit_to(self.name, pipeline_parameters=pipeline_parameters)
            return submit_to(
                self.workspace, self.name, pipeline_parameters, continue_on_step_failure=continue_on_step_failure
            )
        definition: dict[str, Any] = config._definition(continue_on_step_failure)
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

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> Iterator[PipelineRun | StepRun]:
        """The experiment's runs, newest first: pipeline runs, and with include_children their step runs; filtered
        by type ('azureml.PipelineRun', 'azureml.StepRun'), tags and properties (a name, or {name: value})."""
        params = {"experiment": self.name, "include_children": "true" if include_children else "false"}
        records = self.workspace.client.request("GET", "pipelines/runs", params=params)
        pipelines: dict[str, PipelineRun] = {}

        def pipeline_run(run_id: str) -> PipelineRun:
            if run_id not in pipelines:
                pipelines[run_id] = PipelineRun(self, run_id)
            return pipelines[run_id]

        for record in records:
            run = (
                StepRun(pipeline_run(record["parent"]), record["id"])
                if record.get("parent")
                else pipeline_run(record["id"])
            )
            if _matches(run.get_details(), tags, properties, type, None):
                yield run

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
