"""A pipeline run as a graph of step runs: a step starts when every step it depends on has Finished; the run ends
when no step is running and none can start.

    submit     record the run (NotStarted) with its checked graph, start its watch, advance
    advance    start every step whose dependencies have Finished (step_start.py; a reused step is Finished at once,
               so its dependents start in the same pass); the first start makes the run Running. A step that Failed
               or was Canceled fails the run, and the steps still running are canceled, unless
               continue_on_step_failure, when only the steps downstream of it never start. Nothing running and
               nothing left to start: Finished when every step Finished, else Failed, naming the step.
    step over  whoever ends a step run advances its pipeline run at once: the transition names it
               (runs.Moved) and the caller hands it to `advance_parent` (the script step, the batch engine's
               planning, lanes, fan-in and watchdog, a cancel)
    watch      a queue message per active pipeline run that comes back every WATCH_SECONDS and advances it: the
               safety net for an instance that died between a step's end and its advance. Its lease is the
               sweeper's to re-enqueue if the message itself is lost with an instance.

Advancing is idempotent and safe to run concurrently (two steps ending at once): step run ids are derived from the
pipeline run id and the step's name, a step run is created once (If-None-Match), dispatching is idempotent, and the
run's own status moves only by `transition`. Step statuses are read from the step runs' records, which are the truth;
the pipeline run's record lists the steps' ids.
"""

from __future__ import annotations

import contextlib
import logging

from shared.core import layout
from shared.core.errors import NotFound
from shared.core.storage import Storage
from shared.pipelines.engine.step_start import ensure_dispatched, start_step
from shared.runs import work_leases
from shared.runs.run_records import TERMINAL, Moved, RunError, RunRecord, RunStatus, get_run, transition

log = logging.getLogger("fninfer.batch")

WATCH_ITEM = "steps"
#: How often an active pipeline run is advanced even when no step has told it anything.
WATCH_SECONDS = 30


def step_ids(run: RunRecord) -> dict[str, str]:
    return {name: state["id"] for name, state in run["steps"].items()}


def step_records(storage: Storage, run: RunRecord) -> dict[str, RunRecord | None]:
    """{step name: its step run's record, or None when it has not started}."""
    found: dict[str, RunRecord | None] = {}
    for name, step_id in step_ids(run).items():
        try:
            found[name] = get_run(storage, step_id)
        except NotFound:
            found[name] = None
    return found


def start(storage: Storage, run: RunRecord) -> None:
    """A new pipeline run: start its watch (due in WATCH_SECONDS: the first advance is this one), then advance it."""
    message = {"run": run["id"]}
    work_leases.dispatch(storage, run["id"], WATCH_ITEM, layout.PIPELINE_STEPS_QUEUE, message, delay=WATCH_SECONDS)
    advance(storage, run["id"])


def watch(storage: Storage, run_id: str) -> None:
    """The watch message's work: advance the run, then come back in WATCH_SECONDS, until the run is over."""
    try:
        run = get_run(storage, run_id)
    except NotFound:
        work_leases.release(storage, run_id, WATCH_ITEM)
        return
    if RunStatus(run["status"]) not in TERMINAL:
        advance(storage, run_id)
        run = get_run(storage, run_id)
    if RunStatus(run["status"]) in TERMINAL:
        if run["status"] != RunStatus.FINISHED.value:
            stop_steps(storage, run)  # a cancel or failure whose canceler died half-way
        work_leases.release(storage, run_id, WATCH_ITEM)
        return
    work_leases.hand_back(storage, run_id, WATCH_ITEM, delay=WATCH_SECONDS)


def _failure(name: str, record: RunRecord) -> RunError:
    error = record.get("error")
    failure: RunError = {**error} if error else {"message": ""}
    failure["message"] = f"step {name!r} {record['status'].lower()}: {(error and error['message']) or record['status']}"
    failure["step"] = name
    return failure


def advance(storage: Storage, run_id: str) -> None:
    """Start what can start; end the run when nothing runs and nothing can start (see the module's docstring)."""
    run = get_run(storage, run_id)
    if RunStatus(run["status"]) in TERMINAL:
        return
    graph = run["graph"]
    keep_going = bool(graph.get("continue_on_step_failure"))
    records = step_records(storage, run)
    started_now: set[str] = set()
    while True:
        failed = [name for name, r in records.items() if r is not None and r["status"] in _UNSUCCESSFUL]
        if failed and not keep_going:
            name = failed[0]
            if transition(storage, run_id, RunStatus.FAILED, error=_failure(name, records[name])):  # type: ignore[arg-type]
                stop_steps(storage, run)
            return
        started = False
        for spec in graph["steps"]:
            if records[spec["name"]] is not None:
                continue
            upstream = [records[name] for name in spec["depends_on"]]
            if all(r is not None and r["status"] == RunStatus.FINISHED.value for r in upstream):
                records[spec["name"]] = start_step(storage, run, spec, records)  # and dispatched
                started_now.add(spec["name"])
                started = True
        if not started:
            break
    live = [r for r in records.values() if r is not None and RunStatus(r["status"]) not in TERMINAL]
    if any(r is not None for r in records.values()):
        transition(storage, run_id, RunStatus.RUNNING, only_from=RunStatus.NOT_STARTED)
    for record in live:
        if record.get("name") not in started_now:  # an earlier advance started it and may have died before dispatching
            ensure_dispatched(storage, record)
    if live:
        return
    unsuccessful = [name for name, r in records.items() if r is None or r["status"] != RunStatus.FINISHED.value]
    if not unsuccessful:
        transition(storage, run_id, RunStatus.FINISHED)
        return
    failed = [name for name in unsuccessful if records[name] is not None]
    error: RunError = _failure(failed[0], records[failed[0]]) if failed else {"message": "no step could start"}  # type: ignore[arg-type]
    skipped = [name for name in unsuccessful if records[name] is None]
    if skipped:
        error["not_started"] = skipped
    transition(storage, run_id, RunStatus.FAILED, error=error)


_UNSUCCESSFUL = (RunStatus.FAILED.value, RunStatus.CANCELED.value)


def advance_parent(storage: Storage, moved: Moved) -> None:
    """Advance the pipeline run whose step run a transition ended (`moved`; nothing when it ended none). Whatever
    goes wrong here is left to the pipeline run's watch, which advances it again within WATCH_SECONDS: the step's own
    transition has happened and must stand."""
    if moved.pipeline_run is None:
        return
    try:
        advance(storage, moved.pipeline_run)
    except Exception:  # the watch covers any failure; the caller's work is done
        log.exception("Pipeline run %s: advancing after a step ended failed; its watch will retry", moved.pipeline_run)


def stop_steps(storage: Storage, run: RunRecord) -> None:
    """Cancel the run's steps that are still running (the run itself failed or was canceled)."""
    for step_id in step_ids(run).values():
        with contextlib.suppress(NotFound):
            transition(storage, step_id, RunStatus.CANCELED)


def cancel(storage: Storage, run_id: str) -> RunRecord:
    """Cancel a run that is not over yet, and its running steps (a terminal run is left as it is, as Azure ML
    does). A step run's id cancels that step, which fails its pipeline run unless continue_on_step_failure."""
    run = get_run(storage, run_id)
    advance_parent(storage, transition(storage, run_id, RunStatus.CANCELED))
    if "steps" in run:
        stop_steps(storage, get_run(storage, run_id))
    return get_run(storage, run_id)
