"""`Run`: a run's identity, metrics, tags, files and models registered from it, as `azureml.core.Run`.

Inside fninfer (an entry script's `init()`/`run()`, a script step) `Run.get_context()` is the run the engine
activated around the code (`shared/run_context.py`), and it writes straight to the app's storage through
`shared/run_history.py`. Outside, `Run(experiment, run_id)` and `Run.get(ws, run_id)` read and write the same history
through the app's API (files go straight to storage, as model and datastore uploads do), and `Run.get_context()`
returns an `_OfflineRun` that prints what it would have logged, as Azure ML's does.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from fninfer import _waiting
from fninfer._exceptions import ActivityFailedException, RunEnvironmentException
from shared import layout, run_context, run_history
from shared.errors import InvalidInput
from shared.settings import ADMIN_KEY, get_setting, storage_connection
from shared.storage import Storage, app_storage

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

    def metrics(self, run_id: str, name: str | None, recursive: bool) -> dict[str, Any]: ...

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> dict[str, str | None]: ...

    def remove_tags(self, run_id: str, keys: list[str]) -> dict[str, str | None]: ...

    def tags(self, run_id: str) -> dict[str, str | None]: ...

    def register_model(self, run_id: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def children(self, run_id: str) -> list[dict[str, Any]]: ...


class _StorageHistory:
    """Inside the app: the history functions on the app's storage, no HTTP."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def details(self, run_id: str) -> dict[str, Any]:
        return run_history.describe(self.storage, run_id)

    def log(self, run_id: str, entries: list[dict[str, Any]]) -> None:
        run_history.log_metrics(self.storage, run_id, entries)

    def metrics(self, run_id: str, name: str | None, recursive: bool) -> dict[str, Any]:
        return run_history.metrics(self.storage, run_id, name, recursive)

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


class _ApiHistory:
    """Outside the app: the app's `runs/<id>/...` API; files straight to the workspace's storage."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def storage(self) -> Storage:
        return self.workspace.storage

    def details(self, run_id: str) -> dict[str, Any]:
        return dict(self.workspace.client.request("GET", f"runs/{run_id}"))

    def log(self, run_id: str, entries: list[dict[str, Any]]) -> None:
        self.workspace.client.request("POST", f"runs/{run_id}/metrics", json={"metrics": entries})

    def metrics(self, run_id: str, name: str | None, recursive: bool) -> dict[str, Any]:
        params = {"recursive": str(recursive).lower(), **({"name": name} if name is not None else {})}
        return dict(self.workspace.client.request("GET", f"runs/{run_id}/metrics", params=params))

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> dict[str, str | None]:
        return dict(self.workspace.client.request("POST", f"runs/{run_id}/tags", json={"tags": tags}))

    def remove_tags(self, run_id: str, keys: list[str]) -> dict[str, str | None]:
        return dict(self.workspace.client.request("POST", f"runs/{run_id}/tags/remove", json={"keys": keys}))

    def tags(self, run_id: str) -> dict[str, str | None]:
        return dict(self.workspace.client.request("GET", f"runs/{run_id}/tags"))

    def register_model(self, run_id: str, request: dict[str, Any]) -> dict[str, Any]:
        from fninfer._model import REGISTER_TIMEOUT

        answer = self.workspace.client.request("POST", f"runs/{run_id}/models", json=request, timeout=REGISTER_TIMEOUT)
        return dict(answer)

    def children(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.workspace.client.request("GET", f"runs/{run_id}/children"))


def _app_workspace(storage: Storage) -> Workspace:
    """The workspace code running inside the app sees as `run.experiment.workspace`: the config beside it (the local
    host writes one), else the app itself, with the storage the run's history is in."""
    from fninfer._config import WorkspaceConfig
    from fninfer._workspace import Workspace

    try:
        return Workspace.from_config()
    except InvalidInput:
        hostname = os.environ.get("WEBSITE_HOSTNAME", "localhost")
        workspace = Workspace(WorkspaceConfig(endpoint=f"https://{hostname}", admin_key=get_setting(ADMIN_KEY)))
        workspace.__dict__["storage"] = storage  # the cached property, preset: the app's identity or key
        return workspace


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


class Run:
    """Mirrors `azureml.core.Run`. Metrics: a value logged once reads back as that value, logged again as a list of
    every value; `log_list` values are lists; `log_row` and `log_table` build {column: [values]} tables."""

    def __init__(self, experiment: Experiment, run_id: str, outputs: Any = None, **kwargs: Any) -> None:
        self._experiment: Experiment | None = experiment
        self._experiment_name = experiment.name
        self._run_id = run_id
        self._history: _History = _ApiHistory(experiment.workspace)
        self._details: dict[str, Any] = kwargs.get("_details") or self._history.details(run_id)
        self._parent_run_id: str | None = self._details.get("parentRunId")

    # -- finding runs ---------------------------------------------------------------------------------------------

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Any:
        """The run the code runs in: inside fninfer the step or entry script's run; elsewhere an offline run that
        prints what it is given (or RunEnvironmentException with allow_offline=False)."""
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
        run = cls.__new__(cls)
        run._experiment = None
        run._experiment_name = context.experiment_name
        run._run_id = context.run_id
        run._history = history
        run._parent_run_id = context.parent_run_id
        run._details = {"runId": context.run_id, "status": run_history.ACTIVATED_STATUS, "name": context.name}
        return run

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        """The run with this id, whichever experiment it is in."""
        from fninfer._experiment import Experiment

        details = _ApiHistory(workspace).details(run_id)
        return Run(Experiment(workspace, details["experiment"]), run_id, _details=details)

    # -- who the run is -------------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._run_id

    @property
    def name(self) -> str | None:
        return self._details.get("name")

    @property
    def display_name(self) -> str | None:
        return self._details.get("name") or self._run_id

    @property
    def experiment(self) -> Experiment:
        if self._experiment is None:
            from fninfer._experiment import Experiment

            history = self._history
            workspace = history.workspace if isinstance(history, _ApiHistory) else _app_workspace(history.storage)
            self._experiment = Experiment(workspace, self._experiment_name)
        return self._experiment

    @property
    def parent(self) -> Run | None:
        """The parent run (a step run's pipeline run), or None."""
        if self._parent_run_id is None:
            return None
        parent = Run.__new__(Run)
        parent._experiment = self._experiment
        parent._experiment_name = self._experiment_name
        parent._run_id = self._parent_run_id
        parent._history = self._history
        parent._details = self._history.details(self._parent_run_id)
        parent._parent_run_id = parent._details.get("parentRunId")
        return parent

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
        """The run's child runs (a pipeline run's step runs), filtered by tags and properties (a name, or
        {name: value}), type ('azureml.StepRun') and status; recursive: their children too."""
        from fninfer._pipeline_run import _matches

        found = []
        for details in self._history.children(self._run_id):
            child = Run.__new__(Run)
            child._experiment, child._experiment_name = self._experiment, self._experiment_name
            child._run_id, child._history, child._details = details["runId"], self._history, details
            child._parent_run_id = self._run_id
            found.append(child)
            if recursive:
                found.extend(child.get_children(recursive=True))
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

    def get_metrics(
        self, name: str | None = None, recursive: bool = False, run_type: str | None = None, populate: bool = False
    ) -> dict[str, Any]:
        """The metrics logged to the run (only `name`'s when given); recursive: {run id: metrics} for the run and
        its step runs."""
        return self._history.metrics(self._run_id, name, recursive)

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
        self._details["tags"] = self._history.tags(self._run_id)
        return dict(self._details["tags"])

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
            "tags": tags,
            "properties": properties,
            "model_framework": model_framework,
            "model_framework_version": model_framework_version,
            "description": description,
            "datasets": [[relationship, _dataset_id(dataset)] for relationship, dataset in datasets or []],
        }
        record = self._history.register_model(self._run_id, request)
        return Model._from_record(self.experiment.workspace, record)

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._experiment_name}, Id: {self._run_id}, Status: {self.status})"


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
