"""Pipeline run records and their status: Azure ML's spellings, stored verbatim, changed only by `transition`.

    NotStarted --planned--> Running --fan-in written--> Finished
        |                      |----threshold passed---> Failed
        |                      +----cancel()-----------> Canceled
        +---(reused output)---> Finished, (no input / cannot plan) --> Failed, cancel() --> Canceled

Finished, Failed and Canceled are terminal: they never change, so a late worker cannot resurrect a canceled or failed
run. Every transition reads the record, checks this table and writes with If-Match (retrying when another writer got
there first). A run that is not terminal has a marker under `active/`, which is all the sweeper lists.

A pipeline run and each of its step runs have a record here; a step run's record names its pipeline run (`parent`)
and is what the step's engine works on (a ParallelRunStep's `step` and `plan`, see planning.py; a script step's, see
script_step.py). When a step run ends, `transition` says so to its caller (`Moved.pipeline_run`), which advances
that pipeline run (dag.py): it starts the steps that were waiting for it, or ends. Run state never calls up into the
orchestration.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, Conflict, NotFound
from shared.core.storage import Record, Storage
from shared.runs import run_index

log = logging.getLogger("fninfer.batch")


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


def create_run(storage: Storage, record: Record) -> Record:
    """Store a new run (If-None-Match); a run that is not terminal also gets its `active/` marker."""
    if RunStatus(record["status"]) not in TERMINAL:
        storage.put_json(layout.RUNS_CONTAINER, layout.active_run_marker(record["id"]), {"run": record["id"]})
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(record["id"]), record)
    run_index.add(storage, record)
    return record


def get_run(storage: Storage, run_id: str) -> Record:
    validators.validate_name("run", run_id)
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    if record is None:
        raise NotFound(f"pipeline run {run_id!r} does not exist", run=run_id)
    return record


def list_runs(storage: Storage, experiment: str | None = None, include_children: bool = False) -> list[Record]:
    """Pipeline runs, newest first (optionally of one experiment), and with `include_children` their step runs."""
    found = storage.read_all_json(layout.REGISTRY_CONTAINER, layout.PIPELINE_RUNS_PREFIX)
    found = [
        record
        for record in found
        if (experiment is None or record["experiment"] == experiment) and (include_children or not record.get("parent"))
    ]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def active_run_ids(storage: Storage) -> list[str]:
    return [
        name[len(layout.ACTIVE_RUNS_PREFIX) :]
        for name in storage.list_names(layout.RUNS_CONTAINER, layout.ACTIVE_RUNS_PREFIX)
    ]


def forget_active(storage: Storage, run_id: str) -> None:
    storage.delete_blob(layout.RUNS_CONTAINER, layout.active_run_marker(run_id))


@dataclass(frozen=True)
class Moved:
    """What `transition` did: true when it changed the run. `pipeline_run` names the pipeline run whose step run it
    ended, for the caller to advance (dag.advance_parent)."""

    changed: bool
    pipeline_run: str | None = None

    def __bool__(self) -> bool:
        return self.changed


class _Unchanged(Exception):
    """Raised inside an update to leave the record as it is (nothing is written)."""


def transition(
    storage: Storage, run_id: str, status: RunStatus, only_from: RunStatus | None = None, **fields: Any
) -> Moved:
    """Move the run to `status`, setting `fields`; false (and nothing written) when it is already terminal, or not
    in `only_from` when that is given. A move the table does not allow raises Conflict. When it ends a step run, the
    answer names its pipeline run, which the caller advances (dag.advance_parent)."""
    parent: str | None = None
    changed: Record = {}

    def change(record: Record) -> None:
        nonlocal parent, changed
        parent, changed = record.get("parent"), record
        current = RunStatus(record["status"])
        if current in TERMINAL or (only_from is not None and current != only_from):
            raise _Unchanged
        if status != current and status not in ALLOWED[current]:
            raise Conflict(f"pipeline run {run_id!r} cannot go from {current} to {status}", run=run_id)
        record["status"] = status.value
        record.update(fields)
        if status == RunStatus.RUNNING and not record.get("start_time"):
            record["start_time"] = clock.stamp()
        if status in TERMINAL:
            record["end_time"] = clock.stamp()

    path = layout.pipeline_run_record(validators.validate_name("run", run_id))
    try:
        storage.update_json(layout.REGISTRY_CONTAINER, path, change, attempts=100)
    except _Unchanged:
        return Moved(False)
    except NotFound as exc:  # name the run, rather than a blob path
        raise NotFound(f"pipeline run {run_id!r} does not exist", run=run_id) from exc
    run_index.update(storage, changed)
    if status not in TERMINAL:
        return Moved(True)
    with contextlib.suppress(ConcurrencyConflict):
        forget_active(storage, run_id)
    return Moved(True, pipeline_run=parent)


class RunWarning(TypedDict):
    """One of a run's `warnings` (its details list them, as Azure ML's do)."""

    kind: str  # what the engine repaired: "stalled", "results_lost", "output_rewritten"
    time: str  # clock.stamp()
    message: str  # what went wrong and what was done about it


def warn(storage: Storage, run_id: str, kind: str, message: str) -> int:
    """Add a warning to a run that is not over (Azure ML's run details list `warnings`): what went wrong and what
    was done about it. Returns how many warnings of `kind` the run has now, this one included: the engine's repairs
    are bounded by it."""
    count = 0

    def change(record: Record) -> None:
        nonlocal count
        warnings = record.setdefault("warnings", [])
        if RunStatus(record["status"]) not in TERMINAL:
            warnings.append(RunWarning(kind=kind, time=clock.stamp(), message=message))
        count = sum(1 for warning in warnings if warning["kind"] == kind)

    storage.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id), change, attempts=100)
    log.warning("Run %s: %s", run_id, message)
    return count
