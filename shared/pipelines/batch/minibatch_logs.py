"""Every mini-batch's log: its result's tries, errors, tracebacks and what run() printed, a page at a time (a
million-file run has 200,000 of them)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from shared.core.errors import InvalidInput
from shared.core.storage import Storage
from shared.runs import lanes
from shared.runs.run_records import get_run

MAX_PAGE = 500
READ_THREADS = 8


def mini_batch_logs(storage: Storage, run_id: str, start: int, count: int) -> dict[str, Any]:
    """Mini-batches start..start+count-1 that have a result (the others have not run): {"items": [...], "next"}.
    They are read from the lanes' chunks that hold them (lanes.py)."""
    run = get_run(storage, run_id)
    if start < 0 or not 1 <= count <= MAX_PAGE:
        raise InvalidInput(f"start must be 0 or more and count between 1 and {MAX_PAGE}", field="count")
    if run.get("type") != "ParallelRunStep":
        return {"items": [], "next": None}  # no mini-batches: a pipeline run (its steps have logs), a script step
    plan = run.get("plan")
    total = int(plan["total_batches"]) if plan and not run["step"].get("reused_from") else 0
    indices = range(start, min(total, start + count))
    wanted: list[tuple[int, int]] = []  # (lane, chunk start) to read
    if indices:
        cap = int(plan["cap"]) if plan else 1  # (indices is empty without a plan)
        for state in lanes.survey(storage, run_id).values():
            first, last = len(range(state.lane, indices.start, cap)), len(range(state.lane, indices.stop, cap))
            wanted += [(state.lane, s) for s, e in state.chunks if s < last and e > first]

    def read(chunk: tuple[int, int]) -> list[lanes.Result]:
        return lanes.read_chunk(storage, run_id, *chunk)

    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        found = [
            {key: value for key, value in result.items() if key != "rows"}
            for results in pool.map(read, wanted)
            for result in results
            if result["index"] in indices
        ]
    return {
        "items": sorted(found, key=lambda entry: entry["index"]),
        "next": indices.stop if indices.stop < total else None,
    }
