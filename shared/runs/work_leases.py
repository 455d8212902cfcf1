"""Planning and the fan-in hold a lease while in flight: a record per work item (`plan`, `fanin`) with an owner and an
expiry. (Mini-batches are held per lane, with the same lease time and heartbeats: see lanes.py.)

    dispatch   create the record (If-None-Match, lease = now + LEASE) with the message that starts it, then enqueue it
    claim      take the record (If-Match) when it is unowned, ours, or expired; count the try
    heartbeat  renew it while the work runs (a thread, every LEASE/3)
    release    delete it when the work is recorded

The queue's own visibility window is the host's half of this contract, but a message taken by an instance that dies
stays invisible for 10 minutes. The lease is ours: when its owner stops renewing it, the sweeper re-enqueues the
message it holds after LEASE seconds. The lease is short (10 s) and renewed in the background every LEASE/3 while
the work runs, however long it takes, so a killed instance's work is running again within about LEASE + a sweep
(every 2 s from the run's live lanes, every 5 s from the timer) + a queue poll. An item that waits
on its queue, unowned, is given QUEUED_LEASES leases before the sweeper takes it for lost (a busy app may leave a
message waiting that long; a copy is harmless but wasteful). Work items are idempotent, so a re-enqueued or
duplicated message is harmless: a second copy finds the lease held and leaves, or finds the result recorded and
only redoes the bookkeeping.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NotRequired, TypedDict

from shared.core import clock, layout
from shared.core.errors import ConcurrencyConflict, FninferError, LeaseLost, NotFound
from shared.core.settings import LEASE_SETTING, get_setting
from shared.core.storage import Storage

DEFAULT_LEASE_SECONDS = 10.0
QUEUED_LEASES = 6


class Lease(TypedDict):
    """A work item's record (`layout.work_lease`): who holds it and until when, and the message that starts it."""

    owner: str | None  # None: queued, waiting for an instance to claim it
    until: float  # clock.time() after which the sweeper takes it for lost
    tries: int  # claims so far
    queue: str
    message: dict[str, Any]
    cursor: NotRequired[dict[str, int]]  # the fan-in's: the next mini-batch to append and the output's offset


def lease_seconds() -> float:
    return float(get_setting(LEASE_SETTING) or DEFAULT_LEASE_SECONDS)


def queued_seconds() -> float:
    """How long an unowned (queued) work item may wait before the sweeper takes its message for lost."""
    return QUEUED_LEASES * lease_seconds()


def send(storage: Storage, queue: str, message: Mapping[str, Any], delay: int = 0) -> None:
    """Put a message for a queue-triggered function (the host base64-decodes message bodies), visible after
    `delay` seconds."""
    storage.send(queue, base64.b64encode(json.dumps(message).encode()).decode(), delay=delay)


def dispatch(
    storage: Storage,
    run_id: str,
    item: str,
    queue: str,
    message: dict[str, Any],
    owner: str | None = None,
    delay: int = 0,
    **state: Any,
) -> Lease | None:
    """Record the work item as in flight, unless it already is, and enqueue its message (visible after `delay`
    seconds, under queued_seconds()). With `owner` the item is not enqueued but taken by that owner at once (its
    first try); the record still holds the message, for the sweeper should the owner die. Returns the record when
    this call created it."""
    record = {
        "owner": owner,
        "until": clock.time() + (lease_seconds() if owner is not None else queued_seconds()),
        "tries": 0 if owner is None else 1,
        "queue": queue,
        "message": message,
        **state,
    }
    try:
        storage.create_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, item), record)
    except ConcurrencyConflict:
        record = {}  # already in flight: a duplicate dispatch only repeats the message, which is harmless
    if owner is None:
        send(storage, queue, message, delay)
    return record or None


def hand_back(storage: Storage, run_id: str, item: str, delay: int) -> None:
    """Put an unclaimed work item's message back on its queue, visible after `delay` seconds, and extend its lease
    (it is still queued, not lost: the sweeper should not queue a copy). A pipeline run's watch comes back so."""

    def extend(record: Lease) -> Lease:
        if record["owner"] is None:
            record["until"] = clock.time() + queued_seconds()
        return dict(record)

    try:
        record = storage.update_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, item), extend, attempts=50)
    except NotFound:
        return  # done and released meanwhile
    send(storage, record["queue"], record["message"], delay=delay)


def claim(storage: Storage, run_id: str, item: str, owner: str) -> Lease | None:
    """Take the lease for `owner` and count a try; None when another live owner holds it or it is gone (done)."""

    def take(record: Lease) -> Lease | None:
        if record["owner"] not in (None, owner) and record["until"] > clock.time():
            return None
        record.update(owner=owner, until=clock.time() + lease_seconds(), tries=int(record["tries"]) + 1)
        return dict(record)

    try:
        return storage.update_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, item), take, attempts=50)
    except NotFound:
        return None


def update(storage: Storage, run_id: str, item: str, owner: str, **state: Any) -> Lease:
    """Set `state` on a lease we hold (renewing it); LeaseLost when another owner has taken it."""

    def change(record: Lease) -> Lease:
        if record["owner"] != owner:
            raise LeaseLost(f"run {run_id}: the lease on {item} passed to another owner")
        record.update(state, until=clock.time() + lease_seconds())
        return dict(record)

    try:
        return storage.update_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, item), change, attempts=50)
    except NotFound as exc:
        raise LeaseLost(f"run {run_id}: the lease on {item} is gone") from exc


def release(storage: Storage, run_id: str, item: str) -> None:
    storage.delete_blob(layout.RUNS_CONTAINER, layout.work_lease(run_id, item))


Beat = Callable[[], bool]


class _Heartbeats:
    """One thread per process calls every registered beat about once a second; each beat renews what it keeps
    alive when that is due, and returns False once there is nothing left to keep (it is then forgotten)."""

    def __init__(self) -> None:
        self._beats: dict[object, Beat] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, key: object, beat: Beat) -> None:
        with self._lock:
            self._beats[key] = beat
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
                self._thread.start()

    def remove(self, key: object) -> None:
        with self._lock:
            self._beats.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(min(1.0, lease_seconds() / 6))
            with self._lock:
                beats = list(self._beats.items())
            for key, beat in beats:
                try:
                    alive = beat()
                except FninferError:
                    alive = True  # storage hiccup: beat again soon, the lease has time to spare
                if not alive:
                    self.remove(key)


_heartbeats = _Heartbeats()


@contextlib.contextmanager
def keep_alive(key: object, beat: Beat) -> Iterator[None]:
    """Call `beat` about every second while the block runs (see _Heartbeats)."""
    _heartbeats.add(key, beat)
    try:
        yield
    finally:
        _heartbeats.remove(key)


@contextlib.contextmanager
def heartbeat(storage: Storage, run_id: str, item: str, owner: str) -> Iterator[None]:
    """Keep the lease renewed while the block runs, every LEASE/3 (a lost lease is left to its new owner)."""
    due = time.monotonic() + lease_seconds() / 3

    def beat() -> bool:
        nonlocal due
        if time.monotonic() < due:
            return True
        try:
            update(storage, run_id, item, owner)
        except LeaseLost:
            return False  # the new owner has it now
        due = time.monotonic() + lease_seconds() / 3
        return True

    with keep_alive((run_id, item, owner), beat):
        yield


def records(storage: Storage, run_id: str) -> dict[str, tuple[Lease, str]]:
    """The run's work items in flight: {item: (record, etag)}."""
    found = {}
    for name in storage.list_names(layout.RUNS_CONTAINER, layout.leases_prefix(run_id)):
        record, etag = storage.try_read_json(layout.RUNS_CONTAINER, name)
        if record is not None and etag is not None:
            found[name.rsplit("/", 1)[1].removesuffix(".json")] = (record, etag)
    return found


def expired(storage: Storage, run_id: str) -> list[tuple[str, Lease, str]]:
    """The run's work items whose lease has run out: (item, record, etag)."""
    return [
        (item, record, etag)
        for item, (record, etag) in records(storage, run_id).items()
        if record["until"] <= clock.time()
    ]


def redispatch(storage: Storage, run_id: str, item: str, record: Lease, etag: str) -> bool:
    """Re-enqueue an expired work item's message, once per expiry (If-Match on the record we saw)."""
    renewed = {**record, "owner": None, "until": clock.time() + queued_seconds()}
    try:
        storage.replace_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, item), renewed, etag)
    except (ConcurrencyConflict, NotFound):
        return False  # renewed, claimed or released meanwhile: it is alive
    send(storage, record["queue"], record["message"])
    return True
