"""Published pipelines: publish (from a definition or a run), list, get, enable/disable, and each one's REST endpoint
`POST /api/pipelines/published/<id>/submit`, which starts a run as Azure ML's PipelineSubmit does. Pipeline
endpoints: versions of published pipelines behind one name, `POST /api/pipelines/endpoints/<name or id>/submit`
running the default version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import azure.functions as func

from functions._http import bool_param, json_body, json_endpoint
from functions.api_document import Body, operation
from functions.schemas import (
    BOOLEAN_QUERY,
    NAME,
    NOT_FOUND,
    NULLABLE_TEXT,
    OBJECT,
    STRINGS,
    TEXT,
    array,
    or_empty,
    query,
    record,
    ref,
)
from shared.core import validators
from shared.core.errors import InvalidInput
from shared.core.storage import app_storage
from shared.pipelines.engine import endpoints, published
from shared.pipelines.engine.endpoints import EndpointStatus
from shared.pipelines.engine.published import PublishedStatus

bp = func.Blueprint()

#: A pipeline endpoint's version label, "0", "1", ... (a number is read as its label).
VERSION_LABEL = {"type": ["string", "integer"]}


@bp.route(route="pipelines/published", methods=["POST"])
@operation(
    "Publish a pipeline definition",
    ok=(201, ref("PublishedPipeline")),
    errors=(400, 404, 413),
    body=Body(
        "PublishPipeline",
        record(
            {"pipeline": record({"steps": array(OBJECT)}), "name": TEXT, "description": TEXT, "version": TEXT},
            required=["pipeline", "name"],
        ),
    ),
)
@json_endpoint()
def publish_pipeline(req: func.HttpRequest) -> object:
    body = json_body(req)
    record = published.publish(
        app_storage(),
        body.get("pipeline"),
        body.get("name"),
        body.get("description"),
        body.get("version"),
        continue_on_step_failure=body.get("continue_on_step_failure"),
    )
    return 201, published.describe(record)


@bp.route(route="pipelines/runs/{run_id}/publish", methods=["POST"])
@operation(
    "Publish the pipeline a run ran",
    ok=(201, ref("PublishedPipeline")),
    errors=(400, 404, 413),
    body=Body("PublishRun", record({"name": TEXT, "description": TEXT, "version": TEXT}, required=["name"])),
)
@json_endpoint()
def publish_run(req: func.HttpRequest) -> object:
    body = json_body(req)
    run_id = req.route_params["run_id"]
    record = published.publish_run(
        app_storage(),
        run_id,
        body.get("name"),
        body.get("description"),
        body.get("version"),
        body.get("continue_on_step_failure"),
    )
    return 201, published.describe(record)


@bp.route(route="pipelines/published", methods=["GET"])
@operation(
    "Published pipelines, newest first",
    ok=(200, array(ref("PublishedPipeline"))),
    errors=(400,),
    query=(query("active_only", BOOLEAN_QUERY),),
)
@json_endpoint()
def list_published(req: func.HttpRequest) -> object:
    active_only = bool_param(req, "active_only", default=True)
    return [published.describe(r) for r in published.list_published(app_storage(), active_only=active_only)]


@bp.route(route="pipelines/published/{pipeline_id}", methods=["GET"])
@operation("A published pipeline", ok=(200, ref("PublishedPipeline")), errors=NOT_FOUND)
@json_endpoint()
def get_published(req: func.HttpRequest) -> object:
    return published.describe(published.get_published(app_storage(), req.route_params["pipeline_id"]))


@bp.route(route="pipelines/published/{pipeline_id}/enable", methods=["POST"])
@operation("Enable a published pipeline", ok=(200, ref("PublishedPipeline")), errors=NOT_FOUND)
@json_endpoint()
def enable_published(req: func.HttpRequest) -> object:
    record = published.set_status(app_storage(), req.route_params["pipeline_id"], PublishedStatus.ACTIVE)
    return published.describe(record)


@bp.route(route="pipelines/published/{pipeline_id}/disable", methods=["POST"])
@operation("Disable a published pipeline", ok=(200, ref("PublishedPipeline")), errors=NOT_FOUND)
@json_endpoint()
def disable_published(req: func.HttpRequest) -> object:
    record = published.set_status(app_storage(), req.route_params["pipeline_id"], PublishedStatus.DISABLED)
    return published.describe(record)


@dataclass(frozen=True)
class Submission:
    """Azure ML's PipelineSubmit body (`PipelineSubmissionInfo`), as a published pipeline's or a pipeline endpoint's
    REST endpoint takes it."""

    experiment: object
    assignments: dict[str, Any]
    tags: dict[str, Any] | None
    continue_on_step_failure: object = None


def _object(body: dict[str, Any], field: str) -> dict[str, Any]:
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"'{field}' must be an object of parameter names to values", field=field)
    return value


def _data_path(value: object) -> dict[str, str] | None:
    """Azure ML's DataPath {"DataStoreName", "RelativePath"} as a datastore path value."""
    if isinstance(value, dict) and value.get("DataStoreName") and value.get("RelativePath"):
        return {"datastore": str(value["DataStoreName"]), "path": str(value["RelativePath"])}
    return None


def _data_path_assignments(body: dict[str, Any]) -> dict[str, Any]:
    """`DataPathAssignments`: {param: {"DataStoreName": ..., "RelativePath": ...}}."""
    values: dict[str, Any] = {}
    for name, value in _object(body, "DataPathAssignments").items():
        path = _data_path(value)
        if path is None:
            raise InvalidInput(f"data path parameter {name!r}: give DataStoreName and RelativePath", field=name)
        values[name] = path
    return values


def _dataset_assignments(body: dict[str, Any]) -> dict[str, Any]:
    """`DataSetDefinitionValueAssignments`: {param: {"SavedDataSetReference": {"Id": ...}}} or
    {param: {"DataPath": {"DataStoreName": ..., "RelativePath": ...}}}, as parameter values."""
    values: dict[str, Any] = {}
    for name, value in _object(body, "DataSetDefinitionValueAssignments").items():
        saved = value.get("SavedDataSetReference") if isinstance(value, dict) else None
        path = _data_path(value.get("DataPath")) if isinstance(value, dict) else None
        if isinstance(saved, dict) and saved.get("Id"):
            values[name] = str(saved["Id"])
        elif path is not None:
            values[name] = path
        else:
            raise InvalidInput(
                f"dataset parameter {name!r}: give SavedDataSetReference.Id or DataPath.DataStoreName/RelativePath",
                field=name,
            )
    return values


def submission(body: dict[str, Any]) -> Submission:
    """The run a submit body asks for: its experiment, every parameter value (`ParameterAssignments` of any JSON
    scalar, `DataPathAssignments`, `DataSetDefinitionValueAssignments`; a parameter assigned twice is refused) and
    its tags (`tags`, or `Tags`), with `RunSource` kept as the tag `azureml.runsource`, and
    `ContinueRunOnStepFailure`."""
    parts = [_object(body, "ParameterAssignments"), _data_path_assignments(body), _dataset_assignments(body)]
    assignments: dict[str, Any] = {}
    for part in parts:
        both = sorted(set(assignments) & set(part))
        if both:
            raise InvalidInput(f"parameters {both} are assigned twice", field=both[0])
        assignments.update(part)
    tags = body.get("tags", body.get("Tags"))
    source = body.get("RunSource")
    if source is not None:
        if not isinstance(source, str):
            raise InvalidInput("'RunSource' must be a string", field="RunSource")
        # the run's start checks the values
        tags = {**validators.string_values(tags, "tags", values="unchecked"), "azureml.runsource": source}
    return Submission(body.get("ExperimentName"), assignments, tags, body.get("ContinueRunOnStepFailure"))


def run_answer(run: dict[str, Any], pipeline_id: str) -> dict[str, Any]:
    """What Azure ML's PipelineSubmit answers: the run's id first."""
    return {
        "Id": run["id"],
        "ExperimentName": run["experiment"],
        "PipelineId": pipeline_id,
        "Status": {"StatusCode": run["status"]},
        "CreatedTime": run["created_time"],
    }


@bp.route(route="pipelines/published/{pipeline_id}/submit", methods=["POST"])
@operation(
    "The published pipeline's endpoint: starts a run",
    ok=(200, ref("SubmittedRun")),
    errors=(400, 404, 409, 413),
    body=Body(
        "SubmitPublished",
        record(
            {
                "ExperimentName": NAME,
                "ParameterAssignments": or_empty(OBJECT),
                "DataSetDefinitionValueAssignments": or_empty(OBJECT),
                "Tags": or_empty(STRINGS),
            },
            required=["ExperimentName"],
        ),
    ),
)
@json_endpoint()
def submit_published(req: func.HttpRequest) -> object:
    """The published pipeline's endpoint: `{"ExperimentName": ..., "ParameterAssignments": {...}}` -> `{"Id": ...}`."""
    asked = submission(json_body(req))
    pipeline_id = req.route_params["pipeline_id"]
    run = published.start(
        app_storage(),
        pipeline_id,
        asked.experiment,
        asked.assignments,
        tags=asked.tags,
        continue_on_step_failure=asked.continue_on_step_failure,
    )
    return run_answer(run, pipeline_id)


# -- pipeline endpoints -----------------------------------------------------------------------------------------------


@bp.route(route="pipelines/endpoints", methods=["POST"])
@operation(
    'Publish a pipeline endpoint for a published pipeline (version "0", the default)',
    ok=(201, ref("PipelineEndpoint")),
    errors=(400, 404, 409, 413),
    body=Body(
        "PublishEndpoint",
        record({"name": NAME, "description": NULLABLE_TEXT, "pipeline_id": NAME}, required=["name", "pipeline_id"]),
    ),
)
@json_endpoint()
def publish_endpoint(req: func.HttpRequest) -> object:
    body = json_body(req)
    return 201, endpoints.publish(app_storage(), body.get("name"), body.get("description"), body.get("pipeline_id"))


@bp.route(route="pipelines/endpoints", methods=["GET"])
@operation(
    "Pipeline endpoints, newest first",
    ok=(200, array(ref("PipelineEndpoint"))),
    errors=(400,),
    query=(query("active_only", BOOLEAN_QUERY),),
)
@json_endpoint()
def list_endpoints(req: func.HttpRequest) -> object:
    active_only = bool_param(req, "active_only", default=True)
    return endpoints.list_endpoints(app_storage(), active_only=active_only)


@bp.route(route="pipelines/endpoints/{endpoint}", methods=["GET"])
@operation("A pipeline endpoint, by id or name", ok=(200, ref("PipelineEndpoint")), errors=NOT_FOUND)
@json_endpoint()
def get_endpoint(req: func.HttpRequest) -> object:
    return endpoints.get_endpoint(app_storage(), req.route_params["endpoint"])


@bp.route(route="pipelines/endpoints/{endpoint}/versions", methods=["POST"])
@operation(
    "Add a published pipeline as the next version",
    ok=(200, ref("PipelineEndpoint")),
    errors=(400, 404, 413),
    body=Body(
        "AddEndpointVersion", record({"pipeline_id": NAME, "default": {"type": "boolean"}}, required=["pipeline_id"])
    ),
)
@json_endpoint()
def add_endpoint_version(req: func.HttpRequest) -> object:
    body = json_body(req)
    make_default = body.get("default", False)
    if not isinstance(make_default, bool):
        raise InvalidInput("'default' must be true or false", field="default")
    return endpoints.add(app_storage(), req.route_params["endpoint"], body.get("pipeline_id"), make_default)


@bp.route(route="pipelines/endpoints/{endpoint}/default", methods=["POST"])
@operation(
    "Set the default version",
    ok=(200, ref("PipelineEndpoint")),
    errors=(400, 404, 413),
    body=Body("SetEndpointDefault", record({"version": VERSION_LABEL})),
)
@json_endpoint()
def set_endpoint_default(req: func.HttpRequest) -> object:
    version = json_body(req).get("version")
    return endpoints.set_default_version(app_storage(), req.route_params["endpoint"], version)


@bp.route(route="pipelines/endpoints/{endpoint}/name", methods=["POST"])
@operation(
    "Rename a pipeline endpoint (its id and URL stay)",
    ok=(200, ref("PipelineEndpoint")),
    errors=(400, 404, 409, 413),
    body=Body("RenameEndpoint", record({"name": NAME})),
)
@json_endpoint()
def rename_endpoint(req: func.HttpRequest) -> object:
    return endpoints.rename(app_storage(), req.route_params["endpoint"], json_body(req).get("name"))


@bp.route(route="pipelines/endpoints/{endpoint}/enable", methods=["POST"])
@operation("Enable a pipeline endpoint", ok=(200, ref("PipelineEndpoint")), errors=NOT_FOUND)
@json_endpoint()
def enable_endpoint(req: func.HttpRequest) -> object:
    return endpoints.set_status(app_storage(), req.route_params["endpoint"], EndpointStatus.ACTIVE)


@bp.route(route="pipelines/endpoints/{endpoint}/disable", methods=["POST"])
@operation("Disable a pipeline endpoint", ok=(200, ref("PipelineEndpoint")), errors=NOT_FOUND)
@json_endpoint()
def disable_endpoint(req: func.HttpRequest) -> object:
    return endpoints.set_status(app_storage(), req.route_params["endpoint"], EndpointStatus.DISABLED)


@bp.route(route="pipelines/endpoints/{endpoint}/submit", methods=["POST"])
@operation(
    "The endpoint's REST endpoint: a published pipeline's submit body plus PipelineVersion (else the default)",
    ok=(200, ref("SubmittedRun")),
    errors=(400, 404, 409, 413),
    body=Body(
        "SubmitEndpoint",
        record(
            {
                "ExperimentName": NAME,
                "PipelineVersion": {"type": ["string", "integer", "null"]},  # null or "": the default version
                "ParameterAssignments": or_empty(OBJECT),
                "DataSetDefinitionValueAssignments": or_empty(OBJECT),
                "Tags": or_empty(STRINGS),
            },
            required=["ExperimentName"],
        ),
    ),
)
@json_endpoint()
def submit_endpoint(req: func.HttpRequest) -> object:
    """The endpoint's stable REST endpoint: Azure ML's body, plus `PipelineVersion` to run another version than the
    default; answers `{"Id": ...}`."""
    body = json_body(req)
    asked = submission(body)
    version = body.get("PipelineVersion")
    if version is not None and not isinstance(version, str | int):
        raise InvalidInput("'PipelineVersion' must be a version such as \"0\"", field="PipelineVersion")
    storage = app_storage()
    endpoint = endpoints.get_endpoint(storage, req.route_params["endpoint"])
    run = endpoints.start(
        storage,
        endpoint["id"],
        asked.experiment,
        asked.assignments,
        asked.tags,
        version,
        continue_on_step_failure=asked.continue_on_step_failure,
    )
    return run_answer(run, endpoints.pipeline_of(endpoint, version))
