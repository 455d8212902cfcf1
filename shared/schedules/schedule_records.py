"""Schedule records (what the user created) and schedule states (what the runner has done), kept apart: the record
changes only when the user changes it, the state on every firing, each with If-Match.

    Active <--disable()/enable()--> Disabled

A schedule is either recurring (`recurrence`, see recurrence.py) or on data (`datastore` + `path_on_datastore`,
polled every `polling_interval` minutes for added or changed blobs, as Azure ML polls).

ScheduleRecord is the record, ScheduleState the state (the cursor, the pending run, what has fired), ScheduleView
what callers are given: the record with the state's last run, firing and error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from azure.storage.blob import BlobProperties

from shared.core import clock, layout, validators
from shared.core.cached_reads import cache
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import Storage, storage_errors
from shared.pipelines.engine import endpoints
from shared.pipelines.engine.published import get_published
from shared.registry.datastores import find_datastore
from shared.schedules.recurrence import Recurrence, RecurrenceDocument

#: Azure ML's default polling interval for data schedules, in minutes.
DEFAULT_POLLING_MINUTES = 5


class ScheduleStatus(StrEnum):
    ACTIVE = "Active"
    DISABLED = "Disabled"


class DataTrigger(TypedDict):
    """A data schedule's `data`: the folder it watches and how often it is polled (`_data_trigger`)."""

    datastore: str  # a datastore's name
    path_on_datastore: str  # a folder ("" for the whole container); see watched_prefix
    polling_interval: int  # minutes, at least 1
    data_path_parameter_name: str | None  # the pipeline parameter a run is given the folder in, if any


class ScheduleRecord(TypedDict):
    """A schedule (`layout.schedule_record`, in the registry container): what the user asked for. It runs either a
    published pipeline (`pipeline_id`) or a pipeline endpoint's default version (`pipeline_endpoint_id`), the other
    being None; and it has either a `recurrence` or `data`, the other being None."""

    id: str
    name: str
    description: str | None
    pipeline_id: str | None
    pipeline_endpoint_id: str | None  # the endpoint's id, even when it was named by its name
    experiment_name: str
    pipeline_parameters: dict[str, Any]  # values for the pipeline's declared parameters (declared_parameters)
    continue_on_step_failure: bool | None  # None: the pipeline's own setting
    recurrence: RecurrenceDocument | None
    recurrence_since: str | None  # when the recurrence was changed: occurrences count from then (None: from creation)
    data: DataTrigger | None
    status: str  # a ScheduleStatus value
    created_time: str


class ScheduleView(ScheduleRecord):
    """A schedule as callers get it (`describe`: the HTTP API's `Schedule`, the studio): its record, and from its
    state the last run started, the last occurrence fired and why the last one could not start."""

    last_run_id: str | None
    last_fired: str | None
    last_error: str | None


class PendingRun(TypedDict):
    """A state's `pending`: a run decided on (its occurrence and parameter values) but maybe not started yet."""

    run_id: str  # runner.run_id_for(schedule id, occurrence): whoever starts it starts the same run
    occurrence: str  # the occurrence's instant; a data schedule's also names the blobs changed at its watermark
    assignments: dict[str, Any]  # the parameter values it runs with


class WaitClaim(TypedDict):
    """A state's `waiting`: a blob event's call settling a burst of dropped files (shared/schedules/drops.py)."""

    by: str  # the claimant's token
    until: str  # when the claim expires, if its claimant died


class DataCursor(TypedDict):
    """What a data schedule's state has seen of its folder (`_watermark_state`, and moved by each poll)."""

    watermark: str | None  # the newest blob change seen; None: the folder was empty
    at_watermark: dict[str, str]  # the blobs changed at the watermark, with their ETags
    polled_at: str  # when the folder was last listed


class ScheduleState(TypedDict):
    """A schedule's state (`layout.schedule_state`, in the runs container): what the runner has done, changed on
    every firing with If-Match. A data schedule's also has DataCursor's keys."""

    checked_until: str  # the instant up to which occurrences are dealt with
    pending: PendingRun | None
    last_run_id: str | None
    last_fired: str | None  # the last occurrence's instant, whether or not its run could start
    last_error: str | None  # why the last occurrence's run could not start; None when it started
    watermark: NotRequired[str | None]  # a data schedule's DataCursor
    at_watermark: NotRequired[dict[str, str]]
    polled_at: NotRequired[str]
    waiting: NotRequired[WaitClaim | None]  # absent until a blob event first claims the wait


def data_trigger(schedule: ScheduleRecord) -> DataTrigger:
    """A data schedule's trigger, for the work only data schedules get to (polls, dropped files)."""
    data = schedule["data"]
    if data is None:
        raise RuntimeError(f"schedule {schedule['id']} runs on a recurrence: it watches no datastore")
    return data


def published_pipeline_of(schedule: ScheduleRecord) -> str:
    """The published pipeline a schedule of one (not of a pipeline endpoint) runs."""
    pipeline_id = schedule["pipeline_id"]
    if pipeline_id is None:
        raise RuntimeError(f"schedule {schedule['id']} runs pipeline endpoint {schedule['pipeline_endpoint_id']}")
    return pipeline_id


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def watched_prefix(path_on_datastore: str) -> str:
    """The blob name prefix a data schedule watches: the folder `path_on_datastore` (everything below it), or the
    whole container."""
    return layout.datastore_folder_prefix(path_on_datastore)


def blob_changes(storage: Storage, datastore: str, path_on_datastore: str) -> list[BlobProperties]:
    """The blobs under a data schedule's path."""
    container = find_datastore(storage, datastore)["container_name"]
    prefix = watched_prefix(path_on_datastore)
    with storage_errors(f"{container}/{prefix}*"):
        return list(storage.container(container).list_blobs(name_starts_with=prefix))


def watermark_of(blobs: list[BlobProperties]) -> tuple[str | None, dict[str, str]]:
    """The newest change among `blobs` and the blobs changed at that instant with their ETags. Storage times have
    1 s resolution: a blob written in the same second as the last poll is told apart by its name, and a blob
    rewritten in that second by its ETag."""
    if not blobs:
        return None, {}
    newest = max(blob.last_modified for blob in blobs)
    return iso(newest), {blob.name: str(blob.etag) for blob in blobs if blob.last_modified == newest}


def _data_trigger(storage: Storage, document: dict[str, Any]) -> DataTrigger:
    datastore = validators.validate_name("datastore", document.get("datastore"))
    find_datastore(storage, datastore)  # NotFound names it
    path = document.get("path_on_datastore") or ""
    if not isinstance(path, str):
        raise InvalidInput("path_on_datastore must be a string", field="path_on_datastore")
    path = validators.validate_relative_path(path) if path.strip("/") else ""
    interval = document.get("polling_interval", DEFAULT_POLLING_MINUTES)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise InvalidInput(f"polling_interval is in minutes, at least 1, not {interval!r}", field="polling_interval")
    parameter = document.get("data_path_parameter_name")
    if parameter is not None:
        validators.validate_name("data_path_parameter_name", parameter)
    return {
        "datastore": datastore,
        "path_on_datastore": path,
        "polling_interval": interval,
        "data_path_parameter_name": parameter,
    }


def declared_parameters(storage: Storage, record: ScheduleRecord) -> dict[str, Any]:
    """The parameters of what the schedule runs: its published pipeline, or its endpoint's default version."""
    endpoint_id = record["pipeline_endpoint_id"]
    if endpoint_id:
        endpoint = endpoints.get_endpoint(storage, endpoint_id)
        pipeline = get_published(storage, endpoints.pipeline_of(endpoint))
    else:
        pipeline = get_published(storage, published_pipeline_of(record))
    return pipeline["definition"].get("parameters") or {}


def _check_parameters(storage: Storage, record: ScheduleRecord) -> None:
    parameters = record["pipeline_parameters"]
    if not isinstance(parameters, dict):
        raise InvalidInput("'pipeline_parameters' must be an object", field="pipeline_parameters")
    declared = declared_parameters(storage, record)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidInput(f"unknown pipeline parameters {unknown}; the pipeline declares {sorted(declared)}")
    name = record["data"]["data_path_parameter_name"] if record["data"] is not None else None
    if name not in (None, *declared):
        raise InvalidInput(f"data_path_parameter_name {name!r} is not a parameter of the pipeline")


def _keep_going(value: object) -> bool | None:
    return validators.optional_flag(value, "continue_on_step_failure")


def _watermark_state(storage: Storage, data: DataTrigger, at: datetime) -> DataCursor:
    """A data schedule's cursor at `at`: the blobs there now are seen, so only later changes fire."""
    blobs = blob_changes(storage, data["datastore"], data["path_on_datastore"])
    watermark, at_watermark = watermark_of(blobs)
    return {"watermark": watermark, "at_watermark": at_watermark, "polled_at": iso(at)}


def create_schedule(storage: Storage, document: dict[str, Any], now: datetime | None = None) -> ScheduleRecord:
    """Check and store a schedule of a published pipeline (`pipeline_id`) or of a pipeline endpoint's default
    version (`pipeline_endpoint_id`); its state starts at creation (nothing before it fires; a data schedule fires
    on changes after it)."""
    created = now or clock.now()
    pipeline_id, endpoint_id = document.get("pipeline_id"), document.get("pipeline_endpoint_id")
    if (pipeline_id is None) == (endpoint_id is None):
        raise InvalidInput(
            "a schedule runs either a published pipeline ('pipeline_id') or a pipeline endpoint "
            "('pipeline_endpoint_id')",
            field="pipeline_id",
        )
    pipeline_id = validators.optional_text(pipeline_id, "pipeline_id")
    endpoint_id = validators.optional_text(endpoint_id, "pipeline_endpoint_id")
    if endpoint_id is not None:
        endpoint_id = endpoints.get_endpoint(storage, endpoint_id)["id"]  # a name works too; the id is kept
    elif pipeline_id is not None:  # always, when there is no endpoint (checked above)
        get_published(storage, pipeline_id)  # NotFound names it, before the rest is checked
    recurrence, data = document.get("recurrence"), document.get("datastore")
    if (recurrence is None) == (data is None):
        raise InvalidInput("a schedule needs either a recurrence or a datastore to watch", field="recurrence")
    record: ScheduleRecord = {
        "id": uuid.uuid4().hex,
        "name": validators.validate_printable_name("schedule", document.get("name")),
        "description": document.get("description") if isinstance(document.get("description"), str) else None,
        "pipeline_id": pipeline_id,
        "pipeline_endpoint_id": endpoint_id,
        "experiment_name": validators.validate_name("experiment", document.get("experiment_name")),
        "pipeline_parameters": document.get("pipeline_parameters") or {},
        "continue_on_step_failure": _keep_going(document.get("continue_on_step_failure")),
        "recurrence": Recurrence.parse(recurrence).document if recurrence is not None else None,
        "recurrence_since": None,
        "data": _data_trigger(storage, document) if data is not None else None,
        "status": ScheduleStatus.ACTIVE.value,
        "created_time": iso(created),
    }
    _check_parameters(storage, record)
    # Occurrences from the creation instant on are due (one at creation itself, for a plain recurrence without a
    # start_time), so the cursor starts just before it.
    state: ScheduleState = {
        "checked_until": iso(created - timedelta(microseconds=1)),
        "pending": None,
        "last_run_id": None,
        "last_fired": None,
        "last_error": None,
    }
    if record["data"] is not None:
        state.update(_watermark_state(storage, record["data"], created))
    storage.create_json(layout.RUNS_CONTAINER, layout.schedule_state(record["id"]), state)
    storage.create_json(layout.REGISTRY_CONTAINER, layout.schedule_record(record["id"]), record)
    return record


def get_schedule(storage: Storage, schedule_id: str) -> ScheduleRecord:
    validators.validate_name("schedule", schedule_id)
    record: ScheduleRecord | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.schedule_record(schedule_id))
    if record is None:
        raise NotFound(f"schedule {schedule_id!r} does not exist", schedule=schedule_id)
    return record


def get_state(storage: Storage, schedule_id: str) -> tuple[ScheduleState, str]:
    state: ScheduleState
    state, etag = storage.read_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id))
    return state, etag


def describe(storage: Storage, record: ScheduleRecord) -> ScheduleView:
    """The record with what its state tells a user: the last run, the last firing, the last error."""
    state: ScheduleState | None
    state, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.schedule_state(record["id"]))
    if state is None:  # written before the record; gone only if removed by hand
        return {**record, "last_run_id": None, "last_fired": None, "last_error": None}
    return {
        **record,
        "last_run_id": state["last_run_id"],
        "last_fired": state["last_fired"],
        "last_error": state["last_error"],
    }


def list_schedules(
    storage: Storage, active_only: bool = True, pipeline_id: str | None = None, pipeline_endpoint_id: str | None = None
) -> list[ScheduleRecord]:
    """Schedules, newest first (only Active ones, one pipeline's or one endpoint's, when asked). Read through the
    process's record cache: the schedules timer lists them every tick, and a record is read again only once it
    changed. The records are shared: callers copy before they change one."""
    found: list[ScheduleRecord] = [
        record
        for record in cache.records(storage, layout.REGISTRY_CONTAINER, layout.SCHEDULES_PREFIX).values()
        if (not active_only or record["status"] == ScheduleStatus.ACTIVE.value)
        and (pipeline_id is None or record["pipeline_id"] == pipeline_id)
        and (pipeline_endpoint_id is None or record["pipeline_endpoint_id"] == pipeline_endpoint_id)
    ]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def set_status(
    storage: Storage, schedule_id: str, status: ScheduleStatus, now: datetime | None = None
) -> ScheduleRecord:
    """Enable or disable. Enabling starts counting again from now: occurrences while disabled do not fire."""
    record = get_schedule(storage, schedule_id)
    if record["status"] == status.value:
        return record
    if status == ScheduleStatus.ACTIVE:

        def restart(state: ScheduleState) -> None:
            state["checked_until"] = iso(now or clock.now())

        storage.update_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id), restart)

    def change(current: ScheduleRecord) -> ScheduleRecord:
        current["status"] = status.value
        return current

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.schedule_record(schedule_id), change)


#: What `Schedule.update` may change, by kind of schedule.
_DATA_FIELDS = ("datastore", "path_on_datastore", "polling_interval", "data_path_parameter_name")


def update_schedule(
    storage: Storage, schedule_id: str, changes: dict[str, Any], now: datetime | None = None
) -> ScheduleRecord:
    """Change what `changes` gives (None leaves a field as it is), as `Schedule.update` does. A new recurrence counts
    from the update (without a start_time it fires at once, as a new schedule does); a new watched path or datastore
    starts from the blobs there now; a status change is `set_status`'s."""
    moment = now or clock.now()
    record = get_schedule(storage, schedule_id)
    updated = record.copy()
    if changes.get("name") is not None:
        updated["name"] = validators.validate_printable_name("schedule", changes["name"])
    if changes.get("description") is not None:
        if not isinstance(changes["description"], str):
            raise InvalidInput("description must be a string", field="description")
        updated["description"] = changes["description"]
    if changes.get("pipeline_parameters") is not None:
        updated["pipeline_parameters"] = changes["pipeline_parameters"]
    if changes.get("continue_on_step_failure") is not None:
        updated["continue_on_step_failure"] = _keep_going(changes["continue_on_step_failure"])
    if changes.get("recurrence") is not None:
        if record["recurrence"] is None:
            raise InvalidInput("this schedule watches a datastore: it cannot take a recurrence", field="recurrence")
        updated["recurrence"] = Recurrence.parse(changes["recurrence"]).document
        updated["recurrence_since"] = iso(moment)
    data_changes = {field: changes[field] for field in _DATA_FIELDS if changes.get(field) is not None}
    moved: DataTrigger | None = None  # the new folder, when it is another
    if data_changes:
        if record["data"] is None:
            raise InvalidInput("this schedule runs on a recurrence: it cannot watch a datastore", field="datastore")
        data = _data_trigger(storage, {**record["data"], **data_changes})
        updated["data"] = data
        if (data["datastore"], data["path_on_datastore"]) != (
            record["data"]["datastore"],
            record["data"]["path_on_datastore"],
        ):
            moved = data
    status = changes.get("status")
    if status is not None and status not in (ScheduleStatus.ACTIVE.value, ScheduleStatus.DISABLED.value):
        raise InvalidInput(f"status must be 'Active' or 'Disabled', not {status!r}", field="status")
    _check_parameters(storage, updated)
    if moved is not None:
        fresh = _watermark_state(storage, moved, moment)

        def move(state: ScheduleState) -> None:
            state.update(fresh)

        storage.update_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id), move)

    def change(current: ScheduleRecord) -> ScheduleRecord:
        kept = current["status"]  # a status change is set_status's (below)
        current.update(updated)
        current["status"] = kept
        return current

    storage.update_json(layout.REGISTRY_CONTAINER, layout.schedule_record(schedule_id), change)
    if status is not None:
        set_status(storage, schedule_id, ScheduleStatus(status), now=moment)
    return get_schedule(storage, schedule_id)
