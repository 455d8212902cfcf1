"""Planning a run: list the input files, cut them into mini-batches, and put the first window of them in flight.

Cutting, as Azure ML does: a file input by `mini_batch_size` files; a tabular input by `mini_batch_size` bytes, a
large file split into byte ranges read at row boundaries (tabular_files.py); with `partition_keys`, one mini-batch
per value of the keys (all its files, or for a tabular input all its rows). A mini-batch is stored as
{"items": [{datastore, container, path, size, start, end, first_file}], "partition": {key: value} | null}.

Planning runs in a queue function, not in the submitting HTTP request, because listing a large dataset takes longer
than a request should. The mini-batches are written in pages of PLAN_PAGE_SIZE under a fresh plan id (a million files
in mini-batches of 5 is 200 pages), and the plan id is fixed by the one transition NotStarted -> Running: a planner
that stalled and lost its lease can only leave orphan pages behind, never change the plan in use. Queue messages
carry (run, index) only, far under the 64 KiB limit.

In flight: node_count x process_count_per_node lanes (process_count_per_node defaults to the cores of the planning
instance, as Azure ML defaults it to the node's), and process_count_per_node on one host instance, as on one Azure
ML node (see minibatch.py). Mini-batch i runs in lane i % cap (lanes.py). Planning creates each lane's record and
puts its first mini-batch on the queue, or, when the planning instance has slots for every lane, takes them all
itself. Lane messages are spread over instances by their queue listeners: host.json's batchSize and
newBatchThreshold keep an instance from taking more lanes than it has slots (docs/batch-scale-out.md).
A redelivered planning message re-creates only lanes that are missing.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from shared.core import layout
from shared.core.errors import InvalidInput
from shared.core.storage import Storage
from shared.pipelines.engine import dag
from shared.pipelines.engine.step_start import PLAN_ITEM
from shared.registry import datastores, tabular_files
from shared.registry.datasets import dataset_root, partitioned, resolve_files
from shared.runs import lanes, work_leases
from shared.runs.run_records import TERMINAL, Plan, RunRecord, RunStatus, get_run, plan_of, transition


def per_node(config: dict[str, Any]) -> int:
    """process_count_per_node; Azure ML's default is the node's cores: here, the planning instance's."""
    return max(1, int(config.get("process_count_per_node") or os.cpu_count() or 1))


def in_flight_cap(config: dict[str, Any]) -> int:
    return int(config["node_count"]) * per_node(config)


#: Lanes dispatched at once: each is a record write and a queue message, independent of the others' (on Azure,
#: round trips of 10-20 ms each that a run with many lanes would otherwise wait for one after another).
DISPATCH_THREADS = 8
_dispatching = concurrent.futures.ThreadPoolExecutor(DISPATCH_THREADS, thread_name_prefix="lane-dispatch")


def dispatch_lanes(storage: Storage, run: RunRecord, owner: str | None = None, take: int = 0) -> list[lanes.Lane]:
    """Create every lane's record that is missing and enqueue its first mini-batch; the first `take` lanes are taken
    by `owner` instead, and returned."""

    def dispatch(lane: int) -> lanes.Lane | None:
        return lanes.dispatch(storage, run, lane, owner=owner if lane < take else None)

    return [held for held in _dispatching.map(dispatch, range(lanes.lane_count(plan_of(run)))) if held is not None]


MiniBatch = dict[str, Any]


def cut(step: Mapping[str, Any], files: list[dict[str, Any]]) -> list[MiniBatch]:
    """The input's files as mini-batches, in input order."""
    source, config = step["input"], step["config"]
    tabular_input = source.get("kind") == "tabular"
    files = [{**item, "first_file": number == 0} for number, item in enumerate(files)]
    if config.get("partition_keys"):
        groups = partitioned(files, source["partition_format"], config["partition_keys"])
        return [
            {"items": tabular_files.whole_files(g["files"]) if tabular_input else g["files"], "partition": g["values"]}
            for g in groups
        ]
    size = int(config["mini_batch_size"])
    if tabular_input:
        return [{"items": items, "partition": None} for items in tabular_files.pieces(source["tabular"], files, size)]
    return [{"items": files[i : i + size], "partition": None} for i in range(0, len(files), size)]


def plan(storage: Storage, run_id: str, owner: str, take: int = 0) -> list[lanes.Lane]:
    """Plan the run (once) and put its lanes in flight; returns the lanes `owner` took to run: all of them when they
    are no more than `take`, else none."""
    run = get_run(storage, run_id)
    status = RunStatus(run["status"])
    if status in TERMINAL:
        work_leases.release(storage, run_id, PLAN_ITEM)
        return []
    if status == RunStatus.RUNNING:  # planned already; this is a redelivery: make sure every lane is in flight
        dispatch_lanes(storage, run)
        work_leases.release(storage, run_id, PLAN_ITEM)
        return []
    if work_leases.claim(storage, run_id, PLAN_ITEM, owner) is None:
        return []  # another instance is planning it
    with work_leases.heartbeat(storage, run_id, PLAN_ITEM, owner):
        step = run["step"]
        stores = datastores.by_name(storage)
        files = resolve_files(storage, step["input"]["paths"], stores)
        if not files:
            paths = [f"{p['datastore']}/{p['path']}" for p in step["input"]["paths"]]
            failed = transition(
                storage, run_id, RunStatus.FAILED, error={"message": f"the input matches no files: {paths}"}
            )
            work_leases.release(storage, run_id, PLAN_ITEM)
            dag.advance_parent(storage, failed)
            return []
        try:
            planned = _planned(storage, step, files, run_id, stores)
        except InvalidInput as exc:  # e.g. a tabular input's first rows do not parse: retrying cannot help
            failed = transition(
                storage, run_id, RunStatus.FAILED, error={"message": f"cannot plan the run: {exc.message}"}
            )
            work_leases.release(storage, run_id, PLAN_ITEM)
            dag.advance_parent(storage, failed)
            return []
        if not transition(storage, run_id, RunStatus.RUNNING, only_from=RunStatus.NOT_STARTED, plan=planned):
            return []  # canceled meanwhile, or another planner won: its plan stands
    # The planner runs the lanes itself only when it can run all of them: a lane it took would not count against its
    # queue listener's concurrency, which would then take lanes it has no slot for while other instances idle.
    take = take if lanes.lane_count(planned) <= take else 0
    taken = dispatch_lanes(storage, {**run, "status": RunStatus.RUNNING.value, "plan": planned}, owner, take)
    work_leases.release(storage, run_id, PLAN_ITEM)
    return taken


def _planned(
    storage: Storage, step: Mapping[str, Any], files: list[dict[str, Any]], run_id: str, stores: Mapping[str, Any]
) -> Plan:
    """Cut the input, write the plan's pages, and return the plan record."""
    source = step["input"]
    tabular_input = source.get("kind") == "tabular"
    shape = tabular_files.shape(storage, source["tabular"], files, stores) if tabular_input else None  # may refuse it
    plan_id = uuid.uuid4().hex
    batches = cut(step, files)
    for page, start in enumerate(range(0, len(batches), layout.PLAN_PAGE_SIZE)):
        chunk = batches[start : start + layout.PLAN_PAGE_SIZE]
        storage.put_json(layout.RUNS_CONTAINER, layout.plan_page(run_id, plan_id, page), chunk)
        _keep_page((run_id, plan_id, page), chunk)  # the lanes this instance takes read it from here
    return {
        "id": plan_id,
        "total_batches": len(batches),
        "total_items": None if tabular_input else len(files),
        "cap": in_flight_cap(step["config"]),
        "per_node": per_node(step["config"]),
        "root": dataset_root(source["paths"], files),
        "shape": shape,
        # What the lanes download with (names of settings, not credentials): no lane reads them again.
        "datastores": {path["datastore"]: stores[path["datastore"]] for path in source["paths"]},
    }


Page = list[Any]
_pages: OrderedDict[tuple[str, str, int], Page] = OrderedDict()
_pages_lock = threading.Lock()
PAGES_CACHED = 16


def _page(storage: Storage, run_id: str, plan_id: str, page: int) -> Page:
    """A plan page; pages never change once the plan is in use, so each process reads each one about once."""
    key = (run_id, plan_id, page)
    with _pages_lock:
        if key in _pages:
            _pages.move_to_end(key)
            return _pages[key]
    batches, _ = storage.read_json(layout.RUNS_CONTAINER, layout.plan_page(run_id, plan_id, page))
    _keep_page(key, batches)
    return batches


def _keep_page(key: tuple[str, str, int], batches: Page) -> None:
    with _pages_lock:
        _pages[key] = batches
        while len(_pages) > PAGES_CACHED:
            _pages.popitem(last=False)


def mini_batch(storage: Storage, run: RunRecord, index: int) -> MiniBatch:
    """Mini-batch `index`: its items (files, or pieces of files), in input order, and its partition."""
    plan = plan_of(run)
    batch = _page(storage, run["id"], plan["id"], index // layout.PLAN_PAGE_SIZE)[index % layout.PLAN_PAGE_SIZE]
    return dict(batch)
