"""Running mini-batches: a lane at a time, exactly once in effect, with Azure ML's error meaning.

A queue message names a mini-batch; its lane (index % cap, see lanes.py) is what runs. The invocation claims the lane
(another live holder has it? leave), then runs its mini-batches in order from where the lane's recorded chunks end,
for up to LANE_SECONDS, and then hands the lane's next mini-batch back to the queue. While run() works on one
mini-batch, the next one's files download (prefetch). Results are written as lane chunks (about one blob per lane
every few seconds, see lanes.py); a redelivered or duplicated message finds the lane held, or complete, or goes on
where the chunks end. The lane that records the run's last mini-batch writes the output (fan-in) in the same
invocation.

Error meaning: run() returning fewer results than files fails the missing items; run() raising or passing
run_invocation_timeout is tried again, up to run_max_try tries (tries lost with an instance that stopped count too),
after which all its items fail and the mini-batch counts as failed. The run fails when failed items pass
error_threshold, or failed mini-batches pass allowed_failed_count or allowed_failed_percent of all mini-batches; -1
(or unset, for the last two) ignores a limit. Mini-batches not yet started are then skipped.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import layout, validators
from shared.core.storage import Storage, storage_errors
from shared.pipelines.batch import inputs, planning, sweeper
from shared.pipelines.batch.entry_script import EntryScriptError, LoadedScript, load
from shared.pipelines.batch.fanin import FANIN_ITEM, START_CURSOR, ResultsLost, finish, lost_results
from shared.pipelines.batch.planning import mini_batch
from shared.pipelines.engine import dag
from shared.registry.tabular import ParseError
from shared.runs import lanes, work_leases
from shared.runs.run_records import TERMINAL, RunError, RunRecord, RunStatus, get_run, plan_of, transition

#: How long one invocation keeps processing its lane before handing the next mini-batch to the queue. Going on in
#: the same invocation saves the queue's polling delay per mini-batch; handing off now and then lets the host spread
#: lanes over instances and keeps invocations well inside functionTimeout.
LANE_SECONDS = 30.0
#: How stale this process's view of a run's status may be (lanes notice a cancel or a failure within this).
RUN_REFRESH_SECONDS = 1.0
#: A message this instance has no lane slot for goes back on the queue, visible again after this many seconds.
HAND_BACK_SECONDS = 1
#: How often a process running lanes of a run also sweeps that run for lanes whose holder is gone (sweeper.py).
LANE_SWEEP_SECONDS = 2.0
#: Mini-batches whose files download while run() works on others, in this process.
_prefetch = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="minibatch-prefetch")
_cleanups = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="minibatch-cleanup")


def rows_of(result: Any) -> list[str]:
    """What append_row writes for run()'s return value: one line per element (a DataFrame: one per row, values
    separated by spaces)."""
    if result is None:
        return []
    if hasattr(result, "to_csv"):
        return [line for line in result.to_csv(sep=" ", header=False, index=False).splitlines() if line]
    return [str(row).replace("\n", " ") for row in result]


def _upload_outputs(storage: Storage, run: RunRecord, script: LoadedScript) -> None:
    """Files the script wrote to EntryScript().output_dir go to the step's output folder (then leave the local one).
    The folder is the process's: this holds the script's turn, so no run() of another lane is writing to it."""
    output = run["step"]["output"]
    folder = script.context.output_dir
    with script.lock:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = output["prefix"] + validators.validate_relative_path(path.relative_to(folder).as_posix())
            with path.open("rb") as handle, storage_errors(f"{output['datastore']}/{name}"):
                storage.container(output["container"]).upload_blob(name, handle, overwrite=True)
            path.unlink()


@dataclass
class Prepared:
    """A mini-batch ready for run(): its files downloaded (or its rows read), or why they could not be."""

    batch: dict[str, Any]
    data: Any = None
    error: str | None = None
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def cleanup(self) -> None:
        """Remove the downloaded files, off the lane's thread (removing a folder per file takes milliseconds)."""
        if self.scratch is not None:
            _cleanups.submit(self.scratch.cleanup)
            self.scratch = None


def prepare(storage: Storage, run: RunRecord, index: int) -> Prepared:
    batch = {**mini_batch(storage, run, index), "index": index}
    if run["step"]["input"].get("kind") == "tabular":
        try:
            return Prepared(batch, data=inputs.read_table(storage, run, batch["items"]))
        except ParseError as exc:  # the same bytes would not parse on another try either
            return Prepared(batch, error=exc.message)
    scratch = tempfile.TemporaryDirectory(prefix="fninfer-minibatch-")
    try:
        return Prepared(batch, data=inputs.download(storage, run, batch["items"], Path(scratch.name)), scratch=scratch)
    except BaseException:
        scratch.cleanup()
        raise


def execute(
    storage: Storage, run: RunRecord, prepared: Prepared, tries_used: int, record_try: Callable[[int], None]
) -> lanes.Result:
    """Run the entry script on a prepared mini-batch: the result record. `tries_used` tries of it were used up
    before (instances that stopped while running it); `record_try(n)` writes down that n tries are used up, before
    another one starts."""
    config = run["step"]["config"]
    max_tries = int(config["run_max_try"])
    index, items = prepared.batch["index"], prepared.batch["items"]
    tabular_input = run["step"]["input"].get("kind") == "tabular"
    if tries_used >= max_tries:  # every try so far ended with its instance (killed, crashed, out of memory)
        error = f"the instance running this mini-batch stopped {tries_used} times (run_max_try={max_tries})"
        return _failed(index, len(items), tries_used, [{"error": error, "traceback": None, "log": ""}])
    tries = tries_used + 1
    if prepared.error is not None:
        return _failed(index, 1, tries, [{"error": prepared.error, "traceback": None, "log": ""}])
    data = prepared.data
    count = len(data)
    try:
        script = load(storage, run)
    except EntryScriptError as exc:
        attempt: lanes.Attempt = {
            "error": exc.message,
            "traceback": exc.details.get("traceback"),
            "log": exc.details.get("log"),
        }
        return _failed(index, count, tries, [attempt])
    context = inputs.MiniBatchContext(storage, run, prepared.batch)
    init_log = script.take_init_log()
    attempts: list[lanes.Attempt] = []
    while True:
        mini_batch_input = data.copy() if tabular_input else list(data)  # each try sees the input as read
        outcome = script.call(mini_batch_input, float(config["run_invocation_timeout"]), context)
        if init_log:
            outcome.log, init_log = f"{init_log}{outcome.log}", ""
        _upload_outputs(storage, run, script)
        rows: list[str] | None = None
        if outcome.error is None:
            try:
                rows = rows_of(outcome.result)
            except TypeError:
                outcome.error = f"run() returned {type(outcome.result).__name__}; it must return a list or a DataFrame"
        attempts.append({"error": outcome.error, "traceback": outcome.traceback, "log": outcome.log})
        if rows is not None:
            return {
                "index": index,
                "items": count,
                "rows": rows,
                "failed_items": max(0, count - len(rows)),
                "batch_failed": False,
                "tries": tries,
                "attempts": attempts,
            }
        if tries >= max_tries:
            return _failed(index, count, tries, attempts)
        record_try(tries)
        tries += 1


def _failed(index: int, items: int, tries: int, attempts: list[lanes.Attempt]) -> lanes.Result:
    return {
        "index": index,
        "items": items,
        "rows": [],
        "failed_items": items,
        "batch_failed": True,
        "tries": tries,
        "attempts": attempts,
    }


def threshold_passed(config: dict[str, Any], counts: lanes.Counts, total_batches: int) -> str | None:
    """Which limit the failures so far pass, if any."""
    error_threshold = int(config["error_threshold"])
    if error_threshold != -1 and counts.items_failed > error_threshold:
        return f"{counts.items_failed} failed items is more than error_threshold={error_threshold}"
    allowed_count = config["allowed_failed_count"]
    if allowed_count is not None and allowed_count != -1 and counts.batches_failed > allowed_count:
        return f"{counts.batches_failed} failed mini-batches is more than allowed_failed_count={allowed_count}"
    allowed_percent = config["allowed_failed_percent"]
    if allowed_percent is not None and allowed_percent != -1:
        percent = 100 * counts.batches_failed / max(1, total_batches)
        if percent > allowed_percent:
            return f"{percent:.1f}% failed mini-batches is more than allowed_failed_percent={allowed_percent}"
    return None


def process(storage: Storage, run_id: str, index: int, owner: str, lane_seconds: float = LANE_SECONDS) -> None:
    """Run the lane of mini-batch `index` for up to `lane_seconds`; or, when this host instance already runs
    process_count_per_node lanes of the run, hand the message back for another instance."""
    run = get_run(storage, run_id)
    if RunStatus(run["status"]) in TERMINAL:
        return
    _remember(run)
    plan = plan_of(run)
    with _lane_slot(run_id, int(plan["per_node"])) as granted:
        if not granted:
            lanes.hand_back(storage, run_id, index, delay=HAND_BACK_SECONDS)
            return
        taken = lanes.claim(storage, run, index % int(plan["cap"]), owner)
        if isinstance(taken, lanes.Lane):
            _run_lane(storage, run, taken, lane_seconds)
        elif taken is not None:  # complete already (a redelivery): make sure the run goes on to its fan-in
            _finish_if_complete(storage, run, owner, None)


def plan_and_start(storage: Storage, run_id: str, owner: str, lane_seconds: float = LANE_SECONDS) -> None:
    """The planning queue function: plan the run, and run the lanes this instance has slots for right here (no
    queue hop between planning and the first mini-batches); the others go on the queue."""
    run = get_run(storage, run_id)
    per_node = planning.per_node(run["step"]["config"]) if run.get("plan") is None else int(plan_of(run)["per_node"])
    with _lanes_lock:
        free = max(0, per_node - _lanes.get(run_id, 0))
    taken = planning.plan(storage, run_id, owner, take=free)
    if not taken:
        return
    run = taken[0].run
    _remember(run)
    threads = [
        threading.Thread(target=_run_taken, args=(storage, run, lane, lane_seconds), name=f"lane-{lane.lane}")
        for lane in taken[1:]
    ]
    for thread in threads:
        thread.start()
    _run_taken(storage, run, taken[0], lane_seconds)
    for thread in threads:
        thread.join()


def _run_taken(storage: Storage, run: RunRecord, lane: lanes.Lane, lane_seconds: float) -> None:
    with _lane_slot(run["id"], int(plan_of(run)["per_node"])) as granted:
        if granted:
            _run_lane(storage, run, lane, lane_seconds)
        else:  # another message of the run took the slot meanwhile
            lane.release(delay=HAND_BACK_SECONDS)


_lanes: dict[str, int] = {}
_lanes_lock = threading.Lock()


@contextlib.contextmanager
def _lane_slot(run_id: str, per_node: int) -> Iterator[bool]:
    """One of this process's `per_node` lane slots for the run, if one is free. (The host's queue listener runs up to
    batchSize + newBatchThreshold messages at once; host.json keeps that at per_node, docs/batch-scale-out.md. Where
    it is more, a message past the slots goes back to the queue rather than one instance running every lane.)"""
    with _lanes_lock:
        granted = _lanes.get(run_id, 0) < per_node
        if granted:
            _lanes[run_id] = _lanes.get(run_id, 0) + 1
    try:
        yield granted
    finally:
        if granted:
            with _lanes_lock:
                _lanes[run_id] -= 1
                if not _lanes[run_id]:
                    del _lanes[run_id]


# -- the run's status, as this process last read it -----------------------------------------------------------------

_runs: dict[str, tuple[RunRecord, float]] = {}
_runs_lock = threading.Lock()


def _remember(run: RunRecord) -> None:
    with _runs_lock:
        _runs[run["id"]] = (run, time.monotonic())
        if len(_runs) > 1024:  # forget runs long over
            _runs.pop(next(iter(_runs)))


def _current(storage: Storage, run: RunRecord) -> RunRecord:
    """The run record, read again when this process's copy is older than RUN_REFRESH_SECONDS (one read per process
    and second, whatever the number of lanes)."""
    with _runs_lock:
        known, read_at = _runs.get(run["id"], (run, 0.0))
    if time.monotonic() - read_at <= RUN_REFRESH_SECONDS:
        return known
    fresh = get_run(storage, run["id"])
    _remember(fresh)
    return fresh


def _run_lane(storage: Storage, run: RunRecord, lane: lanes.Lane, lane_seconds: float) -> None:
    """Run the lane's mini-batches in order until it is done, the run is over, or `lane_seconds` have passed (then
    hand it off); its results are written as the lane decides (lanes.Lane.due) and when it stops."""
    deadline = time.monotonic() + lane_seconds
    ahead: tuple[int, concurrent.futures.Future[Prepared]] | None = None
    hand_off = False
    try:
        with lane.held():
            while not lane.done and not lane.lost:
                run = _current(storage, run)
                if RunStatus(run["status"]) in TERMINAL:
                    break
                position = lane.next_position
                index = lane.index(position)
                if ahead is not None and ahead[0] == index:
                    prepared = ahead[1].result()
                else:
                    _discard(ahead)
                    prepared = prepare(storage, run, index)
                ahead = None
                more = position + 1 < lane.positions and time.monotonic() < deadline
                if more:  # the next mini-batch's files download while this one runs
                    ahead = (
                        lane.index(position + 1),
                        _prefetch.submit(prepare, storage, run, lane.index(position + 1)),
                    )
                try:
                    result = execute(
                        storage, run, prepared, lane.tries_used(position), lambda n, p=position: lane.failed_try(p, n)
                    )
                finally:
                    prepared.cleanup()
                lane.add(result)
                if lane.due():
                    lane.flush()
                if result["failed_items"] and _fail_if_past_threshold(storage, run, result):
                    break
                _sweep_if_due(storage, run)
                if time.monotonic() >= deadline and not lane.done:
                    hand_off = True
                    break
            lane.flush()
            if hand_off:
                lane.release()
    except lanes.LaneLost:
        return  # its new holder goes on with it
    except BaseException:
        with contextlib.suppress(Exception):  # keep what ran; the lane's hold runs out and the sweeper requeues it
            lane.flush()
        raise
    finally:
        _discard(ahead)
    if lane.done:
        _finish_if_complete(storage, run, lane.owner, lane)


def _discard(ahead: tuple[int, concurrent.futures.Future[Prepared]] | None) -> None:
    """Forget a prefetched mini-batch that will not run here (its scratch folder goes once its download ends)."""
    if ahead is not None:
        ahead[1].add_done_callback(lambda done: None if done.exception() else done.result().cleanup())


def _fail_if_past_threshold(storage: Storage, run: RunRecord, result: lanes.Result) -> bool:
    """After a mini-batch with failures (written at once, see lanes.Lane.due): fail the run when the failures
    written so far pass a threshold."""
    reason = threshold_passed(
        run["step"]["config"], lanes.counts(storage, run["id"]), int(plan_of(run)["total_batches"])
    )
    if reason is None:
        return False
    last = result["attempts"][-1] if result["attempts"] else lanes.Attempt(error=None, traceback=None, log=None)
    error: RunError = {
        "message": f"{reason}; the run stopped at mini-batch {result['index']}",
        "mini_batch": result["index"],
        "error": last.get("error") or f"run() returned {len(result['rows'])} results for {result['items']} files",
        "traceback": last.get("traceback"),
        "log": (last.get("log") or "")[-8192:],  # the end of what it printed or logged
    }
    dag.advance_parent(storage, transition(storage, run["id"], RunStatus.FAILED, error=error))
    return True


def _finish_if_complete(storage: Storage, run: RunRecord, owner: str, lane: lanes.Lane | None) -> None:
    """When every lane is complete, take the fan-in and write the output here, rather than wait for a queue hop.
    Each lane checks after writing its last chunk, so the last one to finish sees them all. A `lane` that wrote
    all its positions and finds its chain shorter (storage lost some) hands them back to the queue to run again."""
    states = lanes.survey(storage, run["id"])
    mine = states.get(lane.lane) if lane is not None else None
    if lane is not None and mine is not None and mine.end < lane.positions:
        if lost_results(storage, run, ResultsLost(run["id"], lane.lane, mine.end)):
            with contextlib.suppress(lanes.LaneLost):  # taken over meanwhile: its new holder runs them
                lane.resume(mine)
                lane.release()
        return
    if not lanes.complete(plan_of(run), states):
        return
    run = _current(storage, run)
    if RunStatus(run["status"]) != RunStatus.RUNNING:
        return  # canceled or failed meanwhile (a fan-in that slips through is refused Finished, see fanin.finish)
    fanin_lease = work_leases.dispatch(
        storage, run["id"], FANIN_ITEM, layout.FANIN_QUEUE, {"run": run["id"]}, owner=owner, cursor=START_CURSOR
    )
    if fanin_lease is not None:
        finish(storage, run, owner, fanin_lease)


_swept: dict[str, float] = {}
_swept_lock = threading.Lock()


def _sweep_if_due(storage: Storage, run: RunRecord) -> None:
    """Sweep the run for lanes a dead instance left, at most every LANE_SWEEP_SECONDS per process."""
    with _swept_lock:
        due = time.monotonic() - _swept.setdefault(run["id"], time.monotonic()) >= LANE_SWEEP_SECONDS
        if due:
            _swept[run["id"]] = time.monotonic()
            if len(_swept) > 1024:  # forget runs long over
                _swept.pop(next(iter(_swept)))
    if due:
        sweeper.sweep_run(storage, run)
