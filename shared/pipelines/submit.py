"""Starting a pipeline run from a definition: what `Experiment.submit` posts, and what a published pipeline or a
schedule can call with a stored definition.

The run is recorded NotStarted and its planning is handed to a queue function (listing a large dataset does not fit
in an HTTP request). With allow_reuse and an earlier Finished run of the same step, the run is recorded Finished at
once, its step pointing at the earlier output.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared import layout
from shared.datastores import get_datastore
from shared.errors import InvalidInput
from shared.pipelines import definition, leases, reuse
from shared.pipelines.planning import PLAN_ITEM
from shared.pipelines.progress import counts
from shared.pipelines.runs import Record, RunStatus, create_run, get_run, now
from shared.services.snapshots import verify_uploaded
from shared.storage import Storage


def start_run(storage: Storage, experiment: object, pipeline: object, tags: object = None) -> Record:
    experiment = layout.validate_name("experiment", experiment)
    tags = tags or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise InvalidInput("'tags' must be an object of string values", field="tags")
    checked = definition.validate(pipeline)
    spec = checked["steps"][0]
    verify_uploaded(storage, spec["snapshot"])
    container = get_datastore(storage, spec["output"]["datastore"])["container_name"]
    fingerprint = reuse.fingerprint(spec)
    run: Record = {
        "id": uuid.uuid4().hex,
        "experiment": experiment,
        "tags": tags,
        "created_time": now(),
        "start_time": None,
        "end_time": None,
        "error": None,
        "plan": None,
        "counts": None,
        "definition": checked,
    }
    earlier = reuse.find(storage, fingerprint) if spec["allow_reuse"] else None
    if earlier is not None:
        step = {**spec, **earlier["step"], "fingerprint": fingerprint, "reused_from": earlier["run"]}
        previous = get_run(storage, earlier["run"])
        return create_run(
            storage,
            {
                **run,
                "status": RunStatus.FINISHED.value,
                "start_time": run["created_time"],
                "end_time": now(),
                "plan": previous["plan"],
                "counts": previous["counts"],
                "step": step,
            },
        )
    step_run_id = uuid.uuid4().hex
    output = {
        **spec["output"],
        "container": container,
        "prefix": layout.step_output_prefix(step_run_id, spec["output"]["name"]),
    }
    step = {**spec, "id": step_run_id, "output": output, "fingerprint": fingerprint, "reused_from": None}
    record = create_run(storage, {**run, "status": RunStatus.NOT_STARTED.value, "step": step})
    leases.dispatch(storage, record["id"], PLAN_ITEM, layout.PLANNING_QUEUE, {"run": record["id"]})
    return record


def describe(storage: Storage, run_id: str) -> dict[str, Any]:
    """The run as the SDK shows it: the record, with live counts while it runs."""
    record = get_run(storage, run_id)
    if record["counts"] is None and record["plan"] is not None:
        record["counts"] = counts(storage, run_id).to_dict()
    return record
