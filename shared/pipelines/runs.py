"""Pipeline run records and their status: Azure ML's spellings, stored verbatim, changed only by `transition`.

    NotStarted --planned--> Running --fan-in written--> Finished
        |                      |----threshold passed---> Failed
        |                      +----cancel()-----------> Canceled
        +---(reused output)---> Finished, (no input / cannot plan) --> Failed, cancel() --> Canceled

Finished, Failed and Canceled are terminal: they never change, so a late worker cannot resurrect a canceled or failed
run. Every transition reads the record, checks this table and writes with If-Match (retrying when another writer got
there first). A run that is not terminal has a marker under `active/`, which is all the sweeper lists.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared import layout
from shared.errors import ConcurrencyConflict, Conflict, NotFound
from shared.storage import Storage

Record = dict[str, Any]


class RunStatus(StrEnum):
    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED})
ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.NOT_STARTED: frozenset({RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED}),
    RunStatus.RUNNING: frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED}),
}


def now() -> str:
    return datetime.now(UTC).isoformat()


def create_run(storage: Storage, record: Record) -> Record:
    """Store a new run (If-None-Match); a run that is not terminal also gets its `active/` marker."""
    if RunStatus(record["status"]) not in TERMINAL:
        storage.put_json(layout.RUNS_CONTAINER, layout.active_run_marker(record["id"]), {"run": record["id"]})
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(record["id"]), record)
    return record


def get_run(storage: Storage, run_id: str) -> Record:
    layout.validate_name("run", run_id)
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    if record is None:
        raise NotFound(f"pipeline run {run_id!r} does not exist", run=run_id)
    return record


def list_runs(storage: Storage, experiment: str | None = None) -> list[Record]:
    """Runs, newest first (optionally of one experiment)."""
    found = storage.read_all_json(layout.REGISTRY_CONTAINER, layout.PIPELINE_RUNS_PREFIX)
    found = [record for record in found if experiment is None or record["experiment"] == experiment]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def active_run_ids(storage: Storage) -> list[str]:
    return [
        name[len(layout.ACTIVE_RUNS_PREFIX) :]
        for name in storage.list_names(layout.RUNS_CONTAINER, layout.ACTIVE_RUNS_PREFIX)
    ]


def forget_active(storage: Storage, run_id: str) -> None:
    storage.delete_blob(layout.RUNS_CONTAINER, layout.active_run_marker(run_id))


class _Unchanged(Exception):
    """Raised inside an update to leave the record as it is (nothing is written)."""


def transition(
    storage: Storage, run_id: str, status: RunStatus, only_from: RunStatus | None = None, **fields: Any
) -> bool:
    """Move the run to `status`, setting `fields`; False (and nothing written) when it is already terminal, or not
    in `only_from` when that is given. A move the table does not allow raises Conflict."""

    def change(record: Record) -> None:
        current = RunStatus(record["status"])
        if current in TERMINAL or (only_from is not None and current != only_from):
            raise _Unchanged
        if status != current and status not in ALLOWED[current]:
            raise Conflict(f"pipeline run {run_id!r} cannot go from {current} to {status}", run=run_id)
        record["status"] = status.value
        record.update(fields)
        if status == RunStatus.RUNNING and not record.get("start_time"):
            record["start_time"] = now()
        if status in TERMINAL:
            record["end_time"] = now()

    get_run(storage, run_id)  # NotFound names the run, rather than a blob path
    try:
        storage.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id), change, attempts=100)
    except _Unchanged:
        return False
    if status in TERMINAL:
        with contextlib.suppress(ConcurrencyConflict):
            forget_active(storage, run_id)
    return True


def cancel(storage: Storage, run_id: str) -> Record:
    """Cancel a run that is not over yet (a terminal run is left as it is, as Azure ML does)."""
    transition(storage, run_id, RunStatus.CANCELED)
    return get_run(storage, run_id)
