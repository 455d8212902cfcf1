"""Fan-in: every mini-batch's rows into one append blob, each row exactly once, in mini-batch order.

The lane that completes the run takes the `fanin` work lease and writes the output in the same invocation (the
fan-in queue sees the run only if the sweeper finds that writer dead). One writer at a time holds the lease (see
work_leases.py), whose record also carries the cursor `{"next": <mini-batch>, "offset": <bytes written>}`. The writer
reads the lanes' chunks (lanes.py; a few per lane, read ahead concurrently) and takes the mini-batches from `next` on
in order (mini-batch i is lane i % cap's position i // cap), coalesces their rows into blocks of at most 4 MiB,
appends each block with `appendpos = offset`, and then moves the cursor (If-Match, owner checked). A writer that
dies after its append landed but before it moved the cursor leaves the blob ahead of the cursor: the next writer's
append at the stale offset is refused (412), it reads what landed, finds exactly the bytes it was about to write
(blocks are made the same way from immutable chunks), and moves on without writing them again. A writer whose lease
was taken over is refused its cursor write and stops.

Storage that loses what it acknowledged (Azurite killed forgets its last seconds of writes) is repaired here, a
bounded number of times (MAX_REPAIRS, counted as the run's warnings), and then fails the run naming what was lost:
a lane chunk that is gone when the writer reads it puts that lane's mini-batches from there back in line to run
again (the lease is let go; the lane's next completion takes the fan-in again), and an output that does not hold
what the cursor says was written is written again from the start.

Rows appear in mini-batch order, which is the order of the input files (sorted by datastore path), and within a
mini-batch in the order run() returned them. Blocks are at most 4 MiB and hold many mini-batches, so 50,000 blocks
hold ~195 GiB of rows: a million files fit many times over.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections import deque
from collections.abc import Iterator

from azure.core import MatchConditions
from azure.storage.blob import BlobClient

from shared.core import layout
from shared.core.errors import ConcurrencyConflict, IntegrityError, NotFound
from shared.core.storage import Storage, storage_errors
from shared.pipelines.batch.entry_script import shutdown_run
from shared.pipelines.engine import dag
from shared.pipelines.engine.definition import output_file_name
from shared.runs import lanes, work_leases
from shared.runs.reuse import remember
from shared.runs.run_records import RunError, RunRecord, RunStatus, get_run, plan_of, transition, warn

FANIN_ITEM = "fanin"
START_CURSOR = {"next": 0, "offset": 0}
MAX_BLOCK = 4 * 1024 * 1024
#: Mini-batches per cursor move (at most; a 4 MiB block moves it too).
WINDOW = 256
READ_THREADS = 8
#: Repairs of one kind (results lost, output rewritten) a run's fan-in makes before it fails the run instead.
MAX_REPAIRS = 3


class ResultsLost(IntegrityError):
    """A lane's chain no longer holds results it held when the fan-in began (storage lost them)."""

    def __init__(self, run_id: str, lane: int, position: int) -> None:
        super().__init__(f"run {run_id}: lane {lane}'s results from position {position} on are gone from storage")
        self.lane, self.position = lane, position


def run_complete(storage: Storage, run: RunRecord) -> bool:
    """Whether every lane has recorded all its mini-batches (one listing)."""
    return lanes.complete(plan_of(run), lanes.survey(storage, run["id"]))


def append_at(blob: BlobClient, data: bytes, offset: int) -> int:
    """Append `data` at `offset` exactly once; returns the new end. Whatever part of `data` an earlier writer already
    appended there is verified byte for byte, not written again."""
    while data:
        try:
            with storage_errors(blob.blob_name):
                blob.append_block(data[:MAX_BLOCK], appendpos_condition=offset)
            offset, data = offset + min(len(data), MAX_BLOCK), data[MAX_BLOCK:]
        except ConcurrencyConflict as exc:
            with storage_errors(blob.blob_name):
                size = int(blob.get_blob_properties().size)
                landed = min(size - offset, len(data))
                same = landed > 0 and blob.download_blob(offset=offset, length=landed).readall() == data[:landed]
            if not same:
                raise IntegrityError(
                    f"{blob.blob_name} holds {size} bytes that do not continue this run's rows at offset {offset}"
                ) from exc
            offset, data = offset + landed, data[landed:]
    return offset


def in_order(storage: Storage, run: RunRecord, start: int) -> Iterator[lanes.Result]:
    """Every mini-batch's result from `start` on, in mini-batch order, from the lanes' chunks: each lane's chunks are
    read one after another, the next one of each lane while the current ones are consumed."""
    plan = plan_of(run)
    cap, total = int(plan["cap"]), int(plan["total_batches"])
    states = lanes.survey(storage, run["id"])
    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        readers = [
            _LaneReader(storage, run["id"], states[k], len(range(k, start, cap)), pool)
            for k in range(lanes.lane_count(plan))
        ]
        for index in range(start, total):
            yield readers[index % cap].take()


class _LaneReader:
    """One lane's results in position order, from `skip` on, one chunk read ahead."""

    def __init__(
        self,
        storage: Storage,
        run_id: str,
        state: lanes.LaneState,
        skip: int,
        pool: concurrent.futures.ThreadPoolExecutor,
    ) -> None:
        self.storage, self.run_id, self.lane, self.pool = storage, run_id, state.lane, pool
        self.chunks = deque((start, end) for start, end in state.chunks if end > skip)
        self.skip = skip
        self.taken = skip  # the lane position of the next result taken
        self.current: deque[lanes.Result] = deque()
        self.ahead = self._read_next()

    def _read_next(self) -> tuple[int, concurrent.futures.Future[list[lanes.Result]]] | None:
        if not self.chunks:
            return None
        start, _ = self.chunks.popleft()
        skip, self.skip = max(0, self.skip - start), 0
        return start, self.pool.submit(lambda: lanes.read_chunk(self.storage, self.run_id, self.lane, start)[skip:])

    def take(self) -> lanes.Result:
        while not self.current:
            if self.ahead is None:  # the survey found the chain complete; a later one would not
                raise ResultsLost(self.run_id, self.lane, self.taken)
            start, reading = self.ahead
            try:
                self.current = deque(reading.result())
            except NotFound:
                raise ResultsLost(self.run_id, self.lane, start) from None
            self.ahead = self._read_next()
        self.taken += 1
        return self.current.popleft()


def _write_rows(storage: Storage, run: RunRecord, owner: str, cursor: dict[str, int]) -> None:
    output, total = run["step"]["output"], int(plan_of(run)["total_batches"])
    name = output["prefix"] + output_file_name(run["step"]["config"])
    blob = storage.container(output["container"]).get_blob_client(name)
    with contextlib.suppress(ConcurrencyConflict), storage_errors(name):  # it exists: an earlier writer made it
        blob.create_append_blob(match_condition=MatchConditions.IfMissing)
    position, offset = int(cursor["next"]), int(cursor["offset"])
    chunk, since_move = b"", 0
    for result in in_order(storage, run, position):
        text = "".join(f"{row}\n" for row in result["rows"]).encode()
        if chunk and (len(chunk) + len(text) > MAX_BLOCK or since_move >= WINDOW):
            offset = append_at(blob, chunk, offset)
            work_leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": position, "offset": offset})
            chunk, since_move = b"", 0
        chunk += text
        position, since_move = position + 1, since_move + 1
    if position > int(cursor["next"]):
        offset = append_at(blob, chunk, offset)
        work_leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": total, "offset": offset})


def finalize(storage: Storage, run_id: str, owner: str) -> None:
    """The fan-in queue function's work (a redelivered or duplicated message does no harm)."""
    run = get_run(storage, run_id)
    if RunStatus(run["status"]) != RunStatus.RUNNING:
        work_leases.release(storage, run_id, FANIN_ITEM)
        return
    if not run_complete(storage, run):
        return
    lease = work_leases.claim(storage, run_id, FANIN_ITEM, owner)
    if lease is not None:  # else another instance is writing it
        finish(storage, run, owner, lease)


def finish(storage: Storage, run: RunRecord, owner: str, lease: work_leases.Lease) -> None:
    """Write the run's output (append_row) from the lease's cursor on, then mark the run Finished; repair what
    storage lost, or fail the run saying what (see the module's docstring)."""
    run_id = run["id"]
    with work_leases.heartbeat(storage, run_id, FANIN_ITEM, owner):
        if run["step"]["config"]["output_action"] == "append_row":
            cursor = lease["cursor"]
            while True:
                try:
                    _write_rows(storage, run, owner, cursor)
                    break
                except ResultsLost as lost:
                    _run_again(storage, run, lost)
                    return
                except IntegrityError as exc:  # the output does not continue the rows the cursor says it holds
                    cursor = _write_again(storage, run, owner, exc)
                    if cursor is None:
                        return
    counts = lanes.counts(storage, run_id).to_dict()
    finished = transition(storage, run_id, RunStatus.FINISHED, counts=counts)
    if finished:
        remember(storage, run)  # its id and step, which finishing does not change
    work_leases.release(storage, run_id, FANIN_ITEM)
    shutdown_run(run_id)
    dag.advance_parent(storage, finished)


def lost_results(storage: Storage, run: RunRecord, lost: ResultsLost) -> bool:
    """Results a lane had recorded are gone: note it on the run, to run them again (True); past MAX_REPAIRS, fail
    the run saying what was lost (False)."""
    first = lost.lane + lost.position * int(plan_of(run)["cap"])
    where = f"{layout.RUNS_CONTAINER}/{layout.lane_prefix(run['id'], lost.lane)}"
    message = (
        f"the results of lane {lost.lane} from mini-batch {first} on were recorded, then lost from storage ({where})"
    )
    if warn(storage, run["id"], "results_lost", f"{message}; running them again") <= MAX_REPAIRS:
        return True
    error: RunError = {"message": f"{message}, {MAX_REPAIRS} times; storage does not keep what it acknowledged"}
    dag.advance_parent(storage, transition(storage, run["id"], RunStatus.FAILED, error=error))
    return False


def _run_again(storage: Storage, run: RunRecord, lost: ResultsLost) -> None:
    """Let the fan-in go, so the lane (no longer complete) runs what was lost again and its completion takes the
    fan-in anew (or the run failed, see lost_results)."""
    lost_results(storage, run, lost)
    work_leases.release(storage, run["id"], FANIN_ITEM)


def _write_again(storage: Storage, run: RunRecord, owner: str, diverged: IntegrityError) -> dict[str, int] | None:
    """The output does not hold the rows its cursor says were appended (storage lost appends, or something else
    wrote to it): remove it and start over from the first mini-batch (the new cursor); past MAX_REPAIRS, fail the
    run instead (None)."""
    output = run["step"]["output"]
    name = output["prefix"] + output_file_name(run["step"]["config"])
    message = f"{output['datastore']}/{name} did not hold the rows written to it ({diverged.message})"
    if warn(storage, run["id"], "output_rewritten", f"{message}; writing it again") > MAX_REPAIRS:
        failed = transition(storage, run["id"], RunStatus.FAILED, error={"message": f"{message}, {MAX_REPAIRS} times"})
        work_leases.release(storage, run["id"], FANIN_ITEM)
        dag.advance_parent(storage, failed)
        return None
    storage.delete_blob(output["container"], name)
    work_leases.update(storage, run["id"], FANIN_ITEM, owner, cursor=START_CURSOR)
    return dict(START_CURSOR)
