"""Every mini-batch's log: the result record's tries, errors, tracebacks and what run() printed, a page at a time
(a million-file run has 200,000 of them)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from shared import layout
from shared.errors import InvalidInput
from shared.pipelines.runs import get_run
from shared.storage import Storage

MAX_PAGE = 500
READ_THREADS = 8  # the storage client pools 10 connections


def mini_batch_logs(storage: Storage, run_id: str, start: int, count: int) -> dict[str, Any]:
    """Mini-batches start..start+count-1 that have a result (the others have not run): {"items": [...], "next"}."""
    run = get_run(storage, run_id)
    if start < 0 or not 1 <= count <= MAX_PAGE:
        raise InvalidInput(f"start must be 0 or more and count between 1 and {MAX_PAGE}", field="count")
    total = int((run["plan"] or {}).get("total_batches", 0)) if not run["step"].get("reused_from") else 0
    indices = range(start, min(total, start + count))

    def read(index: int) -> dict[str, Any] | None:
        result, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.batch_result(run_id, index))
        if result is None:
            return None
        return {key: value for key, value in result.items() if key != "rows"}

    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        found = [entry for entry in pool.map(read, indices) if entry is not None]
    return {"items": found, "next": indices.stop if indices.stop < total else None}
