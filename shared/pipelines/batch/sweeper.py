"""The sweeper: work whose owner stopped renewing its hold (a killed or stuck instance) is put back on its queue.

A timer function calls `sweep` every few seconds on one instance (the timer's singleton lease). It lists the runs
that are not terminal (`active/` markers; terminal ones left behind by a crash are cleaned up here) and, for each,
re-enqueues the messages of expired work: planning or the fan-in (work_leases.py), and lanes of mini-batches whose
holder is gone or whose message waited too long (lanes.py; one listing of the run's lanes shows them all). Each expiry
is re-enqueued once (If-Match on the record), and a re-enqueued item that turns out to be alive or done is a harmless
duplicate. Without the sweeper the work still completes, when the queue makes the lost message visible again
(10 minutes on the Functions host).

The timer's sweep also shows each active run to the watchdog (watchdog.py), which repairs or fails a run that makes
no progress. A run whose sweep fails (storage answering errors) does not keep the others from theirs.

Lanes still running a run also sweep that run (`sweep_run`, every few seconds per process; see minibatch.py), so a
dead instance's lanes are noticed as soon as their holds run out, even when the dead instance held the timer's
singleton lock (which another instance takes over only after its own lease period).
"""

from __future__ import annotations

import logging

from shared.core import layout
from shared.core.errors import FninferError, NotFound
from shared.core.storage import Storage
from shared.pipelines.batch import watchdog
from shared.pipelines.batch.fanin import FANIN_ITEM, START_CURSOR
from shared.runs import lanes, work_leases
from shared.runs.run_records import TERMINAL, RunRecord, RunStatus, active_run_ids, forget_active, get_run

log = logging.getLogger("fninfer.batch")


def sweep(storage: Storage) -> int:
    """Re-enqueue every expired work item of every active run, and show each to the watchdog; returns how many
    items were re-enqueued."""
    requeued = 0
    for run_id in active_run_ids(storage):
        try:
            run = get_run(storage, run_id)
        except NotFound:
            forget_active(storage, run_id)  # a marker without its run: nothing to sweep
            continue
        if RunStatus(run["status"]) in TERMINAL:
            forget_active(storage, run_id)
            watchdog.forget(run_id)
            continue
        try:
            requeued += sweep_run(storage, run)
            watchdog.examine(storage, run)
        except FninferError:
            log.exception("Run %s: sweeping it failed; the next sweep tries again", run_id)
    return requeued


def sweep_run(storage: Storage, run: RunRecord) -> int:
    """Re-enqueue the expired work of one run; returns how many items."""
    requeued = 0
    for item, record, etag in work_leases.expired(storage, run["id"]):
        if work_leases.redispatch(storage, run["id"], item, record, etag):
            log.warning("Run %s: %s lost its owner (lease expired); queued it again", run["id"], item)
            requeued += 1
    plan = run.get("plan")
    if plan is None:
        return requeued
    cap, total = int(plan["cap"]), int(plan["total_batches"])
    states = lanes.survey(storage, run["id"])
    for state in states.values():
        if state.etag is None or state.alive() or state.end >= lanes.positions(total, cap, state.lane):
            continue
        if lanes.redispatch(storage, run, state):
            log.warning("Run %s: lane %d lost its holder (or its message); queued it again", run["id"], state.lane)
            requeued += 1
    if lanes.complete(plan, states) and not any(state.alive() for state in states.values()):
        # every lane is recorded and none is held, yet the run is Running: the lane that completed it stopped before
        # taking the fan-in (dispatch does nothing when the fan-in is in flight already)
        message = {"run": run["id"]}
        if work_leases.dispatch(storage, run["id"], FANIN_ITEM, layout.FANIN_QUEUE, message, cursor=START_CURSOR):
            log.warning(
                "Run %s: every mini-batch is recorded but nothing wrote the output; queued the fan-in", run["id"]
            )
            requeued += 1
    return requeued
