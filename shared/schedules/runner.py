"""Firing schedules: what the schedules timer does every tick (every minute by default).

For each Active schedule, one step per tick, each a conditional write to its state:

    1. a `pending` run left by an earlier tick (its starter may have died) is started: starting is idempotent, the
       run's id being fixed by the schedule and the occurrence;
    2. otherwise the next firing is decided, written as `pending` together with the advanced cursor (If-Match: two
       instances ticking at once cannot both decide), then started, then cleared.

    recurring: the latest occurrence in (checked_until, now]; after a down period that is one run, not one per
               missed occurrence (as a timer's past-due firing);
    on data:   at most every polling_interval minutes, the blobs under the path changed after the watermark (a
               burst of uploads between two polls is one run, which sees them all); or at once when a blob event
               says files were dropped there (`drops.py`, which first waits for the burst to end).

So each occurrence or change starts exactly one run, whatever the number of instances and however often they tick.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob import BlobProperties

from shared.core import clock, layout
from shared.core.errors import ConcurrencyConflict, Conflict, FninferError, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.pipelines.engine import endpoints, published
from shared.runs.run_records import RunRecord
from shared.schedules.recurrence import Recurrence
from shared.schedules.schedule_records import (
    PendingRun,
    ScheduleRecord,
    ScheduleState,
    blob_changes,
    data_trigger,
    get_state,
    iso,
    list_schedules,
    parse_instant,
    published_pipeline_of,
    watermark_of,
)

log = logging.getLogger("fninfer.schedules")


def run_id_for(schedule_id: str, occurrence: str) -> str:
    """The run an occurrence starts: the same id whoever starts it, so a second start finds the first."""
    return hashlib.sha256(f"{schedule_id}\n{occurrence}".encode()).hexdigest()[:32]


def tick(storage: Storage, now: datetime | None = None) -> list[str]:
    """Fire every Active schedule that is due at `now`; returns the ids of the runs started."""
    moment = (now or clock.now()).astimezone(UTC)
    started: list[str] = []
    for schedule in list_schedules(storage, active_only=True):
        try:
            run_id = fire(storage, schedule, moment)
        except FninferError as exc:  # one schedule's trouble does not stop the others
            log.warning("Schedule %r (%s): %s", schedule["name"], schedule["id"], exc)
            continue
        if run_id is not None:
            started.append(run_id)
    return started


def unseen(blobs: list[BlobProperties], state: ScheduleState) -> list[BlobProperties]:
    """The blobs added or changed after a data schedule's watermark."""
    seen_at, seen = state["watermark"], state["at_watermark"]
    return [
        blob
        for blob in blobs
        if seen_at is None
        or iso(blob.last_modified) > seen_at
        or (iso(blob.last_modified) == seen_at and seen.get(blob.name) != str(blob.etag))  # new, or rewritten
    ]


def waiting(state: ScheduleState, now: datetime) -> bool:
    """Whether a drop's run is being settled (`shared/schedules/drops.py`): the poll leaves the schedule to it."""
    claim = state.get("waiting")
    return claim is not None and parse_instant(claim["until"]) > now


def _decide(
    storage: Storage, schedule: ScheduleRecord, state: ScheduleState, now: datetime, dropped: bool = False
) -> tuple[str, dict[str, Any]] | None:
    """The occurrence due at `now` and the parameter values for its run, or None; moves `state`'s cursors. A data
    schedule polls every polling_interval, or at once when files were `dropped` (a blob event); while a drop's run is
    being settled (`waiting`), the poll leaves the schedule to it."""
    assignments = dict(schedule["pipeline_parameters"])
    if schedule["recurrence"] is not None:
        recurrence = Recurrence.parse(schedule["recurrence"])
        after = parse_instant(state["checked_until"])
        anchor = parse_instant(schedule["recurrence_since"] or schedule["created_time"])
        occurrence = recurrence.latest(anchor, after, now)
        state["checked_until"] = iso(max(now, after))
        return (iso(occurrence), assignments) if occurrence is not None else None
    data = data_trigger(schedule)
    if not dropped and (
        now < parse_instant(state["polled_at"]) + timedelta(minutes=data["polling_interval"]) or waiting(state, now)
    ):
        return None
    state["polled_at"] = iso(now)
    blobs = blob_changes(storage, data["datastore"], data["path_on_datastore"])
    if not unseen(blobs, state):
        return None
    state["watermark"], state["at_watermark"] = watermark_of(blobs)
    if data["data_path_parameter_name"]:
        path = {"datastore": data["datastore"], "path": data["path_on_datastore"]}
        assignments[data["data_path_parameter_name"]] = path
    changed = ",".join(f"{name}@{etag}" for name, etag in sorted(state["at_watermark"].items()))
    return f"{state['watermark']}|{changed}", assignments


def fire(storage: Storage, schedule: ScheduleRecord, now: datetime, dropped: bool = False) -> str | None:
    """One step of one schedule (see the module's docstring); the run started, if any."""
    path = layout.schedule_state(schedule["id"])
    state, etag = get_state(storage, schedule["id"])
    pending = state["pending"]
    if pending is None:
        polled_before = state.get("polled_at")
        decision = _decide(storage, schedule, state, now, dropped)
        if decision is None:
            if state.get("polled_at") != polled_before:  # a data poll found nothing new: remember when it ran
                _save_quietly(storage, path, state, etag)
            return None
        occurrence, assignments = decision
        pending = {
            "run_id": run_id_for(schedule["id"], occurrence),
            "occurrence": occurrence,
            "assignments": assignments,
        }
        state["pending"] = pending
        try:
            etag = storage.replace_json(layout.RUNS_CONTAINER, path, state, etag)
        except ConcurrencyConflict:
            return None  # another instance decided first; it starts the run
    error: str | None = None
    try:
        run = _start(storage, schedule, pending)
        log.info("Schedule %r started run %s (%s)", schedule["name"], run["id"], pending["occurrence"])
    except ConcurrencyConflict:
        raise  # storage contention: the pending run is started again next tick
    except (InvalidInput, NotFound, Conflict) as exc:
        # The pipeline is disabled, gone, or refuses the parameters: this occurrence cannot run. Say so on the
        # schedule and go on; storage trouble, by contrast, is raised and the pending run retried next tick.
        error = exc.message
        log.warning("Schedule %r could not start a run: %s", schedule["name"], error)
    state["pending"] = None
    state["last_fired"] = pending["occurrence"].split("|")[0]
    state["last_error"] = error
    if error is None:
        state["last_run_id"] = pending["run_id"]
    _save_quietly(storage, path, state, etag)
    return None if error is not None else pending["run_id"]


def _start(storage: Storage, schedule: ScheduleRecord, pending: PendingRun) -> RunRecord:
    """Start the decided run: of the published pipeline, or of the endpoint's default version at this moment."""
    tags = {"azureml.scheduleid": schedule["id"]}
    experiment, assignments = schedule["experiment_name"], pending["assignments"]
    keep_going = schedule["continue_on_step_failure"]
    endpoint = schedule["pipeline_endpoint_id"]
    if endpoint:
        return endpoints.start(storage, endpoint, experiment, assignments, tags, None, pending["run_id"], keep_going)
    pipeline = published_pipeline_of(schedule)
    return published.start(storage, pipeline, experiment, assignments, tags, pending["run_id"], keep_going)


def _save_quietly(storage: Storage, path: str, state: ScheduleState, etag: str) -> None:
    """Write the state unless another instance changed it since we read it (its write stands then)."""
    with contextlib.suppress(ConcurrencyConflict):
        storage.replace_json(layout.RUNS_CONTAINER, path, state, etag)
