"""The watchdog: a run that makes no progress is examined, repaired if it can be, and failed with the reason if not.

Leases and the sweeper take back work whose holder is gone. What they cannot see is work whose holder is alive and
gets nowhere (a lane renewing its hold around a run() that never returns), or a state nothing moves on from (a record
that storage lost, a message lost with it). The sweeper's timer (one instance at a time) hands every active run to
`examine`, which reads the run's progress: its status and, by kind,

    ParallelRunStep   its plan, each lane's chain end and tries, the fan-in's cursor
    PythonScriptStep  its lease's tries
    pipeline run      its steps' statuses, once none is running (a running step has a watchdog of its own)

When that has not changed for the run's stall time (`stall_seconds`: the longest a step may rightly go without
progress, plus the app setting FNINFER_RUN_WATCHDOG_SECONDS, 180 s by default), the watchdog puts what is stuck back
in line, taking it from a live holder if need be (a lane or lease re-dispatched, a missing lane record or lease made
again, a pipeline run advanced), and writes a warning on the run that says what it found (`get_details()` lists the
warnings). A run that makes no progress for another stall time after MAX_RESTARTS such repairs is failed with what
was stuck.

Progress is remembered by the sweeping process only: an instance that takes the timer over starts counting afresh,
which delays a verdict by one stall time at most, and costs no storage request while runs progress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from shared.core import clock, layout
from shared.core.settings import WATCHDOG_SETTING, get_setting
from shared.core.storage import Storage
from shared.pipelines.batch import planning
from shared.pipelines.batch.fanin import FANIN_ITEM, START_CURSOR
from shared.pipelines.engine import dag
from shared.pipelines.engine.step_start import SCRIPT_ITEM, ensure_dispatched
from shared.pipelines.scripts import script_step
from shared.runs import lanes, work_leases
from shared.runs.run_records import TERMINAL, RunRecord, RunStatus, plan_of, transition, warn

DEFAULT_WATCHDOG_SECONDS = 180.0
#: Repairs of a run that makes no progress before it is failed.
MAX_RESTARTS = 2


def margin_seconds() -> float:
    return float(get_setting(WATCHDOG_SETTING) or DEFAULT_WATCHDOG_SECONDS)


def stall_seconds(run: RunRecord) -> float:
    """How long `run` may go without progress before the watchdog looks into it."""
    if run.get("type") == "ParallelRunStep":
        step = float(run["step"]["config"]["run_invocation_timeout"])
    elif run.get("type") == "PythonScriptStep":
        step = float(min(int(run["step"].get("timeout") or script_step.MAX_TIMEOUT), script_step.MAX_TIMEOUT))
    else:
        step = 0.0  # a pipeline run's own progress is its steps': each has a watchdog of its own
    return step + margin_seconds()


@dataclass
class _Seen:
    progress: tuple[Any, ...]
    since: float


_seen: dict[str, _Seen] = {}
_seen_lock = threading.Lock()


def examine(storage: Storage, run: RunRecord) -> str | None:
    """Look at an active run: remember its progress, and repair it (or fail it) when it has made none for its stall
    time. Returns what was done, if anything."""
    if RunStatus(run["status"]) in TERMINAL:
        forget(run["id"])
        return None
    steps = dag.step_records(storage, run) if "steps" in run else {}
    if any(step is not None and RunStatus(step["status"]) not in TERMINAL for step in steps.values()):
        forget(run["id"])  # its running steps are watched themselves
        return None
    work = work_leases.records(storage, run["id"])
    states = lanes.survey(storage, run["id"]) if run.get("plan") else {}
    progress = _progress(run, work, states, steps)
    now = clock.monotonic()
    with _seen_lock:
        seen = _seen.get(run["id"])
        if seen is None or seen.progress != progress:
            _seen[run["id"]] = _Seen(progress, now)
            return None
        if now - seen.since < stall_seconds(run):
            return None
        seen.since = now  # the next look is one stall time after this one
    stuck = _diagnosis(run, work, states, steps)
    waited = f"no progress for {stall_seconds(run):.0f} s"
    restarts = sum(1 for warning in run.get("warnings") or () if warning["kind"] == "stalled")
    if restarts >= MAX_RESTARTS:
        message = f"{waited} after {restarts} restarts of what was stuck: {stuck}"
        dag.advance_parent(
            storage, transition(storage, run["id"], RunStatus.FAILED, error={"message": message, "stalled": True})
        )
        forget(run["id"])
        return message
    warn(storage, run["id"], "stalled", f"{waited}: {stuck}; restarting it")
    return _repair(storage, run, work, states)  # counted before it is tried: a repair that fails counts too


def forget(run_id: str) -> None:
    with _seen_lock:
        _seen.pop(run_id, None)


Work = dict[str, tuple[work_leases.Lease, str]]


def _cursor(work: Work) -> dict[str, int] | None:
    """The fan-in's cursor, when the fan-in is in flight."""
    return work[FANIN_ITEM][0].get("cursor") or dict(START_CURSOR) if FANIN_ITEM in work else None


def _progress(
    run: RunRecord, work: Work, states: dict[int, lanes.LaneState], steps: dict[str, RunRecord | None]
) -> tuple[Any, ...]:
    kind = run.get("type")
    if kind == "ParallelRunStep":
        chains = tuple(sorted((k, s.end, s.at, s.tries) for k, s in states.items()))
        return (run["status"], plan["id"] if (plan := run.get("plan")) else None, chains, _cursor(work))
    if kind == "PythonScriptStep":
        return (run["status"], work[SCRIPT_ITEM][0].get("tries") if SCRIPT_ITEM in work else None)
    return (run["status"], tuple(sorted((name, step and step["status"]) for name, step in steps.items())))


def _diagnosis(
    run: RunRecord, work: Work, states: dict[int, lanes.LaneState], steps: dict[str, RunRecord | None]
) -> str:
    """What the run is waiting for, in words."""
    kind = run.get("type")
    if kind == "ParallelRunStep":
        plan = run.get("plan")
        if plan is None:
            return _item("planning", work.get(planning.PLAN_ITEM))
        cap, total = int(plan["cap"]), int(plan["total_batches"])
        waiting = []
        for k in range(lanes.lane_count(plan)):
            state = states.get(k)
            if state is None or state.etag is None:
                waiting.append(f"lane {k} has no record")
            elif state.end < lanes.positions(total, cap, k):
                holder = f"held by {state.owner}" if state.owner and state.alive() else "not held"
                waiting.append(f"lane {k} at mini-batch {k + state.end * cap} ({holder}, try {state.tries + 1})")
        if waiting:
            return "; ".join(waiting)
        cursor = _cursor(work)
        written = f"written up to mini-batch {cursor['next']} of {total}" if cursor else "not started"
        return f"every mini-batch is recorded; the output is {written}"
    if kind == "PythonScriptStep":
        return _item("the script", work.get(SCRIPT_ITEM))
    statuses = [f"{name} {step['status'] if step else 'not started'}" for name, step in steps.items()]
    return "its steps are " + ", ".join(statuses)


def _item(what: str, held: tuple[work_leases.Lease, str] | None) -> str:
    if held is None:
        return f"{what} has no work item in flight"
    record = held[0]
    holder = f"held by {record['owner']}" if record["owner"] and record["until"] > clock.time() else "queued"
    return f"{what} is {holder} (try {record['tries']})"


#: Tries at taking a lane back from a holder that keeps renewing its hold (each renewal changes the record's etag).
TAKE_BACK_ATTEMPTS = 5


def _take_back(storage: Storage, run: RunRecord, state: lanes.LaneState) -> bool:
    """Re-dispatch a stuck lane, even from a live holder: one that renews its hold (every third of a lease) would
    otherwise win against the state read when the run was examined. False when the lane moved meanwhile (a new chunk,
    holder or try): that is progress, not a stall."""
    for _ in range(TAKE_BACK_ATTEMPTS):
        if lanes.redispatch(storage, run, state):
            return True
        fresh = lanes.survey(storage, run["id"], state.lane).get(state.lane)
        if fresh is None or fresh.etag is None or _moved(state, fresh):
            return False
        state = fresh
    return False


def _moved(before: lanes.LaneState, after: lanes.LaneState) -> bool:
    return (after.end, after.owner, after.tries) != (before.end, before.owner, before.tries)


def _take_back_item(storage: Storage, run_id: str, item: str, record: work_leases.Lease, etag: str) -> str:
    """`_take_back` for a work item (planning, a script, the fan-in, a pipeline's watch); returns what was done."""
    for _ in range(TAKE_BACK_ATTEMPTS):
        if work_leases.redispatch(storage, run_id, item, record, etag):
            return f"re-dispatched {item}"
        fresh = work_leases.records(storage, run_id).get(item)
        if fresh is None or _item_moved(record, fresh[0]):
            return f"nothing: {item} moved on meanwhile"
        record, etag = fresh
    return f"nothing: {item}'s holder renewed it at each try"


def _item_moved(before: work_leases.Lease, after: work_leases.Lease) -> bool:
    fields = ("owner", "tries", "cursor")
    return tuple(after.get(name) for name in fields) != tuple(before.get(name) for name in fields)


def _repair(storage: Storage, run: RunRecord, work: Work, states: dict[int, lanes.LaneState]) -> str:
    """Put what is stuck back in line; returns what was done."""
    kind = run.get("type")
    if kind == "PythonScriptStep" or (kind == "ParallelRunStep" and run.get("plan") is None):
        item = SCRIPT_ITEM if kind == "PythonScriptStep" else planning.PLAN_ITEM
        if item in work:
            return _take_back_item(storage, run["id"], item, *work[item])
        ensure_dispatched(storage, run)
        return f"dispatched {item} again"
    if kind == "ParallelRunStep":
        plan = plan_of(run)
        cap, total = int(plan["cap"]), int(plan["total_batches"])
        done, short = [], False
        for k in range(lanes.lane_count(plan)):
            state = states.get(k)
            if state is None or state.etag is None:
                lanes.dispatch(storage, run, k)
                done.append(f"lane {k} dispatched")
            elif state.end < lanes.positions(total, cap, k):
                short = True
                if _take_back(storage, run, state):
                    done.append(f"lane {k} re-dispatched")
        if done:
            return ", ".join(done)
        if short:  # its lanes moved on meanwhile: the fan-in's turn has not come
            return "nothing: its lanes moved on meanwhile"
        message = {"run": run["id"]}
        if FANIN_ITEM in work:
            return _take_back_item(storage, run["id"], FANIN_ITEM, *work[FANIN_ITEM])
        work_leases.dispatch(storage, run["id"], FANIN_ITEM, layout.FANIN_QUEUE, message, cursor=START_CURSOR)
        return "dispatched the fan-in"
    dag.advance(storage, run["id"])
    if dag.WATCH_ITEM in work:
        return "advanced it; " + _take_back_item(storage, run["id"], dag.WATCH_ITEM, *work[dag.WATCH_ITEM])
    work_leases.dispatch(storage, run["id"], dag.WATCH_ITEM, layout.PIPELINE_STEPS_QUEUE, {"run": run["id"]})
    return f"advanced it and dispatched {dag.WATCH_ITEM}"
