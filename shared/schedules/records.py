"""Schedule records (what the user created) and schedule states (what the runner has done), kept apart: the record
changes only when the user changes it, the state on every firing, each with If-Match.

    Active <--disable()/enable()--> Disabled

A schedule is either recurring (`recurrence`, see recurrence.py) or on data (`datastore` + `path_on_datastore`,
polled every `polling_interval` minutes for added or changed blobs, as Azure ML polls).

State: {"checked_until": the instant up to which occurrences are dealt with,
        "pending": {"run_id", "occurrence", "assignments"} | null,   a run decided on but maybe not started yet,
        "watermark", "at_watermark": data schedules: the newest blob change seen, and the blobs changed at it,
        "polled_at", "last_run_id", "last_fired", "last_error"}
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from azure.storage.blob import BlobProperties

from shared import layout
from shared.datastores import get_datastore
from shared.errors import InvalidInput, NotFound
from shared.pipelines.published import display_name, get_published
from shared.schedules.recurrence import Recurrence
from shared.storage import Storage, storage_errors

Record = dict[str, Any]
#: Azure ML's default polling interval for data schedules, in minutes.
DEFAULT_POLLING_MINUTES = 5


class ScheduleStatus(StrEnum):
    ACTIVE = "Active"
    DISABLED = "Disabled"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def blob_changes(storage: Storage, datastore: str, prefix: str) -> list[BlobProperties]:
    """The blobs under a data schedule's path."""
    container = get_datastore(storage, datastore)["container_name"]
    with storage_errors(f"{container}/{prefix}*"):
        return list(storage.container(container).list_blobs(name_starts_with=prefix))


def watermark_of(blobs: list[BlobProperties]) -> tuple[str | None, list[str]]:
    """The newest change among `blobs` and the blobs changed at that instant (storage times have 1 s resolution, so
    a blob written in the same second as the last poll is told apart by name)."""
    if not blobs:
        return None, []
    newest = max(blob.last_modified for blob in blobs)
    return iso(newest), sorted(blob.name for blob in blobs if blob.last_modified == newest)


def _data_trigger(storage: Storage, document: dict[str, Any]) -> dict[str, Any]:
    datastore = layout.validate_name("datastore", document.get("datastore"))
    get_datastore(storage, datastore)  # NotFound names it
    path = document.get("path_on_datastore") or ""
    if not isinstance(path, str):
        raise InvalidInput("path_on_datastore must be a string", field="path_on_datastore")
    path = layout.validate_relative_path(path) if path.strip("/") else ""
    interval = document.get("polling_interval", DEFAULT_POLLING_MINUTES)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise InvalidInput(f"polling_interval is in minutes, at least 1, not {interval!r}", field="polling_interval")
    parameter = document.get("data_path_parameter_name")
    if parameter is not None:
        layout.validate_name("data_path_parameter_name", parameter)
    return {
        "datastore": datastore,
        "path_on_datastore": path,
        "polling_interval": interval,
        "data_path_parameter_name": parameter,
    }


def create_schedule(storage: Storage, document: dict[str, Any], now: datetime | None = None) -> Record:
    """Check and store a schedule; its state starts at creation (nothing before it fires; a data schedule fires on
    changes after it)."""
    created = now or datetime.now(UTC)
    pipeline_id = document.get("pipeline_id")
    if not isinstance(pipeline_id, str):
        raise InvalidInput("'pipeline_id' is required: the published pipeline the schedule runs", field="pipeline_id")
    pipeline = get_published(storage, pipeline_id)
    parameters = document.get("pipeline_parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("'pipeline_parameters' must be an object", field="pipeline_parameters")
    declared = pipeline["definition"].get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidInput(f"unknown pipeline parameters {unknown}; the pipeline declares {sorted(declared)}")
    recurrence, data = document.get("recurrence"), document.get("datastore")
    if (recurrence is None) == (data is None):
        raise InvalidInput("a schedule needs either a recurrence or a datastore to watch", field="recurrence")
    record: Record = {
        "id": uuid.uuid4().hex,
        "name": display_name("schedule", document.get("name")),
        "description": document.get("description") if isinstance(document.get("description"), str) else None,
        "pipeline_id": pipeline_id,
        "experiment_name": layout.validate_name("experiment", document.get("experiment_name")),
        "pipeline_parameters": parameters,
        "recurrence": Recurrence.parse(recurrence).document if recurrence is not None else None,
        "data": _data_trigger(storage, document) if data is not None else None,
        "status": ScheduleStatus.ACTIVE.value,
        "created_time": iso(created),
    }
    if record["data"] is not None and record["data"]["data_path_parameter_name"] not in (None, *declared):
        name = record["data"]["data_path_parameter_name"]
        raise InvalidInput(f"data_path_parameter_name {name!r} is not a parameter of the pipeline")
    # Occurrences from the creation instant on are due (one at creation itself, for a plain recurrence without a
    # start_time), so the cursor starts just before it.
    state: Record = {
        "checked_until": iso(created - timedelta(microseconds=1)),
        "pending": None,
        "last_run_id": None,
        "last_fired": None,
        "last_error": None,
    }
    if record["data"] is not None:
        blobs = blob_changes(storage, record["data"]["datastore"], record["data"]["path_on_datastore"])
        state["watermark"], state["at_watermark"] = watermark_of(blobs)
        state["polled_at"] = iso(created)
    storage.create_json(layout.RUNS_CONTAINER, layout.schedule_state(record["id"]), state)
    storage.create_json(layout.REGISTRY_CONTAINER, layout.schedule_record(record["id"]), record)
    return record


def get_schedule(storage: Storage, schedule_id: str) -> Record:
    layout.validate_name("schedule", schedule_id)
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.schedule_record(schedule_id))
    if record is None:
        raise NotFound(f"schedule {schedule_id!r} does not exist", schedule=schedule_id)
    return record


def get_state(storage: Storage, schedule_id: str) -> tuple[Record, str]:
    state, etag = storage.read_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id))
    return state, etag


def describe(storage: Storage, record: Record) -> Record:
    """The record with what its state tells a user: the last run, the last firing, the last error."""
    state, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.schedule_state(record["id"]))
    state = state or {}
    return {**record, **{key: state.get(key) for key in ("last_run_id", "last_fired", "last_error")}}


def list_schedules(storage: Storage, active_only: bool = True, pipeline_id: str | None = None) -> list[Record]:
    """Schedules, newest first (only Active ones, or one pipeline's, when asked)."""
    found = [
        record
        for record in storage.read_all_json(layout.REGISTRY_CONTAINER, layout.SCHEDULES_PREFIX)
        if (not active_only or record["status"] == ScheduleStatus.ACTIVE.value)
        and (pipeline_id is None or record["pipeline_id"] == pipeline_id)
    ]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def set_status(storage: Storage, schedule_id: str, status: ScheduleStatus, now: datetime | None = None) -> Record:
    """Enable or disable. Enabling starts counting again from now: occurrences while disabled do not fire."""
    record = get_schedule(storage, schedule_id)
    if record["status"] == status.value:
        return record
    if status == ScheduleStatus.ACTIVE:

        def restart(state: Record) -> None:
            state["checked_until"] = iso(now or datetime.now(UTC))

        storage.update_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id), restart)

    def change(current: Record) -> Record:
        current["status"] = status.value
        return current

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.schedule_record(schedule_id), change)
