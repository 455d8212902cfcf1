"""Starting one step of a pipeline run: its inputs made concrete, an earlier output reused or its outputs placed, its
step run recorded (once), and its first work put on a queue.

- Inputs that are another step's output become that output's folder on its datastore (the producer has Finished:
  dag.py starts a step only then), so a ParallelRunStep reads it as a file or tabular dataset and a script step gets
  it downloaded.
- allow_reuse, per step as in Azure ML: a step whose fingerprint (reuse.py: its code, arguments, settings and
  inputs; an input from an upstream step is that step's output folder, the same only if the upstream step was reused
  too) matches an earlier Finished step run is recorded Finished at once, pointing at that run's outputs.
- Otherwise each output gets its place (`azureml/<step run id>/<output name>/`, or an OutputFileDatasetConfig's
  destination with `{run-id}` and `{output-name}` filled in), and the step run is recorded NotStarted and
  dispatched: a ParallelRunStep to planning (planning.py), a script step to the script queue (script_step.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, NotFound
from shared.core.storage import Storage
from shared.pipelines.engine.graph import producers
from shared.registry.datastores import find_datastore
from shared.runs import reuse, work_leases
from shared.runs.run_records import RunRecord, RunStatus, create_run, get_run

#: The work items a step's start dispatches: a ParallelRunStep's planning, a script step's script.
PLAN_ITEM = "plan"
SCRIPT_ITEM = "script"


def step_run_id(run_id: str, step_name: str) -> str:
    """The step's run id in this pipeline run: the same whoever starts the step, so it is started once."""
    return hashlib.sha256(f"{run_id}/{step_name}".encode()).hexdigest()[:32]


def locate_output(storage: Storage, step_run_id: str, output: dict[str, Any]) -> dict[str, Any]:
    """An output with where it lives: its datastore's container and the folder (`prefix`, ending in '/')."""
    container = find_datastore(storage, output["datastore"])["container_name"]
    destination = output.get("destination")
    if destination:
        folder = destination.replace("{run-id}", step_run_id).replace("{output-name}", output["name"])
        prefix = validators.validate_datastore_path(folder, "destination").strip("/") + "/"
    else:
        prefix = layout.step_output_prefix(step_run_id, output["name"])
    return {**output, "container": container, "prefix": prefix}


def outputs_of(record: RunRecord) -> list[dict[str, Any]]:
    """A started step's outputs, located."""
    step = record["step"]
    return [step["output"]] if record["type"] == "ParallelRunStep" else list(step["outputs"])


def _upstream_output(records: dict[str, RunRecord | None], writer: str, data: str) -> dict[str, Any]:
    producer = records[writer]
    if producer is None:
        raise NotFound(f"step {writer!r} has not run, so its output {data!r} does not exist")
    return next(output for output in outputs_of(producer) if output["name"] == data)


def _concrete_input(source: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """An input from another step's output, as a dataset over that output's folder."""
    folder = output["prefix"].rstrip("/")
    concrete: dict[str, Any] = {
        "name": source["name"],
        "dataset": None,
        "kind": source["kind"],
        "paths": [{"datastore": output["datastore"], "path": folder}],
        "partition_format": None,
        "mode": source["mode"],
        "path_on_compute": source["path_on_compute"],
        "data": source["data"],
    }
    if source["kind"] == "tabular":
        concrete["tabular"] = source["tabular"]
    return concrete


def concrete_step(spec: dict[str, Any], graph_steps: list[dict[str, Any]], records: dict[str, RunRecord | None]) -> Any:
    """The step with its upstream inputs resolved to the upstream outputs' folders."""
    writers = producers(graph_steps)

    def resolved(source: dict[str, Any]) -> dict[str, Any]:
        if "data" not in source:
            return source
        return _concrete_input(source, _upstream_output(records, writers[source["data"]], source["data"]))

    if spec["type"] == "ParallelRunStep":
        return {**spec, "input": resolved(spec["input"])}
    return {**spec, "inputs": [resolved(source) for source in spec["inputs"]]}


def _base(run: RunRecord, spec: dict[str, Any], step_id: str) -> RunRecord:
    return {
        "id": step_id,
        "parent": run["id"],
        "experiment": run["experiment"],
        "name": spec["name"],
        "type": spec["type"],
        "tags": {},
        "created_time": clock.stamp(),
        "start_time": None,
        "end_time": None,
        "status": RunStatus.NOT_STARTED.value,  # the caller's says what it is
        "error": None,
        "plan": None,
        "counts": None,
    }


def _reused(storage: Storage, base: RunRecord, step: dict[str, Any], fingerprint: str) -> RunRecord | None:
    entry = reuse.find(storage, fingerprint)
    if entry is None:
        return None
    try:
        previous = get_run(storage, entry["run"])
    except NotFound:
        return None  # the earlier run's record is gone: compute again
    at = clock.stamp()
    return {
        **base,
        "status": RunStatus.FINISHED.value,
        "start_time": at,
        "end_time": at,
        "plan": previous.get("plan"),
        "counts": previous.get("counts"),
        "step": {**step, **entry["step"], "fingerprint": fingerprint, "reused_from": entry["run"]},
    }


def start_step(
    storage: Storage, run: RunRecord, spec: dict[str, Any], records: dict[str, RunRecord | None]
) -> RunRecord:
    """Start `spec` in `run` (`records`: the step runs as the caller just read them, this one not among them) and
    dispatch it. A step started by another advance at the same moment is returned as that one recorded it."""
    step_id = step_run_id(run["id"], spec["name"])
    step = concrete_step(spec, run["graph"]["steps"], records)
    fingerprint = reuse.fingerprint(step)
    base = _base(run, spec, step_id)
    reused = _reused(storage, base, step, fingerprint) if spec["allow_reuse"] else None
    if reused is not None:
        return _create_once(storage, reused)[0]
    if spec["type"] == "ParallelRunStep":
        step = {**step, "output": locate_output(storage, step_id, step["output"])}
    else:
        step = {**step, "outputs": [locate_output(storage, step_id, output) for output in step["outputs"]]}
    step = {**step, "id": step_id, "fingerprint": fingerprint, "reused_from": None}
    record, created = _create_once(storage, {**base, "status": RunStatus.NOT_STARTED.value, "step": step})
    if created:  # nothing of it can be in flight yet: no lease to look for
        item, queue = _work_item(record)
        work_leases.dispatch(storage, record["id"], item, queue, {"run": record["id"]})
    return record


def _create_once(storage: Storage, record: RunRecord) -> tuple[RunRecord, bool]:
    """(the record, True) once created; (the record another advance created first, False), dispatched if need be:
    that advance may have died before dispatching it."""
    try:
        return create_run(storage, record), True
    except ConcurrencyConflict:
        existing = get_run(storage, record["id"])
        ensure_dispatched(storage, existing)
        return existing, False


def _work_item(record: RunRecord) -> tuple[str, str]:
    """A NotStarted step run's first work item and its queue."""
    if record["type"] == "ParallelRunStep":
        return PLAN_ITEM, layout.PLANNING_QUEUE
    return SCRIPT_ITEM, layout.SCRIPT_STEPS_QUEUE


def ensure_dispatched(storage: Storage, record: RunRecord) -> None:
    """Put a NotStarted step run's first work on its queue, unless it is in flight already (its lease exists): a
    starter that died between recording the step and dispatching it is made good by the next advance."""
    if record["status"] != RunStatus.NOT_STARTED.value:
        return
    item, queue = _work_item(record)
    lease, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.work_lease(record["id"], item))
    if lease is None:
        work_leases.dispatch(storage, record["id"], item, queue, {"run": record["id"]})
