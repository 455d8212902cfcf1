"""Files dropped into a data schedule's folder start its run within seconds: what the blob-triggered function does
for each blob written to a watched container (`functions/drops.py`); the schedules timer's poll stays the safety net.

A burst of uploads raises one event per blob, and must still start one run that sees every file of it. So the first
event for a schedule claims the wait (`waiting` in the schedule's state, If-Match, with an expiry) and lists the
folder until it has not changed for SETTLE_SECONDS (at most MAX_WAIT_SECONDS: a never-ending stream still starts a
run a minute), then fires the schedule as a poll would (`runner.fire`: watermark, pending run, fixed run id), and
releases the claim. Events arriving meanwhile find the claim and return: their blobs are in the folder the waiter
lists. After releasing, the waiter lists once more and goes round again if a blob came in after its run's
watermark, so a blob whose event saw the claim is never left to the poll. A waiter that dies leaves a claim that
expires; the next event or the poll (which defers to a live claim) takes over.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from shared.core import clock, layout
from shared.core.errors import ConcurrencyConflict, FninferError, NotFound
from shared.core.storage import Storage
from shared.registry.datastores import find_datastore
from shared.schedules.runner import fire, unseen, waiting
from shared.schedules.schedule_records import (
    DataTrigger,
    ScheduleRecord,
    ScheduleState,
    blob_changes,
    data_trigger,
    get_schedule,
    get_state,
    iso,
    list_schedules,
    watched_prefix,
)

log = logging.getLogger("fninfer.schedules")

#: A burst is over when the folder has not changed for this long.
SETTLE_SECONDS = 2.0
#: How often the waiter lists the folder.
LIST_EVERY_SECONDS = 0.5
#: The longest a waiter waits for a burst to end before it starts the run anyway.
MAX_WAIT_SECONDS = 60.0
#: Bursts one call settles one after another before it leaves a never-ending stream to the next event or the poll.
MAX_ROUNDS = 5
#: How long a claim outlives its wait: time to start the run. A dead waiter's claim is free after this.
CLAIM_MARGIN_SECONDS = 60.0


def watching(storage: Storage, container: str, blob_name: str) -> list[ScheduleRecord]:
    """The Active data schedules whose folder holds `container/blob_name`."""
    found = []
    for schedule in list_schedules(storage, active_only=True):
        data = schedule["data"]
        if data is None or not blob_name.startswith(watched_prefix(data["path_on_datastore"])):
            continue
        try:
            if find_datastore(storage, data["datastore"])["container_name"] == container:
                found.append(schedule)
        except NotFound:
            continue  # its datastore was removed: the poll reports it
    return found


def on_blob(
    storage: Storage,
    container: str,
    blob_name: str,
    settle: float = SETTLE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """A blob was written: start the run of every data schedule watching it, once its burst is over. Returns the
    runs started by this call (none when another call is already waiting for the burst)."""
    started: list[str] = []
    for schedule in watching(storage, container, blob_name):
        try:
            started += settle_and_fire(storage, schedule["id"], settle, sleep)
        except FninferError as exc:  # one schedule's trouble does not stop the others; the poll tries again
            log.warning("Schedule %r (%s) on a dropped blob: %s", schedule["name"], schedule["id"], exc)
    return started


def settle_and_fire(
    storage: Storage, schedule_id: str, settle: float = SETTLE_SECONDS, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    started: list[str] = []
    for _ in range(MAX_ROUNDS):
        token = _claim(storage, schedule_id)
        if token is None:
            break
        try:
            schedule = get_schedule(storage, schedule_id)
            _wait_for_quiet(storage, data_trigger(schedule), settle, sleep)
            run_id = fire(storage, schedule, clock.now(), dropped=True)
            if run_id is not None:
                log.info("Schedule %r started run %s for dropped files", schedule["name"], run_id)
                started.append(run_id)
        finally:
            _release(storage, schedule_id, token)
        state, _ = get_state(storage, schedule_id)
        data = data_trigger(schedule)
        if state["pending"] is None and not unseen(
            blob_changes(storage, data["datastore"], data["path_on_datastore"]), state
        ):
            break
    return started


def _claim(storage: Storage, schedule_id: str) -> str | None:
    """Claim the wait for this schedule; None when another call holds it."""
    path = layout.schedule_state(schedule_id)
    for _ in range(20):
        state, etag = get_state(storage, schedule_id)
        now = clock.now()
        if waiting(state, now):
            return None
        token = uuid.uuid4().hex
        until = now + timedelta(seconds=MAX_WAIT_SECONDS + CLAIM_MARGIN_SECONDS)
        state["waiting"] = {"by": token, "until": iso(until)}
        try:
            storage.replace_json(layout.RUNS_CONTAINER, path, state, etag)
            return token
        except ConcurrencyConflict:
            continue  # another writer (a claimant, the timer) got there first: look again
    return None


def _release(storage: Storage, schedule_id: str, token: str) -> None:
    def release(state: ScheduleState) -> None:
        claim = state.get("waiting")
        if claim is not None and claim["by"] == token:
            state["waiting"] = None

    with contextlib.suppress(NotFound):
        storage.update_json(layout.RUNS_CONTAINER, layout.schedule_state(schedule_id), release)


def _wait_for_quiet(storage: Storage, data: DataTrigger, settle: float, sleep: Callable[[float], None]) -> None:
    """Return once the folder's blobs (names and versions) have not changed for `settle` seconds, or after
    MAX_WAIT_SECONDS."""
    started = time.monotonic()
    last: frozenset[tuple[str, str]] | None = None
    quiet_since = started
    while True:
        now = time.monotonic()
        listing = frozenset(
            (b.name, str(b.etag)) for b in blob_changes(storage, data["datastore"], data["path_on_datastore"])
        )
        if listing != last:
            last, quiet_since = listing, now
        elif now - quiet_since >= settle:
            return
        if now - started >= MAX_WAIT_SECONDS:
            return
        sleep(LIST_EVERY_SECONDS)
