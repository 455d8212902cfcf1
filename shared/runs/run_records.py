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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NotRequired, TypedDict, Unpack

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, Conflict, NotFound
from shared.core.storage import Storage
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


class RunWarning(TypedDict):
    """One of a run's `warnings` (its details list them, as Azure ML's do)."""

    kind: str  # what the engine repaired: "stalled", "results_lost", "output_rewritten"
    time: str  # clock.stamp()
    message: str  # what went wrong and what was done about it


class RunError(TypedDict):
    """Why a run Failed (its `error`): a message, and what the engine that failed it knows more."""

    message: str
    step: NotRequired[str]  # a pipeline run's: the step whose failure failed it (dag.py), with that step's fields
    not_started: NotRequired[list[str]]  # a pipeline run's: the steps that never started
    mini_batch: NotRequired[int]  # a ParallelRunStep's: the mini-batch whose failures passed a threshold
    error: NotRequired[str]  # ... and its last try's error, traceback and the end of its log
    traceback: NotRequired[str | None]
    log: NotRequired[str]  # a ParallelRunStep's (as above) or a script step's: the end of its log
    stalled: NotRequired[bool]  # the watchdog failed it: it made no progress past its restarts


class CountFigures(TypedDict):
    """A ParallelRunStep run's mini-batch counts: its record's `counts` once Finished, and its live progress
    (lanes.Counts, summed from its lanes' chunks)."""

    batches_done: int
    batches_failed: int
    items_failed: int


class StepEntry(TypedDict):
    """A pipeline run's `steps` entry: its step run's id (derived, so known before the step starts) and type."""

    id: str
    type: str  # "ParallelRunStep" | "PythonScriptStep"


class Plan(TypedDict):
    """A ParallelRunStep run's `plan`, written when it is planned (shared/pipelines/batch/planning.py): its
    mini-batches are on pages at `layout.plan_page(run id, id, page)`."""

    id: str
    total_batches: int
    total_items: int | None  # files of a file input; None for a tabular one (pieces of files are not items)
    cap: int  # lanes run at once: node_count x per_node
    per_node: int  # process_count_per_node, resolved on the planning instance
    root: str  # the folder common to the input's files (what a mounted input's paths are relative to)
    shape: dict[str, Any] | None  # a tabular input's columns and types (registry/tabular_files.shape), else None
    datastores: dict[str, dict[str, Any]]  # the input's datastore records by name: what the lanes download with


class RunRecord(TypedDict):
    """A run's record (`layout.pipeline_run_record`): a pipeline run's, one of its step runs', or a script run's
    (shared/pipelines/scripts/script_run.py). A pipeline run has `definition` to `steps` and no `parent`; a step run
    and a script run have `parent` to `step` (a script run's `parent` is None, its `run_type` says what it is).

    `definition`, `graph` and `step` have the pipeline definition's shapes (shared/pipelines/engine/definition.py,
    script_definition.py), which live above run state: they are untyped mappings here."""

    id: str
    experiment: str
    tags: dict[str, str | None]  # as submitted, and as set or removed since (run_history.set_tags)
    created_time: str
    start_time: str | None
    end_time: str | None
    status: str  # a RunStatus value
    error: RunError | None
    warnings: NotRequired[list[RunWarning]]
    # a pipeline run's
    definition: NotRequired[Mapping[str, Any]]  # as submitted or published: its steps with parameter references
    parameters: NotRequired[dict[str, Any]]  # the values its parameters were bound to
    graph: NotRequired[Mapping[str, Any]]  # the definition bound and checked: its steps in order, with depends_on
    steps: NotRequired[dict[str, StepEntry]]  # by step name
    # a step run's and a script run's
    parent: NotRequired[str | None]  # the pipeline run's id (None: a script run)
    run_type: NotRequired[str]  # a script run's: "azureml.scriptrun"
    name: NotRequired[str]
    type: NotRequired[str]  # "ParallelRunStep" | "PythonScriptStep"
    plan: NotRequired[Plan | None]  # a ParallelRunStep's, once planned (or taken from the run it reused)
    counts: NotRequired[CountFigures | None]  # a ParallelRunStep's, once Finished (or taken from the run it reused)
    step: NotRequired[Mapping[str, Any]]  # its step as it runs: inputs concrete, outputs located, fingerprint
    exit_code: NotRequired[int | None]  # a script's, once it ended (None: it never ran to an exit)


class RunChanges(TypedDict, total=False):
    """What a transition may set beside the status: why it failed, a ParallelRunStep's plan (when it starts Running)
    and counts (when it Finishes), a script's exit code."""

    error: RunError | None
    plan: Plan | None
    counts: CountFigures | None
    exit_code: int | None


def create_run(storage: Storage, record: RunRecord) -> RunRecord:
    """Store a new run (If-None-Match); a run that is not terminal also gets its `active/` marker."""
    if RunStatus(record["status"]) not in TERMINAL:
        storage.put_json(layout.RUNS_CONTAINER, layout.active_run_marker(record["id"]), {"run": record["id"]})
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(record["id"]), record)
    run_index.add(storage, record)
    return record


def get_run(storage: Storage, run_id: str) -> RunRecord:
    validators.validate_name("run", run_id)
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    if record is None:
        raise NotFound(f"pipeline run {run_id!r} does not exist", run=run_id)
    return record


def list_runs(storage: Storage, experiment: str | None = None, include_children: bool = False) -> list[RunRecord]:
    """Pipeline runs, newest first (optionally of one experiment), and with `include_children` their step runs. The
    runs are found in the run index (run_index.py), so only their own records are read, not every run's."""
    by_experiment = run_index.experiments_runs(storage)
    if experiment is not None:
        run_ids = by_experiment.get(experiment, [])
    else:
        run_ids = [run_id for runs in by_experiment.values() for run_id in runs]
    found: list[RunRecord] = _read_runs(storage, run_ids)
    if include_children:
        found += _read_runs(storage, [step_id for record in found for step_id in step_run_ids(record)])
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def step_run_ids(record: RunRecord) -> list[str]:
    """The step runs a pipeline run's record lists (`steps`); a step or script run's record has none."""
    steps = record.get("steps")
    if not isinstance(steps, dict):
        return []
    return [state["id"] for state in steps.values() if isinstance(state, dict) and state.get("id")]


def _read_runs(storage: Storage, run_ids: list[str]) -> list[RunRecord]:
    return storage.read_many_json(layout.REGISTRY_CONTAINER, [layout.pipeline_run_record(i) for i in run_ids])


def plan_of(run: RunRecord) -> Plan:
    """A ParallelRunStep run's plan, for the work that only planned runs get to (lanes, mini-batches, the fan-in)."""
    plan = run.get("plan")
    if plan is None:
        raise RuntimeError(f"run {run['id']} has no plan: only a planned ParallelRunStep run has lanes")
    return plan


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
    storage: Storage, run_id: str, status: RunStatus, only_from: RunStatus | None = None, **fields: Unpack[RunChanges]
) -> Moved:
    """Move the run to `status`, setting `fields`; false (and nothing written) when it is already terminal, or not
    in `only_from` when that is given. A move the table does not allow raises Conflict. When it ends a step run, the
    answer names its pipeline run, which the caller advances (dag.advance_parent)."""
    parent: str | None = None
    changed: RunRecord | None = None

    def change(record: RunRecord) -> None:
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
    assert changed is not None  # update_json called change, which did not raise
    run_index.update(storage, changed)
    if status not in TERMINAL:
        return Moved(True)
    with contextlib.suppress(ConcurrencyConflict):
        forget_active(storage, run_id)
    return Moved(True, pipeline_run=parent)


def warn(storage: Storage, run_id: str, kind: str, message: str) -> int:
    """Add a warning to a run that is not over (Azure ML's run details list `warnings`): what went wrong and what
    was done about it. Returns how many warnings of `kind` the run has now, this one included: the engine's repairs
    are bounded by it."""
    count = 0

    def change(record: RunRecord) -> None:
        nonlocal count
        warnings = record.setdefault("warnings", [])
        if RunStatus(record["status"]) not in TERMINAL:
            warnings.append(RunWarning(kind=kind, time=clock.stamp(), message=message))
        count = sum(1 for warning in warnings if warning["kind"] == kind)

    storage.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id), change, attempts=100)
    log.warning("Run %s: %s", run_id, message)
    return count
