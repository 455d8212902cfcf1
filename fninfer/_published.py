"""`PublishedPipeline`: a pipeline published as a REST endpoint, as `azureml.pipeline.core.PublishedPipeline`."""

from __future__ import annotations

import os
from typing import Any

from fninfer._experiment import Experiment, _assignment
from fninfer._pipeline_run import PipelineGraph, PipelineRun
from fninfer._record_view import RecordView, WorkspacePortal
from fninfer._workspace import Workspace


class PublishedPipeline(RecordView, WorkspacePortal):
    """Mirrors `azureml.pipeline.core.PublishedPipeline`. `endpoint` takes
    `requests.post(endpoint, headers=auth_header, json={"ExperimentName": ..., "ParameterAssignments": {...}})` and
    answers `{"Id": <run id>, ...}`; the run is a normal PipelineRun."""

    PIPELINE_PATH = "/pipelines/{0}"

    def __init__(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record

    @property
    def graph_id(self) -> str:
        """The id of its graph: a published pipeline's definition is stored with it, under its own id."""
        return self.id

    @property
    def continue_on_step_failure(self) -> bool | None:
        return self._record.get("continue_on_step_failure")

    @property
    def total_run_steps(self) -> int:
        return len(self.get_graph().nodes)

    def get_graph(self, _workflow_provider: Any = None) -> PipelineGraph:
        """Its steps (name, type, inputs, outputs) and parameters."""
        return PipelineGraph(self._record.get("graph") or {})

    def get_step_names(self, _workflow_provider: Any = None) -> list[str]:
        return [str(node["name"]) for node in self.get_graph().nodes]

    def save(self, path: str | os.PathLike[str] | None = None, _workflow_provider: Any = None) -> None:
        """Save its graph as YAML (a folder: its pipeline.yml; default: the current folder)."""
        self.get_graph().save(path)

    def _portal_workspace(self) -> Workspace:
        return self.workspace

    def get_portal_url(self) -> str:
        """There is no portal: the app's URL of this published pipeline's record."""
        return f"{self.portal_url}/pipelines/published/{self.id}"

    @property
    def version(self) -> str | None:
        return self._record.get("version")

    @property
    def endpoint(self) -> str:
        return f"{self.workspace.config.api_url}/pipelines/published/{self.id}/submit"

    @property
    def parameters(self) -> dict[str, Any]:
        """The pipeline's parameters and their defaults."""
        return {name: p["default"] for name, p in (self._record.get("parameters") or {}).items()}

    @staticmethod
    def get(workspace: Workspace, id: str, **_: Any) -> PublishedPipeline:
        return PublishedPipeline(workspace, workspace.client.request("GET", f"pipelines/published/{id}"))

    @staticmethod
    def list(workspace: Workspace, active_only: bool = True, **_: Any) -> list[PublishedPipeline]:
        params = {"active_only": "true" if active_only else "false"}
        found = workspace.client.request("GET", "pipelines/published", params=params)
        return [PublishedPipeline(workspace, record) for record in found]

    @staticmethod
    def get_all(
        workspace: Workspace, active_only: bool = True, _service_endpoint: Any = None
    ) -> list[PublishedPipeline]:
        """Deprecated in Azure ML for `list`."""
        return PublishedPipeline.list(workspace, active_only=active_only)

    def disable(self) -> None:
        """Stop the endpoint (and schedules) from starting runs; the definition is kept."""
        self._record = self.workspace.client.request("POST", f"pipelines/published/{self.id}/disable")

    def enable(self) -> None:
        self._record = self.workspace.client.request("POST", f"pipelines/published/{self.id}/enable")

    def submit(
        self,
        workspace: Workspace,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PipelineRun:
        """Start a run, as a POST to the endpoint does (a dataset parameter takes a dataset object too)."""
        tags = {"azureml.parentRunId": parent_run_id} if parent_run_id is not None else None
        return self._submit_with_tags(
            workspace, experiment_name, pipeline_parameters, continue_on_step_failure, tags=tags
        )

    def _submit_with_tags(
        self,
        workspace: Workspace,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None,
        continue_on_step_failure: bool | None = None,
        pipeline_version: str | None = None,
        tags: dict[str, str | None] | None = None,
    ) -> PipelineRun:
        """What `Experiment.submit(published_pipeline, tags=...)` sends: the tags go with the run as it starts."""
        return _submit_pipeline(
            workspace,
            f"pipelines/published/{self.id}/submit",
            experiment_name,
            pipeline_parameters,
            continue_on_step_failure,
            pipeline_version,
            tags,
        )

    def __repr__(self) -> str:
        return (
            f"PublishedPipeline(name={self.name!r}, version={self.version!r}, id={self.id!r}, status={self.status!r})"
        )


def _submit_pipeline(
    workspace: Workspace,
    path: str,
    experiment_name: str,
    pipeline_parameters: dict[str, Any] | None,
    continue_on_step_failure: bool | None,
    pipeline_version: str | None,
    tags: dict[str, str | None] | None,
) -> PipelineRun:
    """Submit a published pipeline or an endpoint's (Azure ML's PipelineSubmit body; `PipelineVersion` picks an
    endpoint's version); the answer is the run."""
    body: dict[str, Any] = {
        "ExperimentName": experiment_name,
        "ParameterAssignments": {name: _assignment(value) for name, value in (pipeline_parameters or {}).items()},
    }
    if pipeline_version is not None:
        body["PipelineVersion"] = str(pipeline_version)
    if continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = continue_on_step_failure
    if tags:
        body["Tags"] = tags
    answer = workspace.client.request("POST", path, json=body)
    return PipelineRun(Experiment(workspace, experiment_name), answer["Id"])
