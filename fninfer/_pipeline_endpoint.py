"""`PipelineEndpoint`: versions of published pipelines behind one name and one REST endpoint, as
`azureml.pipeline.core.PipelineEndpoint`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fninfer._pipeline import Pipeline
from fninfer._pipeline_run import PipelineRun
from fninfer._published import PublishedPipeline, _submit_pipeline
from fninfer._record_view import RecordView
from fninfer._workspace import Workspace
from shared.core.errors import InvalidInput


class PipelineIdVersion:
    """A version of an endpoint and the id of its published pipeline."""

    def __init__(self, version: str, pipeline_id: str) -> None:
        self._version = version
        self._pipeline_id = pipeline_id

    @property
    def version(self) -> str:
        return self._version

    @property
    def pipeline_id(self) -> str:
        return self._pipeline_id

    def __repr__(self) -> str:
        return f"PipelineIdVersion(Version: {self.version},\nPipelineId: {self.pipeline_id})"


class PipelineVersion:
    """A version of an endpoint and its published pipeline."""

    def __init__(self, version: str, pipeline: PublishedPipeline) -> None:
        self._version = version
        self._pipeline = pipeline

    @property
    def version(self) -> str:
        return self._version

    @property
    def pipeline(self) -> PublishedPipeline:
        return self._pipeline

    def __repr__(self) -> str:
        return f"PipelineVersion(version: {self.version},\npipeline: {self.pipeline.id})"


class PipelineEndpoint(RecordView):
    """Mirrors `azureml.pipeline.core.PipelineEndpoint`. `endpoint` takes Azure ML's submit body (as a published
    pipeline's endpoint does) and runs the default version, or `"PipelineVersion": "<version>"`; the URL stays the
    same as versions are added, so callers never change it."""

    def __init__(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self._workspace = workspace
        self._record = record

    # -- what it is -------------------------------------------------------------------------------------------------

    @property
    def default_version(self) -> str:
        return str(self._record["default_version"])

    @property
    def endpoint(self) -> str:
        return f"{self._workspace.config.api_url}/pipelines/endpoints/{self.id}/submit"

    @property
    def swaggerurl(self) -> str:
        """The app's OpenAPI document, which describes this endpoint's body."""
        return f"{self._workspace.config.api_url}/openapi.json"

    @property
    def pipeline_version_list(self) -> list[PipelineIdVersion]:
        return [PipelineIdVersion(v["version"], v["pipeline_id"]) for v in self._record["versions"]]

    # -- finding endpoints ------------------------------------------------------------------------------------------

    @staticmethod
    def publish(
        workspace: Workspace,
        name: str,
        description: str | None,
        pipeline: Pipeline | PublishedPipeline,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> PipelineEndpoint:
        """A new endpoint `name` (names are unique) whose version "0" is `pipeline`: a PublishedPipeline, or a
        Pipeline, published first as `<name>-<time>-Pipeline` as Azure ML does."""
        if isinstance(pipeline, Pipeline):
            pipeline_name = f"{name}-{datetime.now().strftime('%m-%d-%Y-%H-%M')}-Pipeline"
            pipeline = pipeline.publish(name=pipeline_name, description=f"Description for {pipeline_name}")
        if not isinstance(pipeline, PublishedPipeline):
            raise InvalidInput("pipeline should be either type Pipeline or PublishedPipeline", field="pipeline")
        body = {"name": name, "description": description, "pipeline_id": pipeline.id}
        return PipelineEndpoint(workspace, workspace.client.request("POST", "pipelines/endpoints", json=body))

    @staticmethod
    def get(
        workspace: Workspace,
        id: str | None = None,
        name: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> PipelineEndpoint:
        """The endpoint with this id or this name."""
        if id is None and name is None:
            raise InvalidInput("PipelineEndpoint.get needs an id or a name", field="name")
        record = workspace.client.request("GET", f"pipelines/endpoints/{id or name}")
        return PipelineEndpoint(workspace, record)

    @staticmethod
    def list(
        workspace: Workspace,
        active_only: bool = True,
        max_results: int = 100,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> list[PipelineEndpoint]:
        params = {"active_only": "true" if active_only else "false"}
        found = workspace.client.request("GET", "pipelines/endpoints", params=params)
        return [PipelineEndpoint(workspace, record) for record in found[:max_results]]

    @staticmethod
    def get_all(
        workspace: Workspace, active_only: bool = True, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> list[PipelineEndpoint]:
        """Deprecated in Azure ML for `list`."""
        return PipelineEndpoint.list(workspace, active_only=active_only)

    # -- versions ---------------------------------------------------------------------------------------------------

    def _update(self, path: str, body: dict[str, Any] | None = None) -> None:
        self._record = self._workspace.client.request("POST", f"pipelines/endpoints/{self.id}/{path}", json=body)

    def get_default_version(self) -> str:
        return self.default_version

    def get_pipeline(self, version: str | None = None) -> PublishedPipeline:
        """The published pipeline of `version` (the default when None)."""
        wanted = self.default_version if version is None else str(version)
        for item in self.pipeline_version_list:
            if item.version == wanted:
                return PublishedPipeline.get(self._workspace, item.pipeline_id)
        known = [item.version for item in self.pipeline_version_list]
        raise InvalidInput(f"version {wanted!r} is not in pipeline endpoint {self.name!r}; versions: {known}")

    def list_versions(self, _workflow_provider: Any = None, _service_endpoint: Any = None) -> list[PipelineVersion]:
        return [
            PipelineVersion(item.version, PublishedPipeline.get(self._workspace, item.pipeline_id))
            for item in self.pipeline_version_list
        ]

    def get_all_versions(self, _workflow_provider: Any = None, _service_endpoint: Any = None) -> list[PipelineVersion]:
        """Deprecated in Azure ML for `list_versions`."""
        return self.list_versions()

    def list_pipelines(
        self, active_only: bool = True, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> list[PublishedPipeline]:
        pipelines = [version.pipeline for version in self.list_versions()]
        return [p for p in pipelines if not active_only or p.status == "Active"]

    def get_all_pipelines(
        self, active_only: bool = True, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> list[PublishedPipeline]:
        """Deprecated in Azure ML for `list_pipelines`."""
        return self.list_pipelines(active_only=active_only)

    def add(self, pipeline: PublishedPipeline) -> None:
        """Add a published pipeline as the next version ("1", "2", ...); the default does not change."""
        self._update("versions", {"pipeline_id": pipeline.id, "default": False})

    def add_default(self, pipeline: PublishedPipeline) -> None:
        """Add a published pipeline as the next version and make it the default."""
        self._update("versions", {"pipeline_id": pipeline.id, "default": True})

    def set_default_version(self, version: str) -> None:
        self._update("default", {"version": str(version)})

    def set_default(self, pipeline: PublishedPipeline) -> None:
        """Make the version holding `pipeline` the default."""
        for item in self.pipeline_version_list:
            if item.pipeline_id == pipeline.id:
                return self.set_default_version(item.version)
        raise InvalidInput(
            f"pipeline {pipeline.id} is not in pipeline endpoint {self.name!r}: use add() or add_default()",
            field="pipeline",
        )

    # -- status and runs --------------------------------------------------------------------------------------------

    def enable(self) -> None:
        self._update("enable")

    def disable(self) -> None:
        """The endpoint starts no runs (from its REST endpoint or schedules) until enabled again."""
        self._update("disable")

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | None = None,
    ) -> PipelineRun:
        """Start a run of the default version (or `pipeline_version`), as a POST to the endpoint does."""
        tags = {"azureml.parentRunId": parent_run_id} if parent_run_id is not None else None
        return self._submit_with_tags(
            self._workspace, experiment_name, pipeline_parameters, pipeline_version=pipeline_version, tags=tags
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
        """What `Experiment.submit(pipeline_endpoint, tags=...)` sends: the tags go with the run as it starts."""
        return _submit_pipeline(
            self._workspace,
            f"pipelines/endpoints/{self.id}/submit",
            experiment_name,
            pipeline_parameters,
            continue_on_step_failure,
            pipeline_version,
            tags,
        )

    # -- name and archive ----------------------------------------------------------------------------------------

    def set_name(self, name: str) -> None:
        """Rename the endpoint (its id and its URL stay)."""
        self._update("name", {"name": name})

    def archive(self) -> None:
        """Azure ML's archive: the endpoint starts no runs (as disable())."""
        self.disable()

    def reactivate(self, name: str) -> None:
        """Azure ML's reactivate: enable the archived endpoint again, under `name`."""
        if name != self.name:
            self.set_name(name)
        self.enable()

    def __repr__(self) -> str:
        versions = [(item.version, item.pipeline_id) for item in self.pipeline_version_list]
        return (
            f"PipelineEndpoint(Name: {self.name},\nId: {self.id},\nDescription: {self.description},\n"
            f"Pipelines: {versions})"
        )
