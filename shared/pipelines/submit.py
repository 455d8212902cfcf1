"""Starting a pipeline run from a definition: what `Experiment.submit` posts, and what a published pipeline or a
schedule can call with a stored definition.

The run is recorded NotStarted and its planning is handed to a queue function (listing a large dataset does not fit
in an HTTP request). With allow_reuse and an earlier Finished run of the same step, the run is recorded Finished at
once, its step pointing at the earlier output.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared import compute, layout
from shared.datastores import get_datastore
from shared.errors import ConcurrencyConflict, InvalidInput
from shared.pipelines import definition, leases, parameters, reuse
from shared.pipelines.lanes import counts
from shared.pipelines.planning import PLAN_ITEM
from shared.pipelines.runs import Record, RunStatus, create_run, get_run, now
from shared.services.snapshots import verify_uploaded
from shared.storage import Storage


def _template(pipeline: object) -> dict[str, Any]:
    """The definition as stored: its steps with their parameter references, and its checked parameters."""
    if not isinstance(pipeline, dict):
        raise InvalidInput("'pipeline' must be an object with 'steps'", field="pipeline")
    return {"parameters": parameters.check(pipeline), "steps": pipeline["steps"]}


def check_template(storage: Storage, pipeline: object) -> dict[str, Any]:
    """A definition to publish: checked as it would run with its parameters' defaults, so a published pipeline
    starts with the defaults whatever its caller leaves unset."""
    template = _template(pipeline)
    definition.validate(parameters.bind(storage, template)[0])
    return template


def start_run(
    storage: Storage,
    experiment: object,
    pipeline: object,
    tags: object = None,
    assignments: object = None,
    run_id: str | None = None,
) -> Record:
    """Start a run of `pipeline` with its parameters set from `assignments`. A caller that must start a run at most
    once (a schedule's occurrence) passes its own `run_id`: starting it again returns the run already started."""
    experiment = layout.validate_name("experiment", experiment)
    tags = tags or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise InvalidInput("'tags' must be an object of string values", field="tags")
    template = _template(pipeline)
    bound, values = parameters.bind(storage, template, assignments)
    checked = definition.validate(bound)
    spec = checked["steps"][0]
    compute.check_node_count(storage, spec["config"]["compute_target"], int(spec["config"]["node_count"]))
    if run_id is not None:
        existing, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
        if existing is not None:
            _ensure_planning(storage, existing)
            return existing
    verify_uploaded(storage, spec["snapshot"])
    container = get_datastore(storage, spec["output"]["datastore"])["container_name"]
    fingerprint = reuse.fingerprint(spec)
    run: Record = {
        "id": run_id or uuid.uuid4().hex,
        "experiment": experiment,
        "tags": tags,
        "created_time": now(),
        "start_time": None,
        "end_time": None,
        "error": None,
        "plan": None,
        "counts": None,
        "definition": template,
        "parameters": values,
    }
    earlier = reuse.find(storage, fingerprint) if spec["allow_reuse"] else None
    if earlier is not None:
        step = {**spec, **earlier["step"], "fingerprint": fingerprint, "reused_from": earlier["run"]}
        previous = get_run(storage, earlier["run"])
        return _create_once(
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
    record = _create_once(storage, {**run, "status": RunStatus.NOT_STARTED.value, "step": step})
    _ensure_planning(storage, record)
    return record


def _create_once(storage: Storage, record: Record) -> Record:
    try:
        return create_run(storage, record)
    except ConcurrencyConflict:  # the same run_id, started at the same moment by another instance
        return get_run(storage, record["id"])


def _ensure_planning(storage: Storage, record: Record) -> None:
    """Hand a NotStarted run to the planning queue, unless that is done already (dispatch is idempotent), so a
    starter that died between recording the run and dispatching it is made good by the next start."""
    if record["status"] == RunStatus.NOT_STARTED.value:
        leases.dispatch(storage, record["id"], PLAN_ITEM, layout.PLANNING_QUEUE, {"run": record["id"]})


def describe(storage: Storage, run_id: str) -> dict[str, Any]:
    """The run as the SDK shows it: the record, with live counts while it runs."""
    record = get_run(storage, run_id)
    if record["counts"] is None and record["plan"] is not None:
        record["counts"] = counts(storage, run_id).to_dict()
    return record
