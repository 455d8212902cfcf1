"""`PublishedPipeline`: a pipeline published as a REST endpoint, as `azureml.pipeline.core.PublishedPipeline`."""

from __future__ import annotations

from typing import Any

from fninfer._experiment import Experiment, _assignment
from fninfer._pipeline_run import PipelineRun
from fninfer._record_view import RecordView
from fninfer._workspace import Workspace


class PublishedPipeline(RecordView):
    """Mirrors `azureml.pipeline.core.PublishedPipeline`. `endpoint` takes
    `requests.post(endpoint, headers=auth_header, json={"ExperimentName": ..., "ParameterAssignments": {...}})` and
    answers `{"Id": <run id>, ...}`; the run is a normal PipelineRun."""

    def __init__(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record

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
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
        **_: Any,
    ) -> PipelineRun:
        """Start a run, as a POST to the endpoint does (a dataset parameter takes a dataset object too)."""
        assignments = {name: _assignment(value) for name, value in (pipeline_parameters or {}).items()}
        body = {
            "ExperimentName": experiment_name,
            "ParameterAssignments": assignments,
            "ContinueRunOnStepFailure": continue_on_step_failure,
        }
        answer = workspace.client.request("POST", f"pipelines/published/{self.id}/submit", json=body)
        return PipelineRun(Experiment(workspace, experiment_name), answer["Id"])

    def __repr__(self) -> str:
        return (
            f"PublishedPipeline(name={self.name!r}, version={self.version!r}, id={self.id!r}, status={self.status!r})"
        )
