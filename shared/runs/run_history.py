"""A run's history: who it is, what it logged (metrics), how it is tagged, the files it uploaded, and models
registered from those files (Azure ML's Run History service and artifact store, on blob storage).

Everything is keyed by run id (`shared/core/layout.py`, "run history"): the ids of pipeline runs and of their step runs,
so a pipeline run's record and its history meet on the same id.

Metrics are one JSON line per `run.log*` call, appended to an append blob: an append is atomic, so many mini-batches
on many instances can log to one run at once without a lock or a lost update, and lines keep the order they arrived
in. An append blob takes 50,000 appends; the log then continues in the next part. `metrics()` folds the lines as
Azure ML's `get_metrics()` shows them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, NotRequired, TypedDict, cast

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, Conflict, FninferError, InvalidInput, NotFound, PayloadTooLarge
from shared.core.hashing import sha256_chunks
from shared.core.storage import Record, Storage, read_at_once, storage_errors
from shared.registry import models
from shared.runs import run_index
from shared.runs.run_records import RunRecord, step_run_ids

METRIC_KINDS = ("scalar", "list", "row", "table", "image", "artifact")
#: One logged value, as a JSON line; an append block takes 4 MiB.
MAX_METRIC_BYTES = 1024 * 1024
#: What one run.log*() request may carry (the SDK batches what it has not sent yet).
MAX_METRICS_PER_REQUEST = 1000
#: The status of a run known only from its history (activated around user code, no engine record yet).
ACTIVATED_STATUS = "Running"
#: The statuses of a run that lives only in the run history (Experiment.start_logging, child runs), as Azure ML's
#: Run History spells them; the terminal ones never change.
HISTORY_STATUSES = ("NotStarted", "Running", "Completed", "Failed", "Canceled")
HISTORY_TERMINAL = ("Completed", "Failed", "Canceled")
#: The run type of a script's run (Azure ML's `ScriptRun.RUN_TYPE`): a run submitted from a ScriptRunConfig, whose
#: engine record says so (`run_type`, shared/pipelines/scripts/script_run.py), or a run only activated around a script.
SCRIPT_RUN_TYPE = "azureml.scriptrun"
#: What each status action moves a history run to.
STATUS_ACTIONS = {"start": "Running", "complete": "Completed", "fail": "Failed", "cancel": "Canceled"}


class ReportedError(TypedDict):
    """A run's error as its code reported it (`run.fail()`, a run that lives in the run history only)."""

    message: str
    code: str | None


class RunInfo(TypedDict):
    """A run's history record (`layout.run_info`): written when the run is first activated or created, or when the
    history is first changed for a pipeline or step run that was never activated (from its engine record)."""

    id: str
    experiment: str
    parent_run_id: str | None
    name: str | None
    created_time: str
    # a run that lives in the run history only (create_run) has these from the start; status and times change
    display_name: NotRequired[str | None]
    description: NotRequired[str | None]
    start_time: NotRequired[str | None]
    end_time: NotRequired[str | None]
    status: NotRequired[str]  # one of HISTORY_STATUSES
    properties: NotRequired[dict[str, str]]
    history_only: NotRequired[bool]  # true: no engine record will ever say more about the run
    # set on any run's history (set_status, record_error, update_run)
    error: NotRequired[ReportedError]
    snapshot_id: NotRequired[str | None]


class RunEdits(TypedDict, total=False):
    """What `update_run` may change of a run's history record."""

    display_name: str | None
    description: str | None
    snapshot_id: str | None


class RunDetails(TypedDict):
    """A run as `Run.get_details()` shows it (`describe`): Azure ML's names, from the history and engine records."""

    runId: str
    experiment: str | None
    parentRunId: str | None
    name: str | None
    displayName: str | None
    description: str | None
    status: str
    createdTimeUtc: str | None
    startTimeUtc: str | None
    endTimeUtc: str | None
    tags: dict[str, str | None]
    properties: dict[str, str]
    error: Any  # the engine's RunError or the history's ReportedError, or None
    snapshotId: Any  # the history's snapshot id, else the step's snapshot (its manifest) or None
    target: str


class MetricEntry(TypedDict):
    """One logged value: a JSON line of the run's metrics log (`layout.run_metrics_part`)."""

    name: str
    kind: str  # one of METRIC_KINDS
    value: Any  # a scalar, a list of them, or a row or table of them ({column: value or [values]})
    description: str
    step: int | None
    time: str


class Experiment(TypedDict):
    """An experiment's record (`layout.experiment_record`)."""

    name: str
    id: str
    created_time: str
    tags: dict[str, str | None]
    archived_time: str | None


# -- who the run is -------------------------------------------------------------------------------------------------


def record_run(storage: Storage, run_id: str, experiment: str, parent_run_id: str | None, name: str | None) -> None:
    """Record the run once (If-None-Match): the first activation (run_context.py) writes it (and lists it under its
    experiment), later ones find it."""
    record: RunInfo = {
        "id": run_id,
        "experiment": experiment,
        "parent_run_id": parent_run_id,
        "name": name,
        "created_time": clock.stamp(),
    }
    try:
        storage.create_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id), record)
    except ConcurrencyConflict:
        return
    _list_under_experiment(storage, experiment, run_id)


def _list_under_experiment(storage: Storage, experiment: str, run_id: str) -> None:
    ensure_experiment(storage, experiment)
    storage.put_json(layout.REGISTRY_CONTAINER, layout.experiment_run_marker(experiment, run_id), {})


def create_run(storage: Storage, experiment: object, request: dict[str, Any]) -> RunDetails:
    """A run that lives in the run history only (`Experiment.start_logging`, `run.child_run`, `create_children`):
    Running unless `status` is NotStarted; `run_id` chosen by the caller or made here."""
    name = validators.validate_name("experiment", experiment)
    run_id = request.get("run_id")
    run_id = uuid.uuid4().hex if run_id is None else validators.validate_name("run", run_id)
    if _engine_record(storage, run_id) is not None:
        raise Conflict(f"run {run_id!r} already exists (a pipeline or step run)", run=run_id)
    parent = request.get("parent_run_id")
    if parent is not None:
        require_run(storage, parent)
    status = request.get("status") or "Running"
    if status not in ("NotStarted", "Running"):
        raise InvalidInput("a new run's status is NotStarted or Running", field="status")
    for field in ("name", "display_name", "description"):
        validators.optional_text(request.get(field), field)
    created = clock.stamp()
    record: RunInfo = {
        "id": run_id,
        "experiment": name,
        "parent_run_id": parent,
        "name": request.get("name"),
        "display_name": request.get("display_name"),
        "description": request.get("description"),
        "created_time": created,
        "start_time": created if status == "Running" else None,
        "end_time": None,
        "status": status,
        "properties": validators.string_values(request.get("properties"), "properties", keys="strings"),
        "history_only": True,
    }
    tags = validators.history_tags(request.get("tags") or {})
    try:
        storage.create_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id), record)
    except ConcurrencyConflict as exc:
        raise Conflict(f"run {run_id!r} already exists", run=run_id) from exc
    if tags:
        _change_tags(storage, run_id, lambda current: {**current, **tags})
    if parent is not None:
        storage.put_json(layout.RUN_HISTORY_CONTAINER, layout.run_child_marker(parent, run_id), {})
    _list_under_experiment(storage, name, run_id)
    return describe(storage, run_id)


def _change_info(storage: Storage, run_id: str, change: Callable[[RunInfo], object]) -> RunInfo:
    """Read-modify-write the run's history record (created for a run the engine knows but the history does not
    yet: a pipeline run that was never activated)."""

    def changed(current: RunInfo | None) -> RunInfo:
        if current is None:
            engine = _engine_record(storage, run_id)
            if engine is None:
                raise NotFound(f"run {run_id!r} does not exist", run=run_id)
            current = {
                "id": run_id,
                "experiment": engine["experiment"],
                "parent_run_id": engine.get("parent"),
                "name": engine.get("name"),
                "created_time": engine["created_time"],
            }
        change(current)
        return current

    return storage.upsert_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id), changed)


def set_status(storage: Storage, run_id: str, action: object, error: object = None) -> RunDetails:
    """Start, complete, fail or cancel a run that lives in the run history only; a run in a terminal status keeps
    it (as Run History does). A pipeline or step run's status is the engine's: refused here, naming why."""
    require_run(storage, run_id)
    if not isinstance(action, str) or action not in STATUS_ACTIONS:
        raise InvalidInput(f"'action' must be one of {sorted(STATUS_ACTIONS)}", field="action")
    if _engine_record(storage, run_id) is not None:
        raise Conflict(
            f"run {run_id!r} is a pipeline, step or script run: its status is managed by the engine, as Azure "
            "ML's is by its backend (cancel it with run.cancel())",
            run=run_id,
        )
    target = STATUS_ACTIONS[action]
    checked = None if error is None else _error(error)

    def change(record: RunInfo) -> None:
        current = record.get("status") or ACTIVATED_STATUS
        if current in HISTORY_TERMINAL:
            return
        record["status"] = target
        if target == "Running" and not record.get("start_time"):
            record["start_time"] = clock.stamp()
        if target in HISTORY_TERMINAL:
            record["end_time"] = clock.stamp()
        if target == "Failed" and checked is not None:
            record["error"] = checked

    _change_info(storage, run_id, change)
    return describe(storage, run_id)


def _error(error: object) -> ReportedError:
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("message"), str)
        or not isinstance(error.get("code"), str | None)
    ):
        raise InvalidInput("'error' must be an object {message: text, code: text or null}", field="error")
    return {"message": error["message"], "code": error.get("code")}


def record_error(storage: Storage, run_id: str, error: object) -> RunDetails:
    """Set the run's error without changing its status: what `run.fail()` does in a script Azure ML runs (a
    submitted run's status is the system's: the script's exit decides it)."""
    require_run(storage, run_id)
    checked = _error(error)
    _change_info(storage, run_id, lambda record: record.update({"error": checked}))
    return describe(storage, run_id)


def add_properties(storage: Storage, run_id: str, properties: object) -> dict[str, str]:
    """Add properties; they are immutable, as Azure ML's: setting one again to another value is refused."""
    require_run(storage, run_id)
    added = validators.string_values(properties, "properties", absent="refused", keys="strings")

    def change(record: RunInfo) -> None:
        current = dict(record.get("properties") or {})
        for key, value in added.items():
            if key in current and current[key] != value:
                raise Conflict(
                    f"run property {key!r} is already {current[key]!r}: properties are immutable", property=key
                )
        record["properties"] = {**current, **added}

    _change_info(storage, run_id, change)
    return describe(storage, run_id)["properties"]


def update_run(storage: Storage, run_id: str, changes: object) -> RunDetails:
    """Set the run's display name, description or snapshot id."""
    require_run(storage, run_id)
    if not isinstance(changes, dict):
        raise InvalidInput("the changes must be an object", field="changes")
    allowed = {"display_name", "description", "snapshot_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"a run's {sorted(unknown)} cannot be changed; only {sorted(allowed)}", field="changes")
    for key, value in changes.items():
        validators.optional_text(value, key)
    edits = cast(RunEdits, changes)  # checked above: only RunEdits' keys, each a string or None
    _change_info(storage, run_id, lambda record: record.update(edits))
    return describe(storage, run_id)


def _engine_record(storage: Storage, run_id: str) -> RunRecord | None:
    """The engine's record of a pipeline run or of one of its step runs (shared/runs/run_records.py)."""
    record: RunRecord | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    return record


def _properties(record: RunRecord | None, info: Mapping[str, Any]) -> dict[str, str]:
    if record is None:
        return {} if info.get("history_only") else {"azureml.runsource": SCRIPT_RUN_TYPE}
    if record.get("run_type") == SCRIPT_RUN_TYPE:
        return {"azureml.runsource": SCRIPT_RUN_TYPE}
    if record.get("parent"):
        return {"azureml.runsource": "azureml.StepRun", "StepType": str(record.get("type") or "")}
    return {"azureml.runsource": "azureml.PipelineRun"}


def describe(storage: Storage, run_id: str) -> RunDetails:
    """The run as `Run.get_details()` shows it. The engine's record (a pipeline run's or a step run's) gives the
    status and times; a run that lives in the history only has its own; a run only activated is Running."""
    validators.validate_name("run", run_id)
    return _details(storage, run_id, _engine_record(storage, run_id))


def _details(storage: Storage, run_id: str, record: RunRecord | None) -> RunDetails:
    """describe() of a run whose engine record (None: it has none) was read already."""
    stored: RunInfo | None
    stored, _ = storage.try_read_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id))
    if stored is None and record is None:
        raise NotFound(f"run {run_id!r} does not exist", run=run_id)
    # Either record may be missing: each field is taken from whichever has it.
    info: Mapping[str, Any] = stored or {}
    source: Mapping[str, Any] = record or {}
    return {
        "runId": run_id,
        "experiment": source.get("experiment") or info.get("experiment"),
        "parentRunId": source.get("parent") or info.get("parent_run_id"),
        "name": source.get("name") or info.get("name"),
        "displayName": info.get("display_name") or source.get("name") or info.get("name"),
        "description": info.get("description"),
        "status": source.get("status") or info.get("status") or ACTIVATED_STATUS,
        "createdTimeUtc": source.get("created_time") or info.get("created_time"),
        "startTimeUtc": source.get("start_time") or info.get("start_time") or info.get("created_time"),
        "endTimeUtc": source.get("end_time") or info.get("end_time"),
        "tags": _tags(storage, run_id, record),
        "properties": {**_properties(record, info), **(info.get("properties") or {})},
        "error": source.get("error") or info.get("error"),
        "snapshotId": info.get("snapshot_id") or (source.get("step") or {}).get("snapshot"),
        "target": _target(record),
    }


def _target(record: RunRecord | None) -> str:
    """Where the run ran, as Azure ML's `target`: a ParallelRunStep's compute target, else the app ("local" for a
    run that lives in the run history only: the caller's own process)."""
    if record is None:
        return "local"
    step = record.get("step") or {}
    return str((step.get("config") or {}).get("compute_target") or step.get("compute_target") or "fninfer")


def list_runs(storage: Storage, experiment: object, include_children: bool = False) -> list[RunDetails]:
    """An experiment's runs, newest first: those recorded in the run history and the pipeline runs (with their
    step runs when include_children); top-level runs only unless include_children. The pipeline runs come from the
    run index, so listing one experiment does not read the records of every other experiment's runs."""
    name = validators.validate_name("experiment", experiment)
    ids = [
        path.rsplit("/", 1)[1]
        for path in storage.list_names(layout.REGISTRY_CONTAINER, layout.experiment_runs_prefix(name))
    ]
    ids += run_index.experiments_runs(storage).get(name, [])
    ids = list(dict.fromkeys(ids))

    def read(run_id: str) -> tuple[RunDetails | None, RunRecord | None]:
        record = _engine_record(storage, run_id)
        try:
            return _details(storage, run_id, record), record
        except NotFound:  # deleted meanwhile
            return None, record

    found: dict[str, RunDetails] = {}
    steps: list[str] = []
    for run_id, (details, record) in zip(ids, read_at_once(read, ids), strict=True):
        if details is not None:
            found[run_id] = details
        if include_children and record is not None:
            steps += step_run_ids(record)
    steps = [step_id for step_id in dict.fromkeys(steps) if step_id not in found]
    for step_id, (details, _) in zip(steps, read_at_once(read, steps), strict=True):
        if details is not None:
            found[step_id] = details
    runs = [run for run in found.values() if include_children or not run["parentRunId"]]
    return sorted(runs, key=lambda run: run.get("createdTimeUtc") or "", reverse=True)


def child_ids(storage: Storage, run_id: str) -> list[str]:
    """The run's children: a pipeline run's step runs, and the child runs made with `run.child_run()`."""
    record = _engine_record(storage, run_id)
    steps = step_run_ids(record) if record else []
    prefix = layout.run_children_prefix(run_id)
    made = [path[len(prefix) :] for path in storage.list_names(layout.RUN_HISTORY_CONTAINER, prefix)]
    return steps + made


def require_run(storage: Storage, run_id: str) -> None:
    """NotFound naming the run unless it exists (in the history, or as a pipeline run)."""
    validators.validate_name("run", run_id)
    info, _ = storage.try_read_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id))
    if info is None and _engine_record(storage, run_id) is None:
        raise NotFound(f"run {run_id!r} does not exist", run=run_id)


# -- metrics --------------------------------------------------------------------------------------------------------


def _scalar(name: str, value: object) -> object:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN and infinities are not JSON: kept as text
    raise InvalidInput(f"metric {name!r}: {value!r} is not a number or a string", field="value")


def metric_entry(document: object) -> MetricEntry:
    """One logged value, checked: {name, kind, value, description, step}."""
    if not isinstance(document, dict):
        raise InvalidInput("each metric must be an object {name, kind, value}", field="metrics")
    name, kind, value = document.get("name"), document.get("kind", "scalar"), document.get("value")
    name = validators.validate_printable_name("metric", name)
    if kind not in METRIC_KINDS:
        raise InvalidInput(f"metric {name!r}: kind must be one of {list(METRIC_KINDS)}", field="kind")
    if kind in ("scalar", "image", "artifact"):
        value = _scalar(name, value)
    elif kind == "list":
        if not isinstance(value, list):
            raise InvalidInput(f"metric {name!r}: log_list takes a list", field="value")
        value = [_scalar(name, item) for item in value]
    elif kind == "row":
        if not isinstance(value, dict) or not value:
            raise InvalidInput(f"metric {name!r}: log_row takes columns as keyword arguments", field="value")
        value = {str(column): _scalar(name, item) for column, item in value.items()}
    else:
        if not isinstance(value, dict) or not all(isinstance(column, list) for column in value.values()):
            raise InvalidInput(f"metric {name!r}: log_table takes a dict of columns (lists)", field="value")
        value = {str(column): [_scalar(name, item) for item in items] for column, items in value.items()}
    step = document.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise InvalidInput(f"metric {name!r}: step must be an integer", field="step")
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise InvalidInput(f"metric {name!r}: description must be a string", field="description")
    return {"name": name, "kind": kind, "value": value, "description": description, "step": step, "time": clock.stamp()}


#: The metrics part each run's log continues in, per process (saves a listing per call); forgotten when it grows
#: past MAX_REMEMBERED_RUNS (a forgotten run costs one listing on its next log).
_current_part: dict[str, int] = {}
MAX_REMEMBERED_RUNS = 10_000


def _append_line(storage: Storage, run_id: str, line: bytes) -> None:
    container = storage.container(layout.RUN_HISTORY_CONTAINER)
    part = _current_part.get(run_id)
    if part is None:
        names = storage.list_names(layout.RUN_HISTORY_CONTAINER, layout.run_metrics_prefix(run_id))
        part = int(names[-1].rsplit("/", 1)[1].split(".")[0]) if names else 0
    with storage_errors(f"the metrics of run {run_id!r}"):
        for _ in range(10):
            blob = container.get_blob_client(layout.run_metrics_part(run_id, part))
            try:
                blob.append_block(line)
                if len(_current_part) >= MAX_REMEMBERED_RUNS:
                    _current_part.clear()
                _current_part[run_id] = part
                return
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    blob.create_append_blob(match_condition=MatchConditions.IfMissing)
            except HttpResponseError as exc:
                if exc.error_code != "BlockCountExceedsLimit":
                    raise
                part += 1  # this part is full: the log goes on in the next one
    raise ConcurrencyConflict(f"could not append to the metrics of run {run_id!r}")


def log_metrics(storage: Storage, run_id: str, documents: object) -> int:
    """Append logged values, in order; returns how many. Each is checked before any is written."""
    require_run(storage, run_id)
    if not isinstance(documents, list):
        raise InvalidInput("'metrics' must be a list of {name, kind, value}", field="metrics")
    if len(documents) > MAX_METRICS_PER_REQUEST:
        raise PayloadTooLarge(f"{len(documents)} metrics in one request; the limit is {MAX_METRICS_PER_REQUEST}")
    lines = []
    for document in documents:
        line = (json.dumps(metric_entry(document), separators=(",", ":")) + "\n").encode()
        if len(line) > MAX_METRIC_BYTES:
            raise PayloadTooLarge(f"metric {document['name']!r} is {len(line)} bytes; the limit is {MAX_METRIC_BYTES}")
        lines.append(line)
    for line in lines:
        _append_line(storage, run_id, line)
    return len(lines)


def metric_entries(storage: Storage, run_id: str) -> list[MetricEntry]:
    """Every logged value of the run, in the order logged."""
    entries: list[MetricEntry] = []
    container = storage.container(layout.RUN_HISTORY_CONTAINER)
    for path in storage.list_names(layout.RUN_HISTORY_CONTAINER, layout.run_metrics_prefix(run_id)):
        with storage_errors(f"the metrics of run {run_id!r}"):
            data = container.download_blob(path).readall()
        entries.extend(json.loads(line) for line in data.splitlines() if line.strip())
    return entries


def fold(entries: Iterable[MetricEntry]) -> dict[str, Any]:
    """Azure ML's `get_metrics()` view: a value logged once is that value, logged again a list of every value;
    `log_list` values are lists; `log_row` and `log_table` build tables {column: [values]}; images are the names of
    their files among the run's files."""
    grouped: dict[str, list[MetricEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry["name"], []).append(entry)
    folded: dict[str, Any] = {}
    for name, group in grouped.items():
        kinds = {entry["kind"] for entry in group}
        if kinds <= {"row", "table"}:
            table: dict[str, list[Any]] = {}
            for entry in group:
                rows = entry["value"] if entry["kind"] == "table" else {k: [v] for k, v in entry["value"].items()}
                for column, values in rows.items():
                    table.setdefault(column, []).extend(values)
            folded[name] = table
        elif len(group) == 1 and group[0]["kind"] != "list":
            folded[name] = group[0]["value"]
        else:
            values: list[Any] = []
            for entry in group:
                values.extend(entry["value"] if entry["kind"] == "list" else [entry["value"]])
            folded[name] = values
    return folded


def metrics(
    storage: Storage, run_id: str, name: str | None = None, recursive: bool = False, populate: bool = False
) -> dict[str, Any]:
    """The run's metrics (only `name`'s when given); recursive: {run id: metrics} for it and its child runs.
    A confusion matrix, accuracy table, residuals or predictions metric is the name of its JSON file among the
    run's files, or with `populate` that JSON itself (Azure ML's `get_metrics(populate=True)`)."""
    require_run(storage, run_id)

    def one(run: str) -> dict[str, Any]:
        entries = metric_entries(storage, run)
        if populate:
            entries = [_populated(storage, run, entry) for entry in entries]
        folded = fold(entries)
        return {key: value for key, value in folded.items() if name is None or key == name}

    if recursive:
        return {run: one(run) for run in [run_id, *child_ids(storage, run_id)]}
    return one(run_id)


def _populated(storage: Storage, run_id: str, entry: MetricEntry) -> MetricEntry:
    if entry["kind"] != "artifact":
        return entry
    path = layout.run_file(run_id, entry["value"])
    with storage_errors(f"file {entry['value']!r} of run {run_id!r}"):
        content = storage.container(layout.RUN_HISTORY_CONTAINER).download_blob(path).readall()
    return {**entry, "value": json.loads(content)}


# -- tags -----------------------------------------------------------------------------------------------------------


def _change_tags(storage: Storage, run_id: str, change: Any) -> dict[str, str | None]:
    return storage.upsert_json(
        layout.RUN_HISTORY_CONTAINER, layout.run_tags(run_id), lambda current: change(current or {})
    )


def _change_engine_tags(storage: Storage, run_id: str, change: Any) -> None:
    """A pipeline or step run's tags live in its record, beside what it was submitted with."""

    def apply(record: RunRecord) -> None:
        record["tags"] = change(dict(record.get("tags") or {}))

    storage.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id), apply, attempts=100)


def set_tags(storage: Storage, run_id: str, tags: object) -> dict[str, str | None]:
    """Add or change tags (others are left as they are); returns every tag of the run."""
    require_run(storage, run_id)
    checked = validators.history_tags(tags)
    if _engine_record(storage, run_id) is not None:
        _change_engine_tags(storage, run_id, lambda current: {**current, **checked})
    else:
        _change_tags(storage, run_id, lambda current: {**current, **checked})
    return get_tags(storage, run_id)


def remove_tags(storage: Storage, run_id: str, keys: object) -> dict[str, str | None]:
    require_run(storage, run_id)
    removed = validators.string_list(keys, "keys", described="tag names", absent="refused")

    def without(current: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in current.items() if k not in removed}

    if _engine_record(storage, run_id) is not None:
        _change_engine_tags(storage, run_id, without)
    _change_tags(storage, run_id, without)
    return get_tags(storage, run_id)


def get_tags(storage: Storage, run_id: str) -> dict[str, str | None]:
    """The run's tags: for a pipeline or step run, those in its record (set when it was submitted, and since)."""
    return _tags(storage, run_id, _engine_record(storage, run_id))


def _tags(storage: Storage, run_id: str, engine: RunRecord | None) -> dict[str, str | None]:
    tags, _ = storage.try_read_json(layout.RUN_HISTORY_CONTAINER, layout.run_tags(run_id))
    return {**(tags or {}), **((engine.get("tags") if engine is not None else None) or {})}


# -- experiments ------------------------------------------------------------------------------------------------------


def ensure_experiment(storage: Storage, name: object) -> Experiment:
    """The experiment's record, created the first time it is named (as Azure ML's `Experiment(ws, name)` does)."""
    checked = validators.validate_name("experiment", name)
    path = layout.experiment_record(checked)
    record: Experiment | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
    if record is not None:
        return record
    fresh: Experiment = {
        "name": checked,
        "id": str(uuid.uuid4()),
        "created_time": clock.stamp(),
        "tags": {},
        "archived_time": None,
    }
    with contextlib.suppress(ConcurrencyConflict):
        storage.create_json(layout.REGISTRY_CONTAINER, path, fresh)
        return fresh
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
    return record or fresh


def get_experiment(storage: Storage, name: object) -> Experiment:
    checked = validators.validate_name("experiment", name)
    record: Experiment | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.experiment_record(checked))
    if record is None:
        raise NotFound(f"experiment {checked!r} does not exist", experiment=checked)
    return record


def list_experiments(storage: Storage) -> list[Experiment]:
    """Every experiment, by name: those recorded, and any a pipeline run names that has no record yet."""
    found = {r["name"]: r for r in storage.read_all_json(layout.REGISTRY_CONTAINER, layout.EXPERIMENTS_PREFIX)}
    for name in run_index.experiments_runs(storage):
        if name and name not in found:
            found[name] = ensure_experiment(storage, name)
    return [found[name] for name in sorted(found)]


def change_experiment(storage: Storage, name: object, change: object) -> Experiment:
    """Tags (set or removed), archive, reactivate: {"set_tags": {...}} | {"remove_tags": [...]} |
    {"archived": true|false}."""
    record = ensure_experiment(storage, name)
    if not isinstance(change, dict):
        raise InvalidInput("the change must be an object", field="change")
    set_tags_to = validators.history_tags(change.get("set_tags") or {})
    removed = validators.string_list(change.get("remove_tags"), "remove_tags", described="tag names")
    archived = validators.optional_flag(change.get("archived"), "archived")
    if change.get("set_tags") is not None and not isinstance(change["set_tags"], dict):
        raise InvalidInput("'set_tags' must be an object of tags", field="set_tags")

    def apply(current: Experiment) -> Experiment:
        tags = {k: v for k, v in {**(current.get("tags") or {}), **set_tags_to}.items() if k not in removed}
        current["tags"] = tags
        if archived is True and not current.get("archived_time"):
            current["archived_time"] = clock.stamp()
        elif archived is False:
            current["archived_time"] = None
        return current

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.experiment_record(record["name"]), apply)


def delete_experiment(storage: Storage, name: object) -> None:
    """Delete an experiment and the history of its runs; refused while one of its runs is not over."""
    record = get_experiment(storage, name)
    runs = list_runs(storage, record["name"], include_children=True)
    running = [run["runId"] for run in runs if run["status"] not in (*HISTORY_TERMINAL, "Finished")]
    if running:
        raise Conflict(f"experiment {record['name']!r} has runs that are not over: {running[:10]}", runs=running)
    for run in runs:
        for path in storage.list_names(layout.RUN_HISTORY_CONTAINER, layout.run_history_prefix(run["runId"])):
            storage.delete_blob(layout.RUN_HISTORY_CONTAINER, path)
        storage.delete_blob(layout.REGISTRY_CONTAINER, layout.experiment_run_marker(record["name"], run["runId"]))
        if (engine := _engine_record(storage, run["runId"])) is not None:
            run_index.remove(storage, engine)
            storage.delete_blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run["runId"]))
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.experiment_record(record["name"]))


# -- files ------------------------------------------------------------------------------------------------------------


def upload_file(storage: Storage, run_id: str, name: str, source: str | os.PathLike[str] | IO[bytes]) -> str:
    """Store a file under the run (`name` is its path there, e.g. 'outputs/model.pkl'); a name is written once, as
    Azure ML's artifacts are. Returns the name."""
    require_run(storage, run_id)
    path = layout.run_file(run_id, _file_name(name))
    blob = storage.container(layout.RUN_HISTORY_CONTAINER).get_blob_client(path)
    try:
        with storage_errors(f"file {name!r} of run {run_id!r}"):
            if isinstance(source, str | os.PathLike):
                with Path(source).open("rb") as handle:
                    blob.upload_blob(handle, overwrite=False)
            else:
                blob.upload_blob(source, overwrite=False)
    except ConcurrencyConflict as exc:
        raise Conflict(f"run {run_id!r} already has a file {name!r}; files are written once", file=name) from exc
    return name


def delete_files(storage: Storage, run_id: str) -> None:
    """Forget every file of the run (a step's try that died: the next try writes them again)."""
    for path in storage.list_names(layout.RUN_HISTORY_CONTAINER, layout.run_files_prefix(run_id)):
        storage.delete_blob(layout.RUN_HISTORY_CONTAINER, path)


def _file_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"a run's file name must be a string, not {name!r}", field="name")
    return validators.validate_relative_path(name.replace("\\", "/").lstrip("/"))


def file_names(storage: Storage, run_id: str) -> list[str]:
    """The run's files, by name, sorted."""
    prefix = layout.run_files_prefix(run_id)
    return [path[len(prefix) :] for path in storage.list_names(layout.RUN_HISTORY_CONTAINER, prefix)]


def download_file(storage: Storage, run_id: str, name: str, target: str | os.PathLike[str]) -> str:
    """Write the run's file `name` to `target` (a file path; its folder is created); returns `target`."""
    path = layout.run_file(run_id, _file_name(name))
    destination = Path(target)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.partial")
    try:
        with storage_errors(f"file {name!r} of run {run_id!r}"), partial.open("wb") as handle:
            storage.container(layout.RUN_HISTORY_CONTAINER).download_blob(path).readinto(handle)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return str(destination)


# -- models registered from a run's files ------------------------------------------------------------------------------


def _copy_into_models(storage: Storage, source: str, target: str) -> tuple[str, int]:
    """Copy a run file into the model store block by block, hashing it as it goes; its sha256 and size."""
    models_container = storage.container(layout.MODELS_CONTAINER)
    blob = models_container.get_blob_client(target)
    block_ids: list[str] = []

    def staged(chunks: Iterable[bytes]) -> Iterable[bytes]:
        for chunk in chunks:
            block_id = f"{len(block_ids):010d}"
            blob.stage_block(block_id, chunk, length=len(chunk))
            block_ids.append(block_id)
            yield chunk

    with storage_errors(f"run file {source!r}"):
        stream = storage.container(layout.RUN_HISTORY_CONTAINER).download_blob(source)
        digest, size = sha256_chunks(staged(stream.chunks()))
        blob.commit_block_list([BlobBlock(block_id=block_id) for block_id in block_ids])
    return digest, size


def _selected_files(storage: Storage, run_id: str, model_path: str) -> tuple[list[tuple[str, str]], bool]:
    """[(path inside the model, run file name)] for `model_path`, a file or a folder of the run, and whether it is
    one file."""
    names = file_names(storage, run_id)
    if model_path in names:
        return [(model_path.rsplit("/", 1)[-1], model_path)], True
    inside = [(name[len(model_path) + 1 :], name) for name in names if name.startswith(model_path + "/")]
    if not inside:
        shown = names[:20] + (["..."] if len(names) > 20 else [])
        raise NotFound(
            f"run {run_id!r} has no file or folder {model_path!r} to register; its files: {shown}",
            run=run_id,
            model_path=model_path,
        )
    return inside, False


def register_model(storage: Storage, run_id: str, request: dict[str, Any]) -> Record:
    """Register the run's file or folder `model_path` (default: the model's name) as the next version of model
    `model_name`: copied into the model store, then registered exactly as `Model.register` does (the same record,
    versioning and sha256 checks). The record's properties name the run."""
    require_run(storage, run_id)
    model_name = validators.validate_name("model", request.get("model_name"))
    raw_path = request.get("model_path") or model_name
    model_path = _file_name(raw_path.rstrip("/") if isinstance(raw_path, str) else raw_path)
    properties = validators.string_values(request.get("properties"), "properties", keys="strings")
    tags = validators.string_values(request.get("tags"), "tags", keys="strings")
    extra = {"azureml.runId": run_id}
    for field, key in (
        ("model_framework", "azureml.modelFramework"),
        ("model_framework_version", "azureml.modelFrameworkVersion"),
    ):
        value = validators.optional_text(request.get(field), field)
        if value is not None:
            extra[key] = value
    datasets = request.get("datasets") or []
    if not isinstance(datasets, list):
        raise InvalidInput("'datasets' must be a list of [relationship, dataset id]", field="datasets")
    for item in datasets:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)):
            raise InvalidInput("each of 'datasets' must be [relationship, dataset id]", field="datasets")
        extra[f"azureml.datasets.{item[0]}"] = item[1]
    selected, single_file = _selected_files(storage, run_id, model_path)
    upload_id = uuid.uuid4().hex
    prefix = layout.model_content_prefix(model_name, upload_id)
    manifest = []
    try:
        for relative, name in selected:
            digest, size = _copy_into_models(storage, layout.run_file(run_id, name), prefix + relative)
            manifest.append({"path": relative, "size": size, "sha256": digest})
        return models.register_model(
            storage,
            model_name,
            {
                "upload_id": upload_id,
                "files": manifest,
                "single_file": single_file,
                "description": request.get("description"),
                "tags": tags,
                "properties": {**properties, **extra},
                "run_id": run_id,
            },
        )
    except FninferError as exc:
        if 400 <= exc.status < 500:  # refused: no version uses the copy
            for blob in storage.list_names(layout.MODELS_CONTAINER, prefix):
                storage.delete_blob(layout.MODELS_CONTAINER, blob)
        raise
