"""`Experiment`: a named group of runs; `submit(pipeline)` starts a pipeline run, `submit(ScriptRunConfig)` a script
run, `start_logging()` an interactive run, `get_runs()` lists them. Its record (id, tags, archived time) is made the
first time the app hears of it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fninfer._exceptions import UserErrorException
from fninfer._pipeline import Pipeline
from fninfer._pipeline_run import PipelineRun
from fninfer._record_view import ExperimentPortal, docs_url
from fninfer._run import Run, _ApiHistory
from fninfer._script_run import ScriptRun
from fninfer._script_run_config import ScriptRunConfig
from fninfer._workspace import Workspace
from shared.core import validators
from shared.core.errors import InvalidInput

#: Azure ML's `ViewType` values for Experiment.list.
VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
#: The tag that names the run a pipeline run was submitted as the child of (`run.submit_child`, parent_run_id).
PARENT_RUN_TAG = "azureml.parentRunId"


class Experiment(ExperimentPortal):
    """Mirrors `azureml.core.Experiment`."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        _skip_name_validation: bool = False,
        _id: str | None = None,
        _archived_time: str | None = None,
        _create_in_cloud: bool = True,
        _experiment_dto: Any = None,
        **kwargs: Any,
    ) -> None:
        self._workspace = workspace
        self._name = validators.validate_name("experiment", name)
        self._record: dict[str, Any] | None = _experiment_dto

    # -- who it is -----------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @property
    def workspace_object(self) -> Workspace:
        """Deprecated in Azure ML for `workspace`."""
        return self._workspace

    def _details(self) -> dict[str, Any]:
        """The experiment's record, made the first time it is asked for (as `Experiment(ws, name)` makes it in
        Azure ML)."""
        if self._record is None:
            self._record = dict(self._workspace.client.request("PUT", f"experiments/{self._name}"))
        return self._record

    @property
    def id(self) -> str:
        return str(self._details()["id"])

    @property
    def tags(self) -> dict[str, str | None]:
        return dict(self._details().get("tags") or {})

    @property
    def archived_time(self) -> str | None:
        return self._details().get("archived_time")

    def refresh(self) -> None:
        """Read the experiment's record again."""
        self._record = dict(self._workspace.client.request("PUT", f"experiments/{self._name}"))

    def _change(self, change: dict[str, Any]) -> None:
        self._record = dict(self._workspace.client.request("PATCH", f"experiments/{self._name}", json=change))

    def tag(self, key: str, value: str | None = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, str | None]) -> None:
        """Add or change tags; others are left as they are."""
        self._change({"set_tags": {str(k): None if v is None else str(v) for k, v in tags.items()}})

    def remove_tags(self, tags: list[str]) -> None:
        self._change({"remove_tags": list(tags)})

    def archive(self) -> None:
        """Hide the experiment from Experiment.list() (view_type ActiveOnly); its runs are kept."""
        self._change({"archived": True})

    def reactivate(self, new_name: str | None = None) -> None:
        """Bring an archived experiment back. Renaming it is not supported: its runs are kept under its name."""
        if new_name is not None and new_name != self._name:
            raise UserErrorException(
                f"experiment {self._name!r} cannot be reactivated as {new_name!r}: fninfer keeps an experiment's runs "
                "under its name, so it is reactivated under the same name"
            )
        self._change({"archived": False})

    def _portal_workspace(self) -> Workspace:
        return self._workspace

    def get_portal_url(self) -> str:
        """There is no portal: the app's URL of this experiment's record."""
        return f"{self.portal_url}{self.EXPERIMENT_NAME_PATH.format(self._name)}"

    @classmethod
    def get_docs_url(cls) -> str:
        return docs_url(cls)

    # -- runs ------------------------------------------------------------------------------------------------------

    def submit(
        self,
        config: Any,
        tags: dict[str, str] | None = None,
        regenerate_outputs: bool = False,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
        **kwargs: Any,
    ) -> PipelineRun | ScriptRun:
        """Start a run of `config`: a ScriptRunConfig (a ScriptRun: docs/script-runs.md), a Pipeline, a
        PublishedPipeline or a PipelineEndpoint, with `tags`.
        `pipeline_parameters` sets its PipelineParameters for this run (a dataset parameter takes a dataset,
        registered or not); `regenerate_outputs=True` runs every step even when allow_reuse would take an earlier
        output; `continue_on_step_failure=True` lets the steps that do not depend on a failed step go on;
        `parent_run_id` names the run this one is a child of, as in Azure ML."""
        parent_run_id = kwargs.get("parent_run_id") or kwargs.get("_parent_run_id")
        run_tags = {str(k): None if v is None else str(v) for k, v in (tags or {}).items()}
        if parent_run_id is not None:
            run_tags[PARENT_RUN_TAG] = str(parent_run_id)
        if isinstance(config, ScriptRunConfig):
            return config._submit(self, run_tags, run_id=kwargs.get("run_id"))
        if not isinstance(config, Pipeline):  # a PublishedPipeline or a PipelineEndpoint: submitted as its own
            if not hasattr(config, "_submit_with_tags"):
                raise InvalidInput(
                    "an Experiment submits a ScriptRunConfig, a Pipeline, a PublishedPipeline or a PipelineEndpoint"
                )
            pipeline_parameters = pipeline_parameters or kwargs.get("pipeline_params")
            return config._submit_with_tags(
                self.workspace,
                self.name,
                pipeline_parameters,
                continue_on_step_failure=continue_on_step_failure,
                pipeline_version=kwargs.get("pipeline_version"),
                tags=run_tags,
            )
        definition: dict[str, Any] = config._definition(continue_on_step_failure)
        if regenerate_outputs:
            for step in definition["steps"]:
                step["allow_reuse"] = False
        body = {
            "experiment": self.name,
            "pipeline": definition,
            "tags": run_tags,
            "parameters": {name: _assignment(value) for name, value in (pipeline_parameters or {}).items()},
        }
        record = self.workspace.client.request("POST", "pipelines/runs", json=body)
        return PipelineRun(self, record["id"])

    def start_logging(self, *args: Any, **kwargs: Any) -> Run:
        """An interactive run (Running), for notebooks: log to it, then `run.complete()` (or use `with`).
        `snapshot_directory` (default ".", None for none) is stored as its code snapshot; `outputs`, `display_name`,
        `description`, `tags` and `properties` as in Azure ML."""
        snapshot_directory = kwargs.pop("snapshot_directory", ".")
        request = {
            "run_id": kwargs.get("run_id"),
            "name": kwargs.get("name"),
            "display_name": kwargs.get("display_name"),
            "description": kwargs.get("description"),
            "tags": kwargs.get("tags"),
            "properties": kwargs.get("properties"),
            "status": "Running",
        }
        history = _ApiHistory(self.workspace)
        details = history.create_run(self.name, {k: v for k, v in request.items() if v is not None})
        run = Run._bound(self, self.name, history, details)
        run._outputs = kwargs.get("outputs")
        if snapshot_directory is not None:
            try:
                run.take_snapshot(snapshot_directory)
            except InvalidInput as exc:
                raise UserErrorException(
                    f"Failed to take a snapshot of {snapshot_directory}. Pass snapshot_directory=None to "
                    f"start_logging to skip taking a snapshot of the given directory. ({exc.message})"
                ) from exc
        return run

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> Iterator[Run]:
        """The experiment's runs, newest first: pipeline runs and runs started with start_logging, and with
        include_children their step and child runs; filtered by type ('azureml.PipelineRun', 'azureml.StepRun'),
        tags and properties (a name, or {name: value})."""
        return Run.list(self, type=type, tags=tags, properties=properties, include_children=include_children)

    # -- experiments ----------------------------------------------------------------------------------------------

    @staticmethod
    def list(
        workspace: Workspace, experiment_name: str | None = None, view_type: str = "ActiveOnly", tags: Any = None
    ) -> list[Experiment]:
        """The workspace's experiments (optionally the one named): active ones, archived ones or all (view_type),
        with tags (a name, or {name: value})."""
        if view_type not in VIEW_TYPES:
            raise UserErrorException(f"view_type must be one of {list(VIEW_TYPES)}, not {view_type!r}")
        found = []
        for record in workspace.client.request("GET", "experiments"):
            archived = bool(record.get("archived_time"))
            if (view_type == "ActiveOnly" and archived) or (view_type == "ArchivedOnly" and not archived):
                continue
            if experiment_name not in (None, record["name"]) or not _tagged(record.get("tags") or {}, tags):
                continue
            found.append(Experiment(workspace, record["name"], _experiment_dto=record))
        return found

    @staticmethod
    def delete(workspace: Workspace, experiment_id: str) -> None:
        """Delete the experiment with this id and its runs' history (refused while one of its runs is not over)."""
        for experiment in Experiment.list(workspace, view_type="All"):
            if experiment.id == experiment_id:
                workspace.client.request("DELETE", f"experiments/{experiment.name}")
                return
        raise UserErrorException(f"no experiment has the id {experiment_id!r}")

    @staticmethod
    def from_directory(path: str | os.PathLike[str], auth: Any = None) -> Experiment:
        """(Deprecated in Azure ML) The experiment a project folder names in `.azureml/project.json` (its Scope
        ends with `/projects/<experiment name>`), in the workspace of the folder's config."""
        project = Path(path) / ".azureml" / "project.json"
        if not project.is_file():
            raise UserErrorException(f"no project in {path}: {project} does not exist")
        try:
            scope = str(json.loads(project.read_text())["Scope"])
        except (OSError, ValueError, KeyError) as exc:
            raise UserErrorException(f"{project} has no 'Scope': {exc}") from exc
        parts = scope.strip("/").split("/")
        named = {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
        workspace = Workspace(named.get("subscriptions"), named.get("resourcegroups"), named.get("workspaces"), auth)
        return Experiment(workspace, named["projects"])

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name},\nWorkspace: {self.workspace.name})"


def _tagged(found: dict[str, Any], wanted: Any) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in found
    return all(key in found and (value is None or found[key] == value) for key, value in dict(wanted).items())


def _assignment(value: Any) -> Any:
    """A pipeline parameter's value as the app takes it: a dataset as its definition, anything else as it is."""
    if hasattr(value, "_step_input"):
        return value._step_input()
    return value
