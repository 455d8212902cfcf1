"""Fan-in: every mini-batch's rows into one append blob, each row exactly once, in mini-batch order.

The lane that completes the run takes the `fanin` work lease and writes the output in the same invocation (the
fan-in queue sees the run only if the sweeper finds that writer dead). One writer at a time holds the lease (see
leases.py), whose record also carries the cursor `{"next": <mini-batch>, "offset": <bytes written>}`. The writer
reads the lanes' chunks (lanes.py; a few per lane, read ahead concurrently) and takes the mini-batches from `next` on
in order (mini-batch i is lane i % cap's position i // cap), coalesces their rows into blocks of at most 4 MiB,
appends each block with `appendpos = offset`, and then moves the cursor (If-Match, owner checked). A writer that
dies after its append landed but before it moved the cursor leaves the blob ahead of the cursor: the next writer's
append at the stale offset is refused (412), it reads what landed, finds exactly the bytes it was about to write
(blocks are made the same way from immutable chunks), and moves on without writing them again. A writer whose lease
was taken over is refused its cursor write and stops.

Rows appear in mini-batch order, which is the order of the input files (sorted by datastore path), and within a
mini-batch in the order run() returned them. Blocks are at most 4 MiB and hold many mini-batches, so 50,000 blocks
hold ~195 GiB of rows: a million files fit many times over.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Any

from azure.core import MatchConditions
from azure.storage.blob import BlobClient

from shared.errors import ConcurrencyConflict, IntegrityError
from shared.pipelines import lanes, leases
from shared.pipelines.definition import output_file_name
from shared.pipelines.entry_script import shutdown_run
from shared.pipelines.reuse import remember
from shared.pipelines.runs import Record, RunStatus, get_run, transition
from shared.storage import Storage, storage_errors

FANIN_ITEM = "fanin"
START_CURSOR = {"next": 0, "offset": 0}
MAX_BLOCK = 4 * 1024 * 1024
#: Mini-batches per cursor move (at most; a 4 MiB block moves it too).
WINDOW = 256
READ_THREADS = 8


def run_complete(storage: Storage, run: Record) -> bool:
    """Whether every lane has recorded all its mini-batches (one listing)."""
    return lanes.complete(run["plan"], lanes.survey(storage, run["id"]))


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


def in_order(storage: Storage, run: Record, start: int) -> Iterator[lanes.Result]:
    """Every mini-batch's result from `start` on, in mini-batch order, from the lanes' chunks: each lane's chunks are
    read one after another, the next one of each lane while the current ones are consumed."""
    plan = run["plan"]
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
        self.current: deque[lanes.Result] = deque()
        self.ahead = self._read_next()

    def _read_next(self) -> concurrent.futures.Future[list[lanes.Result]] | None:
        if not self.chunks:
            return None
        start, _ = self.chunks.popleft()
        skip, self.skip = max(0, self.skip - start), 0
        return self.pool.submit(lambda: lanes.read_chunk(self.storage, self.run_id, self.lane, start)[skip:])

    def take(self) -> lanes.Result:
        while not self.current:
            if self.ahead is None:
                raise IntegrityError(f"run {self.run_id}: lane {self.lane} has fewer results than its plan")
            self.current = deque(self.ahead.result())
            self.ahead = self._read_next()
        return self.current.popleft()


def _write_rows(storage: Storage, run: Record, owner: str, cursor: dict[str, int]) -> None:
    output, total = run["step"]["output"], int(run["plan"]["total_batches"])
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
            leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": position, "offset": offset})
            chunk, since_move = b"", 0
        chunk += text
        position, since_move = position + 1, since_move + 1
    if position > int(cursor["next"]):
        offset = append_at(blob, chunk, offset)
        leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": total, "offset": offset})


def finalize(storage: Storage, run_id: str, owner: str) -> None:
    """The fan-in queue function's work (a redelivered or duplicated message does no harm)."""
    run = get_run(storage, run_id)
    if RunStatus(run["status"]) != RunStatus.RUNNING:
        leases.release(storage, run_id, FANIN_ITEM)
        return
    if not run_complete(storage, run):
        return
    lease = leases.claim(storage, run_id, FANIN_ITEM, owner)
    if lease is not None:  # else another instance is writing it
        finish(storage, run, owner, lease)


def finish(storage: Storage, run: Record, owner: str, lease: leases.Lease) -> None:
    """Write the run's output (append_row) from the lease's cursor on, then mark the run Finished."""
    run_id = run["id"]
    with leases.heartbeat(storage, run_id, FANIN_ITEM, owner):
        if run["step"]["config"]["output_action"] == "append_row":
            _write_rows(storage, run, owner, lease["cursor"])
    counts: dict[str, Any] = lanes.counts(storage, run_id).to_dict()
    if transition(storage, run_id, RunStatus.FINISHED, counts=counts):
        remember(storage, run)  # its id and step, which finishing does not change
    leases.release(storage, run_id, FANIN_ITEM)
    shutdown_run(run_id)
