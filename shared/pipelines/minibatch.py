"""Processing one mini-batch, exactly once in effect, with Azure ML's error meaning.

    1. The run is over (Finished, Failed, Canceled)?  Nothing to do: mini-batches not yet started are skipped.
    2. No result recorded yet: claim the lease `mb-<index>` (another live owner has it? leave), download the files
       concurrently, call run() up to run_max_try times (each try counted on the lease, so tries lost with a killed
       instance count too), then create the result record `results/<index>` with If-None-Match. A duplicate that lost
       the race keeps the first record: rows exist once, in that record, and nowhere else until the fan-in.
    3. Bookkeeping, idempotent, redone by any redelivery: failures past a threshold fail the run; else dispatch the
       lane's next mini-batch (index + cap), set the mini-batch's progress bit, and when that completes the run,
       dispatch the fan-in. Then release the lease.

Error meaning: run() returning fewer results than files fails the missing items; run() raising or passing
run_invocation_timeout is tried again, up to run_max_try tries, after which all its items fail and the mini-batch
counts as failed. The run fails when failed items pass error_threshold, or failed mini-batches pass
allowed_failed_count or allowed_failed_percent of all mini-batches; -1 (or unset, for the last two) ignores a limit.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared import layout
from shared.errors import ConcurrencyConflict
from shared.pipelines import inputs, leases, progress, sweeper
from shared.pipelines.entry_script import EntryScriptError, LoadedScript, load
from shared.pipelines.fanin import FANIN_ITEM, START_CURSOR, finish, run_complete
from shared.pipelines.planning import batch_item, dispatch_batch, mini_batch
from shared.pipelines.runs import TERMINAL, Record, RunStatus, get_run, transition
from shared.storage import Storage, storage_errors
from shared.tabular import ParseError

#: How long one invocation keeps processing its lane before handing the next mini-batch to the queue. Going on in
#: the same invocation saves the queue's polling delay per mini-batch; handing off now and then lets the host spread
#: lanes over instances and keeps invocations well inside functionTimeout.
LANE_SECONDS = 30.0
RUN_REFRESH_SECONDS = 1.0
#: A message this instance has no lane slot for goes back on the queue, visible again after this many seconds.
HAND_BACK_SECONDS = 1
#: How often a process running lanes of a run also sweeps that run for expired leases (see sweeper.py).
LANE_SWEEP_SECONDS = 2.0


def rows_of(result: Any) -> list[str]:
    """What append_row writes for run()'s return value: one line per element (a DataFrame: one per row, values
    separated by spaces)."""
    if result is None:
        return []
    if hasattr(result, "to_csv"):
        return [line for line in result.to_csv(sep=" ", header=False, index=False).splitlines() if line]
    return [str(row).replace("\n", " ") for row in result]


def _upload_outputs(storage: Storage, run: Record, script: LoadedScript) -> None:
    """Files the script wrote to EntryScript().output_dir go to the step's output folder (then leave the local one).
    The folder is the process's: this holds the script's turn, so no run() of another lane is writing to it."""
    output = run["step"]["output"]
    folder = script.context.output_dir
    with script.lock:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = output["prefix"] + layout.validate_relative_path(path.relative_to(folder).as_posix())
            with path.open("rb") as handle, storage_errors(f"{output['datastore']}/{name}"):
                storage.container(output["container"]).upload_blob(name, handle, overwrite=True)
            path.unlink()


def execute(storage: Storage, run: Record, index: int, owner: str, tries_so_far: int) -> dict[str, Any]:
    """Run the entry script on mini-batch `index`: the result record's content."""
    config = run["step"]["config"]
    max_tries = int(config["run_max_try"])
    batch = {**mini_batch(storage, run, index), "index": index}
    items = batch["items"]
    tabular_input = run["step"]["input"].get("kind") == "tabular"
    attempts: list[dict[str, Any]] = []
    if tries_so_far > max_tries:  # every try so far ended with its instance (killed, crashed, out of memory)
        error = f"the instance running this mini-batch stopped {tries_so_far - 1} times (run_max_try={max_tries})"
        return _failed(index, len(items), tries_so_far - 1, [{"error": error, "traceback": None, "log": ""}])
    with tempfile.TemporaryDirectory(prefix="fninfer-minibatch-") as scratch:
        data: Any
        if tabular_input:
            try:
                data = inputs.read_table(storage, run, items)
            except ParseError as exc:  # the same bytes would not parse on another try either
                return _failed(index, 1, tries_so_far, [{"error": exc.message, "traceback": None, "log": ""}])
        else:
            data = inputs.download(storage, run, items, Path(scratch))
        count = len(data)
        try:
            script = load(storage, run)
        except EntryScriptError as exc:
            attempt = {"error": exc.message, "traceback": exc.details.get("traceback"), "log": exc.details.get("log")}
            return _failed(index, count, tries_so_far, [attempt])
        context = inputs.MiniBatchContext(storage, run, batch)
        init_log = script.take_init_log()
        tries = tries_so_far
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
                    outcome.error = (
                        f"run() returned {type(outcome.result).__name__}; it must return a list or a DataFrame"
                    )
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
            tries = int(leases.update(storage, run["id"], batch_item(index), owner, tries=tries + 1)["tries"])


def _failed(index: int, items: int, tries: int, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "index": index,
        "items": items,
        "rows": [],
        "failed_items": items,
        "batch_failed": True,
        "tries": tries,
        "attempts": attempts,
    }


def threshold_passed(config: dict[str, Any], counts: progress.Counts, total_batches: int) -> str | None:
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
    """Process mini-batch `index`, then the rest of its lane in this invocation for up to `lane_seconds`; or, when
    this host instance already runs process_count_per_node lanes of the run, hand the message back for another."""
    run = get_run(storage, run_id)
    if RunStatus(run["status"]) in TERMINAL:
        return
    with _lane_slot(run_id, int(run["plan"]["per_node"])) as granted:
        if granted:
            _run_lane(storage, run, index, owner, lane_seconds)
        else:
            leases.hand_back(storage, run_id, batch_item(index), delay=HAND_BACK_SECONDS)


_lanes: dict[str, int] = {}
_lanes_lock = threading.Lock()


@contextlib.contextmanager
def _lane_slot(run_id: str, per_node: int) -> Iterator[bool]:
    """One of this process's `per_node` lane slots for the run, if one is free. (The host queue listener takes up to
    batchSize messages at once: without this, one instance would take every lane and leave the others idle.)"""
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


def _run_lane(storage: Storage, run: Record, index: int, owner: str, lane_seconds: float) -> None:
    run_id = run["id"]
    deadline = time.monotonic() + lane_seconds
    read_at = time.monotonic()
    taken: leases.Lease | None = None  # the lease, when this invocation put the mini-batch in flight itself
    while True:
        if time.monotonic() - read_at > RUN_REFRESH_SECONDS:  # notice a cancel or a failure soon, not every time
            run, read_at = get_run(storage, run_id), time.monotonic()
        if RunStatus(run["status"]) in TERMINAL:
            return
        successor, taken = _process_one(storage, run, index, owner, taken, inline=time.monotonic() < deadline)
        _sweep_if_due(storage, run_id)
        if successor is None:
            return
        index = successor


_swept: dict[str, float] = {}
_swept_lock = threading.Lock()


def _sweep_if_due(storage: Storage, run_id: str) -> None:
    """Sweep the run for work a dead instance left, at most every LANE_SWEEP_SECONDS per process."""
    with _swept_lock:
        due = time.monotonic() - _swept.get(run_id, 0.0) >= LANE_SWEEP_SECONDS
        if due:
            _swept[run_id] = time.monotonic()
            if len(_swept) > 1024:  # forget runs long over
                _swept.pop(next(iter(_swept)))
    if due:
        sweeper.sweep_run(storage, run_id)


def _process_one(
    storage: Storage, run: Record, index: int, owner: str, taken: leases.Lease | None, inline: bool
) -> tuple[int | None, leases.Lease | None]:
    path = layout.batch_result(run["id"], index)
    if taken is None:
        recorded, _ = storage.try_read_json(layout.RUNS_CONTAINER, path)
        if recorded is not None:  # a redelivery, a duplicate or a sweep: only the bookkeeping is left to (re)do
            return bookkeeping(storage, run, recorded, False, owner, inline)
        taken = leases.claim(storage, run["id"], batch_item(index), owner)
        if taken is None:
            return None, None  # a live owner has it, or it is done and released
    with leases.heartbeat(storage, run["id"], batch_item(index), owner):
        result = execute(storage, run, index, owner, int(taken["tries"]))
    try:
        storage.create_json(layout.RUNS_CONTAINER, path, result)
    except ConcurrencyConflict:  # a duplicate recorded it first: keep that one
        recorded, _ = storage.read_json(layout.RUNS_CONTAINER, path)
        return bookkeeping(storage, run, recorded, False, owner, inline)
    return bookkeeping(storage, run, result, True, owner, inline)


def bookkeeping(
    storage: Storage, run: Record, result: dict[str, Any], fresh: bool, owner: str, inline: bool
) -> tuple[int | None, leases.Lease | None]:
    """Record the mini-batch's progress and put its lane's next mini-batch in flight: on the queue, or (`inline`)
    taken by `owner` and returned, for this invocation to process. The mini-batch that completes the run goes on to
    the fan-in itself. Idempotent: a redelivery redoes it harmlessly."""
    run_id, index = run["id"], int(result["index"])
    plan, config = run["plan"], run["step"]["config"]
    shard = progress.record(storage, run_id, index, int(result["failed_items"]), bool(result["batch_failed"]))
    if result["failed_items"]:
        reason = threshold_passed(config, progress.counts(storage, run_id), plan["total_batches"])
        if reason is not None:
            last = result["attempts"][-1] if result["attempts"] else {}
            error = {
                "message": f"{reason}; the run stopped at mini-batch {index}",
                "mini_batch": index,
                "error": last.get("error")
                or f"run() returned {len(result['rows'])} results for {result['items']} files",
                "traceback": last.get("traceback"),
                "log": (last.get("log") or "")[-8192:],  # the end of what it printed or logged
            }
            transition(storage, run_id, RunStatus.FAILED, error=error)
            return None, None
    successor: int | None = index + plan["cap"]
    # A fresh result means this is the first bookkeeping of `index`, so nothing has put its successor in flight yet.
    if successor >= plan["total_batches"] or (
        not fresh and storage.try_read_json(layout.RUNS_CONTAINER, layout.batch_result(run_id, successor))[0]
    ):
        successor = None
    inline_owner = owner if inline else None
    taken = dispatch_batch(storage, run_id, successor, owner=inline_owner) if successor is not None else None
    if progress.shard_complete(shard, plan["total_batches"], index) and run_complete(
        storage, run, after_shard=index % layout.PROGRESS_SHARDS
    ):
        fanin_lease = leases.dispatch(
            storage, run_id, FANIN_ITEM, layout.FANIN_QUEUE, {"run": run_id}, owner=owner, cursor=START_CURSOR
        )
        if fanin_lease is not None:  # ours: write the output now, rather than wait for a queue hop
            finish(storage, run, owner, fanin_lease)
    leases.release(storage, run_id, batch_item(index))
    if inline_owner is None or taken is None:
        return None, None
    return successor, taken
