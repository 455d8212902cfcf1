"""`Run`: a run's identity, status, metrics, tags, properties, files, child runs and models registered from it, as
`azureml.core.Run`.

Inside fninfer (an entry script's `init()`/`run()`, a script step) `Run.get_context()` is the run the engine
activated around the code (`shared/runs/run_context.py`): a submitted run, as Azure ML's `_SubmittedRun` (its status is
the system's), writing straight to the app's storage through `shared/runs/run_history.py`; its `experiment.workspace` is
the app itself (`fninfer._config.app_config`), and its `parent` a PipelineRun. Outside, `Run(experiment, run_id)`,
`Run.get(ws, run_id)` and `Experiment.start_logging()` read and write the same history through the app's API (files
go straight to storage, as model and datastore uploads do), and `Run.get_context()` returns an `_OfflineRun` that
prints what it would have logged, as Azure ML's does.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from fninfer import _waiting
from fninfer._exceptions import (
    ActivityFailedException,
    RunEnvironmentException,
    UserErrorException,
)
from fninfer._record_view import RunPortal, docs_url
from shared.core import layout, validators
from shared.core.errors import InvalidInput, NotFound
from shared.core.settings import storage_connection
from shared.core.storage import Storage, app_storage
from shared.pipelines.engine import submit
from shared.runs import run_context, run_history

if TYPE_CHECKING:
    from fninfer._experiment import Experiment
    from fninfer._model import Model
    from fninfer._workspace import Workspace


#: The statuses a run ends in (Azure ML's `Completed` too, for a history that holds one).
RUN_TERMINAL = ("Finished", "Completed", "Failed", "Canceled")


def _run_ended(details: dict[str, Any]) -> bool:
    return details["status"] in RUN_TERMINAL


class _History(Protocol):
    """Where a Run's history is read and written: the app's storage (inside the app) or the app's API."""

    storage: Storage

    def details(self, run_id: str) -> dict[str, Any]: ...

    def log(self, run_id: str, entries: list[dict[str, Any]]) -> None: ...

    def metrics(self, run_id: str, name: str | None, recursive: bool, populate: bool = False) -> dict[str, Any]: ...

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> dict[str, str | None]: ...

    def remove_tags(self, run_id: str, keys: list[str]) -> dict[str, str | None]: ...

    def tags(self, run_id: str) -> dict[str, str | None]: ...

    def register_model(self, run_id: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def children(self, run_id: str) -> list[dict[str, Any]]: ...

    def create_run(self, experiment: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def set_status(self, run_id: str, action: str, error: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def add_properties(self, run_id: str, properties: dict[str, str]) -> dict[str, str]: ...

    def update(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]: ...

    def list_runs(self, experiment: str, include_children: bool) -> list[dict[str, Any]]: ...


class _StorageHistory:
    """Inside the app: the history functions on the app's storage, no HTTP."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def details(self, run_id: str) -> dict[str, Any]:
        return run_history.describe(self.storage, run_id)

    def log(self, run_id: str, entries: list[dict[str, Any]]) -> None:
        run_history.log_metrics(self.storage, run_id, entries)

    def metrics(self, run_id: str, name: str | None, recursive: bool, populate: bool = False) -> dict[str, Any]:
        return run_history.metrics(self.storage, run_id, name, recursive, populate)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> dict[str, str | None]:
        return run_history.set_tags(self.storage, run_id, tags)

    def remove_tags(self, run_id: str, keys: list[str]) -> dict[str, str | None]:
        return run_history.remove_tags(self.storage, run_id, keys)

    def tags(self, run_id: str) -> dict[str, str | None]:
        return run_history.get_tags(self.storage, run_id)

    def register_model(self, run_id: str, request: dict[str, Any]) -> dict[str, Any]:
        return run_history.register_model(self.storage, run_id, request)

    def children(self, run_id: str) -> list[dict[str, Any]]:
        return [run_history.describe(self.storage, child) for child in run_history.child_ids(self.storage, run_id)]

    def create_run(self, experiment: str, request: dict[str, Any]) -> dict[str, Any]:
        return run_history.create_run(self.storage, experiment, request)

    def set_status(self, run_id: str, action: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        if action == "cancel":
            return submit.cancel(self.storage, run_id)
        if action == "error":
            return run_history.record_error(self.storage, run_id, error)
        return run_history.set_status(self.storage, run_id, action, error)

    def add_properties(self, run_id: str, properties: dict[str, str]) -> dict[str, str]:
        return run_history.add_properties(self.storage, run_id, properties)

    def update(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return run_history.update_run(self.storage, run_id, changes)

    def list_runs(self, experiment: str, include_children: bool) -> list[dict[str, Any]]:
        return run_history.list_runs(self.storage, experiment, include_children)


class _ApiHistory:
    """Outside the app: the app's `runs/<id>/...` API; files straight to the workspace's storage."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def storage(self) -> Storage:
        return self.workspace.storage

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.workspace.client.request(method, path, **kwargs)

    def details(self, run_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"runs/{run_id}"))

    def log(self, run_id: str, entries: list[dict[str, Any]]) -> None:
        self._request("POST", f"runs/{run_id}/metrics", json={"metrics": entries})

    def metrics(self, run_id: str, name: str | None, recursive: bool, populate: bool = False) -> dict[str, Any]:
        params = {"recursive": str(recursive).lower(), "populate": str(populate).lower()}
        if name is not None:
            params["name"] = name
        return dict(self._request("GET", f"runs/{run_id}/metrics", params=params))

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> dict[str, str | None]:
        return dict(self._request("POST", f"runs/{run_id}/tags", json={"tags": tags}))

    def remove_tags(self, run_id: str, keys: list[str]) -> dict[str, str | None]:
        return dict(self._request("POST", f"runs/{run_id}/tags/remove", json={"keys": keys}))

    def tags(self, run_id: str) -> dict[str, str | None]:
        return dict(self._request("GET", f"runs/{run_id}/tags"))

    def register_model(self, run_id: str, request: dict[str, Any]) -> dict[str, Any]:
        from fninfer._model import REGISTER_TIMEOUT

        return dict(self._request("POST", f"runs/{run_id}/models", json=request, timeout=REGISTER_TIMEOUT))

    def children(self, run_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"runs/{run_id}/children"))

    def create_run(self, experiment: str, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self._request("POST", "runs", json={**request, "experiment": experiment}))

    def set_status(self, run_id: str, action: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"action": action, **({"error": error} if error is not None else {})}
        return dict(self._request("POST", f"runs/{run_id}/status", json=body))

    def add_properties(self, run_id: str, properties: dict[str, str]) -> dict[str, str]:
        return dict(self._request("POST", f"runs/{run_id}/properties", json={"properties": properties}))

    def update(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return dict(self._request("PATCH", f"runs/{run_id}", json=changes))

    def list_runs(self, experiment: str, include_children: bool) -> list[dict[str, Any]]:
        params = {"experiment": experiment, "include_children": str(include_children).lower()}
        return list(self._request("GET", "runs", params=params))


def _app_workspace() -> Workspace:
    """The workspace code running inside the app sees as `run.experiment.workspace`: the app itself (its own
    address, key or identity, and storage); in a process outside the app that activated a run context itself (a
    test, a tool), the workspace config beside it."""
    from fninfer._workspace import Workspace

    return Workspace._of_app() or Workspace.from_config()


def _context_from_environment() -> run_context.RunContext | None:
    """A run carried into this process by Azure ML's environment variables (a script run as a subprocess)."""
    run_id = os.environ.get(run_context.RUN_ID_VARIABLE)
    experiment = os.environ.get(run_context.EXPERIMENT_VARIABLE)
    if not run_id or not experiment:
        return None
    return run_context.RunContext(run_id, experiment, os.environ.get(run_context.PARENT_RUN_ID_VARIABLE) or None)


def _inside_app() -> bool:
    try:
        storage_connection()
    except InvalidInput:
        return False
    return True


def _json_scalar(value: Any) -> Any:
    """numpy and other number types as plain JSON numbers (`run.log('acc', np.float64(0.9))` is common)."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, list | dict | str):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


log = logging.getLogger("fninfer.run")

#: Azure ML's run statuses that are over, for history runs and for pipeline and step runs.
TERMINAL_STATUSES = ("Completed", "Finished", "Failed", "Canceled")
#: What one `create_children` call may make, as Azure ML.
MAX_CHILDREN = 100
#: The metrics Azure ML stores as JSON artifacts, by their schema_type.
_ARTIFACT_METRICS = {
    "confusion_matrix": "log_confusion_matrix",
    "accuracy_table": "log_accuracy_table",
    "residuals": "log_residuals",
    "predictions": "log_predictions",
}


def _error_details(error_details: Any, error_code: str | None) -> dict[str, Any]:
    """Azure ML's error dictionary of `run.fail()`: the message of a string or an exception, and the code."""
    if isinstance(error_details, BaseException):
        message = f"{type(error_details).__name__}: {error_details}"
    else:
        message = "" if error_details is None else str(error_details)
    return {"message": message, "code": error_code}


class Run(RunPortal):
    """Mirrors `azureml.core.Run`. Metrics: a value logged once reads back as that value, logged again as a list of
    every value; `log_list` values are lists; `log_row` and `log_table` build {column: [values]} tables."""

    _run_source_initializers: dict[str, Any] = {}

    def __init__(self, experiment: Experiment, run_id: str, outputs: Any = None, **kwargs: Any) -> None:
        self._experiment: Experiment | None = experiment
        self._experiment_name = experiment.name
        self._run_id = run_id
        self._history: _History = _ApiHistory(experiment.workspace)
        self._details: dict[str, Any] = kwargs.get("_details") or self._history.details(run_id)
        self._parent_run_id: str | None = self._details.get("parentRunId")
        self._outputs = outputs

    @classmethod
    def _bound(
        cls, experiment: Experiment | None, experiment_name: str, history: _History, details: dict[str, Any]
    ) -> Run:
        """A run of this class over `history`, from details already read (no request)."""
        run = cls.__new__(cls)
        run._experiment, run._experiment_name = experiment, experiment_name
        run._run_id, run._history, run._details = details["runId"], history, details
        run._parent_run_id = details.get("parentRunId")
        run._outputs = None
        return run

    def _rehydrated(self, details: dict[str, Any]) -> Run:
        """Another run of this run's experiment as the class its type calls for (Azure ML's `_rehydrate_runs`): a
        pipeline run a PipelineRun, a step run a StepRun, a type with a provider (`add_type_provider`) what that
        makes, anything else a Run."""
        from fninfer._pipeline_run import PipelineRun, StepRun

        run_type = (details.get("properties") or {}).get("azureml.runsource")
        factory = Run._run_source_initializers.get(run_type or "")
        if factory is not None:
            return factory(self.experiment, details)  # type: ignore[no-any-return]
        if run_type == "azureml.PipelineRun":
            return PipelineRun(self.experiment, details["runId"])
        if run_type == "azureml.StepRun" and details.get("parentRunId"):
            return StepRun(PipelineRun(self.experiment, details["parentRunId"]), details["runId"])
        return Run._bound(self._experiment, self._experiment_name, self._history, details)

    # -- finding runs ---------------------------------------------------------------------------------------------

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Any:
        """The run the code runs in: inside fninfer the step or entry script's run (a submitted run, as Azure ML's:
        its status is the system's); elsewhere an offline run that prints what it is given (or
        RunEnvironmentException with allow_offline=False)."""
        context = run_context.current() or _context_from_environment()
        if context is None:
            if allow_offline:
                return _OfflineRun(**kwargs)
            raise RunEnvironmentException("there is no run context here: this code is not running in a fninfer run")
        if context.storage is not None:
            history: _History = _StorageHistory(context.storage)
        elif _inside_app():
            history = _StorageHistory(app_storage())
        else:
            from fninfer._workspace import Workspace

            history = _ApiHistory(Workspace.from_config())
        details = {
            "runId": context.run_id,
            "status": run_history.ACTIVATED_STATUS,
            "name": context.name,
            "parentRunId": context.parent_run_id,
        }
        return _SubmittedRun._bound(None, context.experiment_name, history, details)

    @classmethod
    def get_submitted_run(cls, **kwargs: Any) -> Any:
        """Deprecated in Azure ML for `get_context`."""
        log.warning("Run.get_submitted_run() is deprecated, use Run.get_context() instead")
        return cls.get_context(allow_offline=False, **kwargs)

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        """The run with this id, whichever experiment it is in, as the class its type calls for."""
        from fninfer._experiment import Experiment

        history = _ApiHistory(workspace)
        details = history.details(run_id)
        experiment = Experiment(workspace, details["experiment"])
        return Run._bound(experiment, experiment.name, history, details)._rehydrated(details)

    @staticmethod
    def list(
        experiment: Experiment,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        status: str | None = None,
        include_children: bool = False,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """The experiment's runs, newest first, filtered by type, tags and properties (a name, or {name: value})
        and status; with include_children their child runs too."""
        from fninfer._pipeline_run import _matches

        history = _ApiHistory(experiment.workspace)
        found = history.list_runs(experiment.name, include_children)
        base = Run._bound(experiment, experiment.name, history, {"runId": ""})
        for details in found:
            if _matches(details, tags, properties, type, status):
                yield (
                    base._rehydrated(details)
                    if _rehydrate_runs
                    else Run._bound(experiment, experiment.name, history, details)
                )

    @staticmethod
    def list_by_compute(
        compute: Any,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        status: str | None = None,
    ) -> Iterator[Run]:
        """The runs on a compute target: the ParallelRunSteps that named it, in every experiment."""
        from fninfer._experiment import Experiment

        workspace, name = compute.workspace, compute.name
        for experiment in Experiment.list(workspace):
            for run in Run.list(experiment, type, tags, properties, status, include_children=True):
                if run._details.get("target") == name:
                    yield run

    @staticmethod
    def add_type_provider(runtype: str, run_factory: Any) -> None:
        """Make `run_factory(experiment, details)` build the runs of type `runtype` that listings return."""
        if Run._run_source_initializers.get(runtype) is not None:
            raise ValueError(f"RunType {runtype} already has a factory, can't add another")
        Run._run_source_initializers[runtype] = run_factory

    @classmethod
    def get_docs_url(cls) -> str:
        return docs_url(cls)

    # -- who the run is -------------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._run_id

    @property
    def name(self) -> str | None:
        return self._details.get("name")

    @property
    def display_name(self) -> str | None:
        return self._details.get("displayName") or self._details.get("name") or self._run_id

    @display_name.setter
    def display_name(self, display_name: str) -> None:
        self._details = self._history.update(self._run_id, {"display_name": display_name})

    @property
    def description(self) -> str | None:
        return self._details.get("description")

    @description.setter
    def description(self, description: str) -> None:
        self._details = self._history.update(self._run_id, {"description": description})

    @property
    def type(self) -> str | None:
        """How the run was made: azureml.PipelineRun, azureml.StepRun, azureml.scriptrun (a script's run), or
        None for one started with Experiment.start_logging."""
        return (self._details.get("properties") or {}).get("azureml.runsource")

    @property
    def number(self) -> int:
        """The run's place in its experiment, in the order runs were made (1 for the first)."""
        log.warning("Run Number's semantics may be modified in the future")
        runs = self._history.list_runs(self._experiment_name, include_children=True)
        ordered = sorted(runs, key=lambda run: run.get("createdTimeUtc") or "")
        return next(index for index, run in enumerate(ordered, start=1) if run["runId"] == self._run_id)

    @property
    def experiment(self) -> Experiment:
        if self._experiment is None:
            from fninfer._experiment import Experiment

            history = self._history
            workspace = history.workspace if isinstance(history, _ApiHistory) else _app_workspace()
            self._experiment = Experiment(workspace, self._experiment_name)
        return self._experiment

    def _portal_workspace(self) -> Workspace:
        return self.experiment.workspace

    def get_portal_url(self) -> str:
        """There is no portal: the app's URL of this run's record."""
        return f"{self.portal_url}{self.RUN_PATH.format(self._run_id)}"

    @property
    def parent(self) -> Run | None:
        """The parent run: a step's PipelineRun, a child run's parent; None for a top-level run."""
        if self._parent_run_id is None:
            return None
        return self._rehydrated(self._history.details(self._parent_run_id))

    @property
    def status(self) -> str:
        return str(self._details.get("status"))

    @property
    def tags(self) -> dict[str, str | None]:
        return dict(self._details.get("tags") or {})

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._details.get("properties") or {})

    def get_status(self) -> str:
        self._details = self._history.details(self._run_id)
        return str(self._details["status"])

    def get_detailed_status(self) -> dict[str, Any]:
        """The status, and what it waits for (nothing is ever queued for a node here: None)."""
        return {"status": self.get_status(), "details": None}

    def get_details(self) -> dict[str, Any]:
        """runId, status, startTimeUtc, endTimeUtc, tags, properties, and the experiment and parent run."""
        self._details = self._history.details(self._run_id)
        return dict(self._details)

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        """Wait until the run is Finished, Failed or Canceled and return its details, as Azure ML's; a Failed run
        raises ActivityFailedException with raise_on_error. Returns within a moment of the end: the app answers a
        waiting request as soon as the run's record changes (`wait_post_processing`: nothing runs after a run)."""
        web_view = f"{self.experiment.workspace.config.api_url}/runs/{self._run_id}"
        if show_output:
            print(f"RunId: {self._run_id}\nWeb View: {web_view}", flush=True)
        if isinstance(self._history, _ApiHistory):
            client = self._history.workspace.client
            self._details = _waiting.watch(client, f"runs/{self._run_id}", _run_ended)[0]
        else:  # inside the app: the history is storage itself
            while self.get_status() not in RUN_TERMINAL:
                time.sleep(1.0)
        if show_output:
            print(f"\nExecution Summary\n=================\nRunId: {self._run_id}\nWeb View: {web_view}", flush=True)
        if self._details["status"] == "Failed":
            error = self._details.get("error") or "Detailed error not set on the Run. Please check the logs."
            if raise_on_error:
                raise ActivityFailedException(json.dumps(error, indent=4), run=self._run_id)
            if show_output:
                print(f"\nError:\n{json.dumps(error, indent=4)}", flush=True)
        return dict(self._details)

    def get_children(
        self,
        recursive: bool = False,
        tags: Any = None,
        properties: Any = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """The run's child runs (a pipeline run's step runs, runs made with child_run), filtered by tags and
        properties (a name, or {name: value}), type ('azureml.StepRun') and status; recursive: theirs too."""
        from fninfer._pipeline_run import _matches

        found = []
        for details in self._history.children(self._run_id):
            child = Run._bound(self._experiment, self._experiment_name, self._history, details)
            found.append(child._rehydrated(details) if _rehydrate_runs else child)
            if recursive:
                found.extend(child.get_children(recursive=True, _rehydrate_runs=_rehydrate_runs))
        return iter([run for run in found if _matches(run._details, tags, properties, type, status)])

    @property
    def input_datasets(self) -> dict[str, Any]:
        """A script step's tabular inputs (`dataset.as_named_input(name)`), by name, as datasets to read."""
        from fninfer._dataset import AbstractDataset, _AppWorkspace

        inputs = json.loads(os.environ.get(run_context.INPUT_DATASETS_VARIABLE) or "[]")
        storage = self._history.storage
        return {
            source["name"]: AbstractDataset._from_record(
                _AppWorkspace(storage), {**source, **(source.get("dataset") or {"name": None, "version": None})}
            )
            for source in inputs
        }

    def get_environment(self) -> Any:
        """The environment the run ran in: a step's, by name (registered, or as the step declared it)."""
        raise UserErrorException("There is no run definition or environment specified for the run.")

    def get_snapshot_id(self) -> str | None:
        """The run's code snapshot (a step's, or one taken with take_snapshot)."""
        return self.get_details().get("snapshotId")

    # -- status ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Mark the run started (a run created NotStarted, by create_children)."""
        self._details = self._history.set_status(self._run_id, "start")

    def complete(self, _set_status: bool = True) -> None:
        """Mark the run Completed (everything logged is already written)."""
        if _set_status:
            self._details = self._history.set_status(self._run_id, "complete")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Mark the run Failed, with `error_details` (a message or an exception) and `error_code` as its error."""
        error = _error_details(error_details, error_code)
        action = "fail" if _set_status else "error"
        self._details = self._history.set_status(self._run_id, action, error)

    def cancel(self) -> None:
        """Cancel the run: a pipeline run with its running steps, a step run (its pipeline run fails unless
        continue_on_step_failure), any other run marked Canceled. A run that is over stays as it is."""
        self._details = self._history.set_status(self._run_id, "cancel")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exit_type: Any, value: Any, traceback: Any) -> None:
        """Leaving `with run:` completes the run, or fails it with the exception that ended the block."""
        if value is not None:
            self.fail(error_details=value)
        else:
            self.complete()

    # -- child runs -----------------------------------------------------------------------------------------------

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> Run:
        """A new Running child of this run, in its experiment (its metrics, tags and files are its own)."""
        request = {"run_id": run_id, "parent_run_id": self._run_id, "name": name, "status": "Running"}
        details = self._history.create_run(self._experiment_name, request)
        child = Run._bound(self._experiment, self._experiment_name, self._history, details)
        child._outputs = outputs
        return child

    def create_children(
        self, count: int | None = None, tag_key: str | None = None, tag_values: list[Any] | None = None
    ) -> list[Run]:
        """`count` child runs (tagged azureml.batch_child_number 0, 1, ...) or one per value of tag_values, tagged
        `tag_key`; each started."""
        if tag_key is None and tag_values is None and count is None:
            raise UserErrorException("Either count or tag_key and tag_values must be set")
        if tag_key is not None or tag_values is not None:
            if tag_key is None:
                raise UserErrorException("tag_key must not be null when tag_values is set")
            if tag_values is None:
                raise UserErrorException("tag_values must not be null when tag_key is set")
            if count is not None:
                raise UserErrorException("count can not be set when tag_key and tag_values are set")
            if len(tag_values) > MAX_CHILDREN:
                raise UserErrorException("create_children can not create more than 100 runs")
        if count is not None:
            if count > MAX_CHILDREN:
                raise UserErrorException("create_children can not create more than 100 runs")
            tag_key, tag_values = "azureml.batch_child_number", list(range(count))
        children = []
        for value in tag_values or []:
            request = {"parent_run_id": self._run_id, "status": "Running", "tags": {str(tag_key): str(value)}}
            details = self._history.create_run(self._experiment_name, request)
            children.append(Run._bound(self._experiment, self._experiment_name, self._history, details))
        return children

    def submit_child(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Submit `config` (a pipeline, published pipeline or endpoint) in this run's experiment, as its child."""
        return self.experiment.submit(config, tags=tags, _parent_run_id=self._run_id, **kwargs)

    # -- properties ---------------------------------------------------------------------------------------------

    def add_properties(self, properties: dict[str, str]) -> None:
        """Add immutable properties (setting one again to another value is refused, as in Azure ML)."""
        if properties:
            values = {str(key): str(value) for key, value in properties.items()}
            self._details["properties"] = self._history.add_properties(self._run_id, values)

    def get_properties(self) -> dict[str, str]:
        return dict(self.get_details().get("properties") or {})

    # -- secrets --------------------------------------------------------------------------------------------------

    def get_secret(self, name: str) -> str:
        """A secret of the workspace's key vault: on fninfer an app setting (a Key Vault reference in Azure)."""
        return str(self.experiment.workspace.get_default_keyvault().get_secret(name))

    def get_secrets(self, secrets: list[str]) -> dict[str, str | None]:
        return dict(self.experiment.workspace.get_default_keyvault().get_secrets(secrets))

    # -- logs, snapshots, clean up --------------------------------------------------------------------------------

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: the run's log files (its files under logs/ or azureml-logs/) and their
        text."""
        details = self.get_details()
        logs = {}
        for name in self.get_file_names():
            if name.startswith(("logs/", "azureml-logs/", "user_logs/", "system_logs/")):
                target = Path(tempfile.mkdtemp(prefix="fninfer-log-")) / Path(name).name
                run_history.download_file(self._history.storage, self._run_id, name, target)
                logs[name] = target.read_text(errors="replace")
                shutil.rmtree(target.parent, ignore_errors=True)
        return {**details, "logFiles": logs}

    def get_all_logs(self, destination: str | os.PathLike[str] | None = None) -> list[str]:
        """Write every log of get_details_with_logs() under `destination` (default: ./assets/<run id>)."""
        if destination is not None:
            folder = Path(destination)
            if folder.exists() and not folder.is_dir():
                raise UserErrorException(f"{destination} exists and is not a directory.")
        else:
            folder = Path("assets") / self._run_id
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.get_details_with_logs()["logFiles"].items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(str(target))
        return written

    def take_snapshot(self, file_or_folder_path: str | os.PathLike[str]) -> str:
        """Store the file or folder as the run's code snapshot; its id."""
        from fninfer._snapshot import folder_files, snapshot

        path = Path(file_or_folder_path)
        if path.is_file():
            taken = snapshot(self.experiment.workspace, None, str(path))
        elif path.is_dir():
            files = folder_files(path)
            if not files:
                raise UserErrorException(f"{path} has no files to snapshot")
            taken = snapshot(self.experiment.workspace, str(path), files[0][0])
        else:
            raise UserErrorException(f"{path} is not a file or a folder")
        self._details = self._history.update(self._run_id, {"snapshot_id": taken.manifest["id"]})
        return str(taken.manifest["id"])

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | os.PathLike[str] | None = None) -> str:
        """The snapshot (the run's own by default) as a zip file at `path` (default: ./<snapshot id>.zip)."""
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise UserErrorException(f"run {self._run_id!r} has no snapshot")
        storage = self._history.storage
        prefix = layout.snapshot_prefix(snapshot_id)
        names = storage.list_names(layout.SNAPSHOTS_CONTAINER, prefix)
        if not names:
            raise NotFound(f"snapshot {snapshot_id!r} does not exist", snapshot=snapshot_id)
        target = Path(path) if path is not None else Path(f"{snapshot_id}.zip")
        if target.is_dir():
            target = target / f"{snapshot_id}.zip"
        container = storage.container(layout.SNAPSHOTS_CONTAINER)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                archive.writestr(name[len(prefix) :], container.download_blob(name).readall())
        return str(target)

    def clean(self) -> list[str]:
        """Nothing is left to clean: a step's working folder is removed when its script ends."""
        log.info("Run.clean: run %s left no files on a compute target (step folders are removed as they end)", self.id)
        return []

    # -- metrics ----------------------------------------------------------------------------------------------------

    def _log(self, name: str, kind: str, value: Any, description: str | None, step: int | None = None) -> None:
        entry = {"name": name, "kind": kind, "value": value, "description": description or "", "step": step}
        self._history.log(self._run_id, [entry])

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a number or a string; logging the same name again makes it a list of values."""
        if isinstance(value, list | range | tuple) or hasattr(value, "__next__"):
            raise InvalidInput("run.log does not support list type. Use run.log_list instead", field="value")
        self._log(name, "scalar", _json_scalar(value), description, step)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        self._log(name, "list", [_json_scalar(item) for item in value], description)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """One row of the table `name`, its columns as keyword arguments."""
        self._log(name, "row", {key: _json_scalar(item) for key, item in kwargs.items()}, description)

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        """A table {column: [values]}."""
        if not isinstance(value, dict):
            raise InvalidInput("log_table takes a dict of columns", field="value")
        table = {key: [_json_scalar(item) for item in items] for key, items in value.items()}
        self._log(name, "table", table, description)

    def log_image(
        self, name: str, path: str | os.PathLike[str] | None = None, plot: Any = None, description: str = ""
    ) -> None:
        """An image file (`path`) or a matplotlib plot (`plot`), stored among the run's files; the metric names it."""
        if (path is None) == (plot is None):
            raise InvalidInput("log_image takes either a path or a plot", field="path")
        if plot is not None:
            buffer = io.BytesIO()
            plot.savefig(buffer, format="png")
            buffer.seek(0)
            source: str | os.PathLike[str] | IO[bytes] = buffer
            suffix = ".png"
        else:
            source, suffix = path, Path(str(path)).suffix or ".png"  # type: ignore[assignment]
        file_name = layout.run_image_name(name, uuid.uuid4().hex[:8], suffix)
        run_history.upload_file(self._history.storage, self._run_id, file_name, source)
        self._log(name, "image", file_name, description)

    def _log_artifact(self, name: str, schema_type: str, value: str | dict[str, Any], description: str) -> None:
        """A JSON metric (confusion matrix, accuracy table, residuals, predictions) stored among the run's files as
        Azure ML stores it in its artifact store; get_metrics names the file, get_metrics(populate=True) reads it."""
        document = json.loads(value) if isinstance(value, str) else value
        if not isinstance(document, dict) or "data" not in document:
            raise UserErrorException(f"{_ARTIFACT_METRICS[schema_type]} takes JSON with schema_type and data")
        if document.get("schema_type", schema_type) != schema_type:
            raise UserErrorException(
                f"{_ARTIFACT_METRICS[schema_type]} takes schema_type {schema_type!r}, not {document['schema_type']!r}"
            )
        document = {"schema_type": schema_type, **document}
        file_name = layout.run_artifact_name(name, uuid.uuid4().hex[:8])
        payload = io.BytesIO(json.dumps(document).encode())
        run_history.upload_file(self._history.storage, self._run_id, file_name, payload)
        self._log(name, "artifact", file_name, description)

    def log_confusion_matrix(self, name: str, value: str | dict[str, Any], description: str = "") -> None:
        """{"schema_type": "confusion_matrix", "schema_version": "1.0.0", "data": {"class_labels", "matrix"}}."""
        self._log_artifact(name, "confusion_matrix", value, description)

    def log_accuracy_table(self, name: str, value: str | dict[str, Any], description: str = "") -> None:
        self._log_artifact(name, "accuracy_table", value, description)

    def log_residuals(self, name: str, value: str | dict[str, Any], description: str = "") -> None:
        self._log_artifact(name, "residuals", value, description)

    def log_predictions(self, name: str, value: str | dict[str, Any], description: str = "") -> None:
        self._log_artifact(name, "predictions", value, description)

    def get_metrics(
        self, name: str | None = None, recursive: bool = False, run_type: str | None = None, populate: bool = False
    ) -> dict[str, Any]:
        """The metrics logged to the run (only `name`'s when given); recursive: {run id: metrics} for the run and
        its children. populate: JSON metrics (confusion matrices, ...) as their content rather than their file."""
        return self._history.metrics(self._run_id, name, recursive, populate)

    def flush(self, timeout_seconds: int = 300) -> None:
        """Every log call is written when it returns: nothing is left to flush."""

    # -- tags -------------------------------------------------------------------------------------------------------

    def tag(self, key: str, value: str | None = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, str | None] | str) -> None:
        """Add or change tags (a string is a tag without a value); other tags are left as they are."""
        mapping = {tags: None} if isinstance(tags, str) else {k: None if v is None else str(v) for k, v in tags.items()}
        self._details["tags"] = self._history.set_tags(self._run_id, mapping)

    def get_tags(self) -> dict[str, str | None]:
        """The run's tags as the app has them now (a pipeline run's: those submitted and set since, from anywhere)."""
        tags = self._history.tags(self._run_id)
        self._details["tags"] = tags
        return dict(tags)

    def remove_tags(self, tags: list[str]) -> None:
        self._details["tags"] = self._history.remove_tags(self._run_id, list(tags))

    # -- files ------------------------------------------------------------------------------------------------------

    def upload_file(
        self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes], datastore_name: str | None = None
    ) -> str:
        """Store a file under the run as `name` (e.g. 'outputs/model.pkl'); names are written once."""
        return run_history.upload_file(self._history.storage, self._run_id, name, path_or_stream)

    def upload_files(
        self,
        names: list[str],
        paths: list[str | os.PathLike[str]],
        return_artifacts: bool = False,
        timeout_seconds: int | None = None,
        datastore_name: str | None = None,
    ) -> list[str]:
        if len(names) != len(paths):
            raise InvalidInput(f"names and paths must be lists of equal lengths ({len(names)} and {len(paths)})")
        return [self.upload_file(name, path) for name, path in zip(names, paths, strict=True)]

    def upload_folder(self, name: str, path: str | os.PathLike[str], datastore_name: str | None = None) -> list[str]:
        """Store every file under the folder `path` as `<name>/<its path in the folder>`."""
        folder = Path(path)
        if not folder.is_dir():
            raise InvalidInput(f"{str(folder)!r} is not a folder", field="path")
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        prefix = name.strip("/")
        return [self.upload_file(f"{prefix}/{file.relative_to(folder).as_posix()}", file) for file in files]

    def get_file_names(self) -> list[str]:
        return run_history.file_names(self._history.storage, self._run_id)

    def download_file(
        self, name: str, output_file_path: str | os.PathLike[str] | None = None, _validate_checksum: bool = False
    ) -> str:
        """Download the run's file `name` to `output_file_path` (a file, or a folder to put it in; by default its
        base name in the current folder)."""
        target = Path(output_file_path) if output_file_path is not None else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        return run_history.download_file(self._history.storage, self._run_id, name, target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike[str] | None = None,
        output_paths: list[str] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: int | None = None,
    ) -> list[str]:
        """Download the files under `prefix` (all of them by default) into `output_directory`."""
        names = [n for n in self.get_file_names() if prefix is None or n.startswith(prefix)]
        if output_paths is not None and len(output_paths) != len(names):
            raise InvalidInput(f"output_paths has {len(output_paths)} paths for {len(names)} files")
        folder = Path(output_directory or ".")
        written = []
        for index, name in enumerate(names):
            relative = name if append_prefix or not prefix else name[len(prefix) :].lstrip("/")
            target = Path(output_paths[index]) if output_paths is not None else folder / relative
            written.append(run_history.download_file(self._history.storage, self._run_id, name, target))
        return written

    # -- models -----------------------------------------------------------------------------------------------------

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        datasets: list[tuple[str, Any]] | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        **kwargs: Any,
    ) -> Model:
        """Register the run's file or folder `model_path` (e.g. 'outputs/model.pkl'; the model's name by default)
        as the next version of `model_name`, as `Model.register` does from a local path."""
        from fninfer._model import Model

        request = {
            "model_name": model_name,
            "model_path": model_path,
            "tags": None if tags is None else validators.string_map(tags),
            "properties": None if properties is None else validators.string_map(properties, "properties"),
            "model_framework": model_framework,
            "model_framework_version": model_framework_version,
            "description": description,
            "datasets": [[relationship, _dataset_id(dataset)] for relationship, dataset in datasets or []],
        }
        record = self._history.register_model(self._run_id, request)
        return Model._from_record(self.experiment.workspace, record)

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._experiment_name}, Id: {self._run_id}, Status: {self.status})"


class _SubmittedRun(Run):
    """What `Run.get_context()` is in a script step or an entry script, as Azure ML's `_SubmittedRun`: the run's
    status is the system's (the script's exit decides it), so complete() only flushes, fail() records the error
    without changing the status, and cancel() does nothing. To stop the pipeline, cancel it: `run.parent.cancel()`."""

    def complete(self, _set_status: bool = True) -> None:
        log.info("complete is not setting status for submitted runs.")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        log.info("fail is not setting status for submitted runs.")
        super().fail(error_details, error_code, _set_status=False)

    def cancel(self) -> None:
        log.warning("cancel is not supported for submitted runs.")

    def __exit__(self, exit_type: Any, value: Any, traceback: Any) -> None:
        self.complete()


def _dataset_id(dataset: Any) -> str:
    """A registered dataset as 'name:version' (what a model's properties record), or its text as given."""
    name, version = getattr(dataset, "name", None), getattr(dataset, "version", None)
    return f"{name}:{version}" if name else str(dataset)


class _OfflineRun:
    """What `Run.get_context()` returns outside fninfer: it prints what it is asked to log or upload (Azure ML's
    `_OfflineRun`, message for message)."""

    def __init__(self, parent_logger: Any = None, run_id: str | None = None, **kwargs: Any) -> None:
        self._run_id = f"OfflineRun_{uuid.uuid4()}" if run_id is None else run_id

    @property
    def id(self) -> str:
        return self._run_id

    def add_properties(self, properties: dict[str, str]) -> None:
        print(f"Attempted to add properties {properties}")

    def set_tags(self, tags: dict[str, str]) -> None:
        print(f"Attempted to set tags {tags}")

    def tag(self, name: str, value: str | None = None) -> None:
        print(f"Attempted to add tag {name} with value {value}")

    def complete(self) -> None:
        pass

    def fail(self, error_details: Any = None, error_code: Any = None) -> None:
        print(f"Run failed with error code {error_code}:\n{error_details}")

    def cancel(self) -> None:
        pass

    def log(self, name: str, value: Any, description: str = "") -> None:
        self._emit("scalar", name, value)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        self._emit("list", name, value)

    def log_table(self, name: str, value: Any, description: str = "") -> None:
        self._emit("table", name, value)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._emit("row", name, kwargs)

    def log_image(self, name: str, path: Any = None, plot: Any = None, description: str = "") -> None:
        self._emit("image", name, plot or path)

    def upload_folder(self, name: str, path: Any, datastore_name: str | None = None) -> None:
        print(f"Attempted to track folder {name} at {path}")

    def upload_files(
        self,
        name: Any,
        paths: Any,
        return_artifacts: bool = False,
        timeout_seconds: int | None = None,
        datastore_name: str | None = None,
    ) -> None:
        print(f"Attempted to track files {name} at {paths} with timeout {timeout_seconds}s")

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        print(f"Attempted to track file {name} at {path_or_stream}")

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> _OfflineRun:
        child = str(uuid.uuid4()) if name is None else name
        return _OfflineRun(run_id=f"{self.id}.{child}" if run_id is None else run_id)

    def flush(self) -> None:
        print(f"Attempted to flush run with id {self.id}")

    def __enter__(self) -> _OfflineRun:
        print(f"[START] Run {self.id} context")
        return self

    def __exit__(self, *exc: object) -> None:
        print(f"[STOP] Run {self.id} context")

    def _emit(self, kind: str, name: str, value: Any) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}")

    def __repr__(self) -> str:
        return f"_OfflineRun(id={self._run_id!r})"
