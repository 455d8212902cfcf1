"""Starting a pipeline run from a definition: what `Experiment.submit` posts, and what a published pipeline, a
pipeline endpoint or a schedule calls with a stored definition.

The run is recorded NotStarted with its checked graph (the definition with the parameters bound and the order
inferred, see definition.py and graph.py) and handed to dag.py, which starts its first steps (or takes earlier
outputs, allow_reuse) and advances it as steps end.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, InvalidInput
from shared.core.storage import Storage
from shared.pipelines.engine import dag, definition, parameters
from shared.pipelines.engine.graph import outputs_of
from shared.pipelines.engine.step_start import step_run_id
from shared.registry import compute
from shared.registry.datastores import find_datastore
from shared.registry.snapshots import verify_uploaded
from shared.runs import run_history
from shared.runs.lanes import counts
from shared.runs.run_records import TERMINAL, RunRecord, RunStatus, create_run, get_run


class Template(TypedDict):
    """A definition as stored (a pipeline run's `definition`, a published pipeline's): its steps as given, with
    their parameter references (parameters.py), and its checked parameters."""

    parameters: dict[str, dict[str, Any]]  # by name: each one's declared type and default (parameters.check)
    steps: list[Any]  # as given: definition.validate checks them once the parameters are bound
    continue_on_step_failure: NotRequired[bool]  # only when it was given


def _template(pipeline: object) -> Template:
    """The definition as stored: its steps with their parameter references, its checked parameters, and
    continue_on_step_failure when it was given."""
    if not isinstance(pipeline, dict) or "steps" not in pipeline:
        raise InvalidInput("'pipeline' must be an object with 'steps'", field="pipeline")
    template: Template = {"parameters": parameters.check(pipeline), "steps": pipeline["steps"]}
    if pipeline.get("continue_on_step_failure") is not None:
        template["continue_on_step_failure"] = pipeline["continue_on_step_failure"]
    return template


def check_template(storage: Storage, pipeline: object) -> Template:
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
    continue_on_step_failure: object = None,
) -> RunRecord:
    """Start a run of `pipeline` with its parameters set from `assignments` (and continue_on_step_failure, when
    given, over the definition's). A caller that must start a run at most once (a schedule's occurrence) passes its
    own `run_id`: starting it again returns the run already started."""
    experiment = validators.validate_name("experiment", experiment)
    tags = validators.string_values(tags, "tags", absent="falsy")
    keep_going = validators.optional_flag(continue_on_step_failure, "continue_on_step_failure")
    template = _template(pipeline)
    bound, values = parameters.bind(storage, template, assignments)
    graph = definition.validate(bound)
    if keep_going is not None:
        graph["continue_on_step_failure"] = keep_going
    for spec in graph["steps"]:
        if spec["type"] == "ParallelRunStep":
            compute.check_node_count(storage, spec["config"]["compute_target"], int(spec["config"]["node_count"]))
    if run_id is not None:
        existing, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
        if existing is not None:
            if RunStatus(existing["status"]) not in TERMINAL:
                dag.start(storage, existing)  # a starter that died before its steps were started
            return existing
    for spec in graph["steps"]:
        verify_uploaded(storage, spec["snapshot"])
        for output in outputs_of(spec):
            find_datastore(storage, output["datastore"])  # NotFound names the datastores there are
    new_id = run_id or uuid.uuid4().hex
    record: RunRecord = {
        "id": new_id,
        "experiment": experiment,
        "tags": tags,
        "created_time": clock.stamp(),
        "start_time": None,
        "end_time": None,
        "status": RunStatus.NOT_STARTED.value,
        "error": None,
        "definition": template,
        "parameters": values,
        "graph": graph,
        "steps": {
            spec["name"]: {"id": step_run_id(new_id, spec["name"]), "type": spec["type"]} for spec in graph["steps"]
        },
    }
    try:
        create_run(storage, record)
    except ConcurrencyConflict:  # the same run_id, started at the same moment by another instance
        return get_run(storage, new_id)
    dag.start(storage, record)
    return get_run(storage, new_id)


def _summary(storage: Storage, step: Mapping[str, Any]) -> dict[str, Any]:
    """What a step run's progress looks like: its status, times and, for a ParallelRunStep, its mini-batches."""
    plan = step.get("plan") or {}
    figures = step.get("counts")
    if figures is None and step.get("plan") is not None:
        figures = counts(storage, step["id"]).to_dict()
    return {
        "name": step.get("name") or step["step"].get("name"),
        "type": step.get("type") or step["step"].get("type", "ParallelRunStep"),
        "status": step["status"],
        "start_time": step["start_time"],
        "end_time": step["end_time"],
        "reused_from": step["step"].get("reused_from"),
        "total_mini_batches": plan.get("total_batches"),
        "total_items": plan.get("total_items"),
        "batches_done": (figures or {}).get("batches_done"),
        "batches_failed": (figures or {}).get("batches_failed"),
        "items_failed": (figures or {}).get("items_failed"),
    }


def describe(storage: Storage, run_id: str) -> dict[str, Any]:
    """The run as the SDK shows it: a pipeline run with each step's progress (`steps`, in the pipeline's order), or
    a step run with its own (live counts while a ParallelRunStep runs)."""
    record: dict[str, Any] = dict(get_run(storage, run_id))  # the record, with what describes it added
    if "steps" not in record:
        summary = _summary(storage, record)
        if summary["batches_done"] is not None:
            record["counts"] = {key: summary[key] for key in ("batches_done", "batches_failed", "items_failed")}
        return {**summary, **record}
    record.pop("graph", None)
    for name, state in record["steps"].items():
        step, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(state["id"]))
        state.update({"name": name, "status": None} if step is None else _summary(storage, step))
    return record


def cancel(storage: Storage, run_id: str) -> run_history.RunDetails:
    """Cancel any run, as `Run.cancel()` does: a pipeline run with its running steps, a step run (its pipeline
    run fails unless continue_on_step_failure), or a run that lives in the run history only. A run that is over
    is left as it is."""
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    if record is not None:
        dag.cancel(storage, run_id)
    else:
        run_history.set_status(storage, run_id, "cancel")
    return run_history.describe(storage, run_id)
