"""Published pipelines: a stored definition with a REST endpoint that starts runs of it.

    Active <--disable()/enable()--> Disabled

Publishing never replaces anything: each publish is a new record with its own id, so publishing again under the same
name keeps every version (as Azure ML does). A Disabled pipeline keeps its definition but starts no runs, from its
endpoint or from a schedule.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, TypedDict

from shared.core import clock, layout, validators
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.pipelines.engine import submit
from shared.runs.run_records import RunRecord, get_run


class PublishedStatus(StrEnum):
    ACTIVE = "Active"
    DISABLED = "Disabled"


class PublishedPipeline(TypedDict):
    """A published pipeline's record (`layout.published_pipeline_record`)."""

    id: str
    name: str  # a display name: any printable text, not unique
    description: str | None
    version: str | None  # the publisher's label, free text
    status: str  # a PublishedStatus value
    created_time: str
    source_run: str | None  # the pipeline run it was published from (publish_run)
    definition: submit.Template  # checked as it would run with its parameters' defaults


def publish(
    storage: Storage,
    pipeline: object,
    name: object,
    description: object = None,
    version: object = None,
    source_run: str | None = None,
    continue_on_step_failure: object = None,
) -> PublishedPipeline:
    """Store `pipeline` (a definition, checked as it would run with its parameters' defaults) as a new pipeline;
    `continue_on_step_failure`, when given, is what its runs do unless a caller says otherwise."""
    if continue_on_step_failure is not None:
        if not isinstance(continue_on_step_failure, bool):
            raise InvalidInput("continue_on_step_failure must be true or false", field="continue_on_step_failure")
        if not isinstance(pipeline, dict):
            raise InvalidInput("'pipeline' must be an object with 'steps'", field="pipeline")
        pipeline = {**pipeline, "continue_on_step_failure": continue_on_step_failure}
    record: PublishedPipeline = {
        "id": uuid.uuid4().hex,
        "name": validators.validate_printable_name("published pipeline", name),
        "description": validators.optional_text(description, "description"),
        "version": validators.optional_text(None if version is None else str(version), "version"),
        "status": PublishedStatus.ACTIVE.value,
        "created_time": clock.stamp(),
        "source_run": source_run,
        "definition": submit.check_template(storage, pipeline),
    }
    storage.create_json(layout.REGISTRY_CONTAINER, layout.published_pipeline_record(record["id"]), record)
    return record


def publish_run(
    storage: Storage,
    run_id: str,
    name: object,
    description: object,
    version: object,
    continue_on_step_failure: object = None,
) -> PublishedPipeline:
    """Publish the pipeline a run ran (its definition, parameters included)."""
    run = get_run(storage, run_id)
    if "definition" not in run:  # a step run: what it ran is one step of its pipeline run's definition
        raise InvalidInput(
            f"run {run_id!r} is a step of pipeline run {run.get('parent')!r}: publish the pipeline run", field="run_id"
        )
    return publish(storage, run["definition"], name, description, version, run_id, continue_on_step_failure)


def get_published(storage: Storage, pipeline_id: str) -> PublishedPipeline:
    validators.validate_name("published pipeline", pipeline_id)
    record: PublishedPipeline | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.published_pipeline_record(pipeline_id))
    if record is None:
        raise NotFound(f"published pipeline {pipeline_id!r} does not exist", pipeline=pipeline_id)
    return record


def list_published(storage: Storage, active_only: bool = True) -> list[PublishedPipeline]:
    """Published pipelines, newest first."""
    found: list[PublishedPipeline] = storage.read_all_json(layout.REGISTRY_CONTAINER, layout.PUBLISHED_PIPELINES_PREFIX)
    found = [record for record in found if not active_only or record["status"] == PublishedStatus.ACTIVE.value]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def set_status(storage: Storage, pipeline_id: str, status: PublishedStatus) -> PublishedPipeline:
    get_published(storage, pipeline_id)  # NotFound names the pipeline

    def change(record: PublishedPipeline) -> PublishedPipeline:
        record["status"] = status.value
        return record

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.published_pipeline_record(pipeline_id), change)


def start(
    storage: Storage,
    pipeline_id: str,
    experiment: object,
    assignments: object = None,
    tags: object = None,
    run_id: str | None = None,
    continue_on_step_failure: object = None,
) -> RunRecord:
    """Start a run of the published pipeline (its endpoint, `PublishedPipeline.submit`, a schedule);
    `continue_on_step_failure`, when given, overrides the published default."""
    record = get_published(storage, pipeline_id)
    if record["status"] != PublishedStatus.ACTIVE.value:
        raise Conflict(
            f"published pipeline {record['name']!r} ({pipeline_id}) is {record['status']}: enable it to start runs",
            pipeline=pipeline_id,
        )
    if experiment is None or experiment == "":
        raise InvalidInput("'ExperimentName' is required: the experiment the run belongs to", field="ExperimentName")
    # submit.start_run checks the values, after the experiment's name
    run_tags = {**validators.string_values(tags, "tags", values="unchecked"), "azureml.pipelineid": pipeline_id}
    return submit.start_run(
        storage, experiment, record["definition"], run_tags, assignments, run_id, continue_on_step_failure
    )


def describe(record: PublishedPipeline) -> dict[str, Any]:
    """The record without its definition (what lists show): its parameters, whether its runs continue on a step's
    failure, and its graph (each step's name, type, inputs and outputs, in the pipeline's order)."""
    definition = record["definition"]
    steps = []
    for step in definition.get("steps") or []:
        outputs = [step["output"]] if "output" in step else list(step.get("outputs") or [])
        steps.append(
            {
                "name": step.get("name"),
                "type": step.get("type"),
                "inputs": [{"name": source.get("name")} for source in step.get("inputs") or []],
                "outputs": [{"name": output.get("name")} for output in outputs],
            }
        )
    return {key: value for key, value in record.items() if key != "definition"} | {
        "parameters": definition.get("parameters") or {},
        "continue_on_step_failure": definition.get("continue_on_step_failure"),
        "graph": {"parameters": definition.get("parameters") or {}, "steps": steps},
    }
