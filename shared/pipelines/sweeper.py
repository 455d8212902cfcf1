"""The sweeper: work whose owner stopped renewing its lease (a killed or stuck instance) is put back on its queue.

A timer function calls `sweep` every few seconds on one instance (the timer's singleton lease). It lists the runs
that are not terminal (`active/` markers; terminal ones left behind by a crash are cleaned up here) and, for each,
re-enqueues the messages of expired work leases: planning, a mini-batch, or the fan-in. Each expiry is re-enqueued
once (If-Match on the lease record), and a re-enqueued item that turns out to be alive or done is a harmless
duplicate. Without the sweeper the work still completes, when the queue makes the lost message visible again
(10 minutes on the Functions host).

Lanes still running a run also sweep that run (`sweep_run`, every few seconds per process; see minibatch.py), so a
dead instance's mini-batches are noticed as soon as their leases run out, even when the dead instance held the
timer's singleton lock (which another instance takes over only after its own lease period).
"""

from __future__ import annotations

import logging

from shared.errors import NotFound
from shared.pipelines import leases
from shared.pipelines.runs import TERMINAL, RunStatus, active_run_ids, forget_active, get_run
from shared.storage import Storage

log = logging.getLogger("fninfer.batch")


def sweep(storage: Storage) -> int:
    """Re-enqueue every expired work item of every active run; returns how many."""
    requeued = 0
    for run_id in active_run_ids(storage):
        try:
            status = RunStatus(get_run(storage, run_id)["status"])
        except NotFound:
            status = RunStatus.CANCELED  # a marker without its run: nothing to sweep
        if status in TERMINAL:
            forget_active(storage, run_id)
            continue
        requeued += sweep_run(storage, run_id)
    return requeued


def sweep_run(storage: Storage, run_id: str) -> int:
    """Re-enqueue the expired work items of one run; returns how many."""
    requeued = 0
    for item, record, etag in leases.expired(storage, run_id):
        if leases.redispatch(storage, run_id, item, record, etag):
            log.warning("Run %s: %s lost its owner (lease expired); queued it again", run_id, item)
            requeued += 1
    return requeued
