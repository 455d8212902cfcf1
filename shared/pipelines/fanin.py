"""Fan-in: every mini-batch's rows into one append blob, each row exactly once, in mini-batch order.

The mini-batch that completes the run takes the `fanin` work lease and writes the output in the same invocation (the
fan-in queue sees the run only if the sweeper finds that writer dead). One writer at a time holds the lease (see
leases.py), whose record also carries the cursor `{"next": <mini-batch>, "offset": <bytes written>}`. The writer
reads the result records from `next` on (many at a time), coalesces their rows into blocks of at most 4 MiB, appends
each block with `appendpos = offset`, and then moves the cursor (If-Match, owner checked). A writer that dies after
its append landed but before it moved the cursor leaves the blob ahead of the cursor: the next writer's append at the
stale offset is refused (412), it reads what landed, finds exactly the bytes it was about to write (blocks are made
the same way from immutable results), and moves on without writing them again. A writer whose lease was taken over
is refused its cursor write and stops.

Rows appear in mini-batch order, which is the order of the input files (sorted by datastore path), and within a
mini-batch in the order run() returned them. Blocks are at most 4 MiB and hold many mini-batches, so 50,000 blocks
hold ~195 GiB of rows: a million files fit many times over.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from typing import Any

from azure.core import MatchConditions
from azure.storage.blob import BlobClient

from shared import layout
from shared.errors import ConcurrencyConflict, IntegrityError
from shared.pipelines import leases, progress
from shared.pipelines.definition import output_file_name
from shared.pipelines.entry_script import shutdown_run
from shared.pipelines.reuse import remember
from shared.pipelines.runs import Record, RunStatus, get_run, transition
from shared.storage import Storage, storage_errors

FANIN_ITEM = "fanin"
START_CURSOR = {"next": 0, "offset": 0}
MAX_BLOCK = 4 * 1024 * 1024
#: Result records read ahead, concurrently, per window; fewer when each holds a large tabular mini-batch's rows, so
#: the writer's memory stays near WINDOW_BYTES.
WINDOW = 256
WINDOW_BYTES = 64 * 1024 * 1024


def window_size(run: Record) -> int:
    source, config = run["step"]["input"], run["step"]["config"]
    if source.get("kind") != "tabular" or config.get("partition_keys"):
        return WINDOW
    return max(2, min(WINDOW, WINDOW_BYTES // max(1, int(config["mini_batch_size"]))))


READ_THREADS = 8  # the storage client pools 10 connections


def run_complete(storage: Storage, run: Record, after_shard: int = -1) -> bool:
    """Whether every shard has all its mini-batches. Shards are read one by one, from the one after `after_shard`
    (which the caller just saw complete), stopping at the first incomplete one: lanes complete shards roughly in
    order, so most checks read one shard, not all of them."""
    total = int(run["plan"]["total_batches"])
    for step in range(1, layout.PROGRESS_SHARDS + 1):
        shard = (after_shard + step) % layout.PROGRESS_SHARDS
        state, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.progress_shard(run["id"], shard))
        if int((state or {"done": 0})["done"]) < progress.expected_in_shard(total, shard):
            return False
    return True


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


def _rows(storage: Storage, run_id: str, index: int) -> bytes:
    result, _ = storage.read_json(layout.RUNS_CONTAINER, layout.batch_result(run_id, index))
    return "".join(f"{row}\n" for row in result["rows"]).encode()


def _write_rows(storage: Storage, run: Record, owner: str, cursor: dict[str, int]) -> None:
    output, total = run["step"]["output"], int(run["plan"]["total_batches"])
    name = output["prefix"] + output_file_name(run["step"]["config"])
    blob = storage.container(output["container"]).get_blob_client(name)
    with contextlib.suppress(ConcurrencyConflict), storage_errors(name):  # it exists: an earlier writer made it
        blob.create_append_blob(match_condition=MatchConditions.IfMissing)
    position, offset = int(cursor["next"]), int(cursor["offset"])
    size = window_size(run)
    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        while position < total:
            window = range(position, min(total, position + size))
            chunk = b""
            for index, text in zip(window, pool.map(lambda i: _rows(storage, run["id"], i), window), strict=True):
                if chunk and len(chunk) + len(text) > MAX_BLOCK:
                    offset = append_at(blob, chunk, offset)
                    leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": index, "offset": offset})
                    chunk = b""
                chunk += text
            offset = append_at(blob, chunk, offset)
            position = window.stop
            leases.update(storage, run["id"], FANIN_ITEM, owner, cursor={"next": position, "offset": offset})


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
    counts: dict[str, Any] = progress.counts(storage, run_id).to_dict()
    if transition(storage, run_id, RunStatus.FINISHED, counts=counts):
        remember(storage, get_run(storage, run_id))
    leases.release(storage, run_id, FANIN_ITEM)
    shutdown_run(run_id)
