"""Which mini-batches are recorded and which failed, kept in PROGRESS_SHARDS shards so many instances update them
without a hot blob.

Mini-batch i belongs to shard i % PROGRESS_SHARDS, as bit i // PROGRESS_SHARDS of the shard's bitmap (a million files
in mini-batches of 5 is 200,000 bits: 1.6 KB per shard). Setting a bit is idempotent, so a redelivered message can
redo its bookkeeping; each shard is written with If-Match. Failed mini-batches (rare) are listed in their shard with
their failed item count. A run is complete when every shard has all of its bits.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from shared import layout
from shared.errors import ConcurrencyConflict, NotFound
from shared.storage import Storage

Shard = dict[str, Any]
WRITE_ATTEMPTS = 200
#: The shards this process wrote last, with their ETags. Lanes stride over shards, so a shard is mostly written by
#: one lane: its next write can go straight to If-Match on the remembered ETag (one request instead of two).
_written: OrderedDict[str, tuple[Shard, str]] = OrderedDict()
_written_lock = threading.Lock()
WRITTEN_CACHED = 4096
_readers = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="progress")  # the client pools 10 connections


@dataclass(frozen=True)
class Counts:
    batches_done: int
    batches_failed: int
    items_failed: int

    def to_dict(self) -> dict[str, int]:
        return {
            "batches_done": self.batches_done,
            "batches_failed": self.batches_failed,
            "items_failed": self.items_failed,
        }


def _empty() -> Shard:
    return {"bits": "", "done": 0, "failed": {}}


def _set_bit(encoded: str, position: int) -> tuple[str, bool]:
    bitmap = bytearray(base64.b64decode(encoded))
    if len(bitmap) <= position // 8:
        bitmap.extend(b"\0" * (position // 8 + 1 - len(bitmap)))
    mask = 1 << (position % 8)
    if bitmap[position // 8] & mask:
        return encoded, False
    bitmap[position // 8] |= mask
    return base64.b64encode(bytes(bitmap)).decode(), True


def expected_in_shard(total: int, shard: int) -> int:
    return len(range(shard, total, layout.PROGRESS_SHARDS))


def record(storage: Storage, run_id: str, index: int, failed_items: int, batch_failed: bool) -> Shard:
    """Mark mini-batch `index` recorded (with its failures); returns its shard as written."""
    path = layout.progress_shard(run_id, index % layout.PROGRESS_SHARDS)

    def mark(state: Shard) -> Shard:
        state["bits"], added = _set_bit(state["bits"], index // layout.PROGRESS_SHARDS)
        state["done"] += int(added)
        if failed_items:
            state["failed"][str(index)] = {"items": failed_items, "batch": batch_failed}
        return state

    with _written_lock:
        known = _written.get(path)
    for _ in range(WRITE_ATTEMPTS):
        if known is None:
            state, etag = storage.try_read_json(layout.RUNS_CONTAINER, path)
            if state is None or etag is None:
                with contextlib.suppress(ConcurrencyConflict):
                    storage.create_json(layout.RUNS_CONTAINER, path, _empty())
                continue
            known = (state, etag)
        state = mark(json.loads(json.dumps(known[0])))
        try:
            etag = storage.replace_json(layout.RUNS_CONTAINER, path, state, known[1])
        except (ConcurrencyConflict, NotFound):
            known = None  # another lane wrote this shard since: read it again
            continue
        with _written_lock:
            _written[path] = (state, etag)
            while len(_written) > WRITTEN_CACHED:
                _written.popitem(last=False)
        return state
    raise ConcurrencyConflict(f"{path} kept changing; gave up after {WRITE_ATTEMPTS} attempts")


def shards(storage: Storage, run_id: str) -> list[Shard]:
    """Every shard, read concurrently (one round trip, not PROGRESS_SHARDS)."""

    def read(shard: int) -> Shard:
        state, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.progress_shard(run_id, shard))
        return state or _empty()

    return list(_readers.map(read, range(layout.PROGRESS_SHARDS)))


def counts(storage: Storage, run_id: str) -> Counts:
    states = shards(storage, run_id)
    failed = [f for state in states for f in state["failed"].values()]
    return Counts(
        batches_done=sum(int(state["done"]) for state in states),
        batches_failed=sum(1 for f in failed if f["batch"]),
        items_failed=sum(int(f["items"]) for f in failed),
    )


def shard_complete(state: Shard, total: int, index: int) -> bool:
    return int(state["done"]) >= expected_in_shard(total, index % layout.PROGRESS_SHARDS)


def failed_indices(storage: Storage, run_id: str) -> list[int]:
    return sorted(int(i) for state in shards(storage, run_id) for i in state["failed"])
