"""Published pipelines: publish (from a definition or a run), list, get, enable/disable, and each one's REST endpoint
`POST /api/pipelines/published/<id>/submit`, which starts a run as Azure ML's PipelineSubmit does."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from functions._http import bool_param, json_body, json_endpoint
from shared.errors import InvalidInput
from shared.pipelines import published
from shared.pipelines.published import PublishedStatus
from shared.storage import app_storage

bp = func.Blueprint()


@bp.route(route="pipelines/published", methods=["POST"])
@json_endpoint()
def publish_pipeline(req: func.HttpRequest) -> object:
    body = json_body(req)
    record = published.publish(
        app_storage(), body.get("pipeline"), body.get("name"), body.get("description"), body.get("version")
    )
    return 201, published.describe(record)


@bp.route(route="pipelines/runs/{run_id}/publish", methods=["POST"])
@json_endpoint()
def publish_run(req: func.HttpRequest) -> object:
    body = json_body(req)
    run_id = req.route_params["run_id"]
    record = published.publish_run(
        app_storage(), run_id, body.get("name"), body.get("description"), body.get("version")
    )
    return 201, published.describe(record)


@bp.route(route="pipelines/published", methods=["GET"])
@json_endpoint()
def list_published(req: func.HttpRequest) -> object:
    active_only = bool_param(req, "active_only", default=True)
    return [published.describe(r) for r in published.list_published(app_storage(), active_only=active_only)]


@bp.route(route="pipelines/published/{pipeline_id}", methods=["GET"])
@json_endpoint()
def get_published(req: func.HttpRequest) -> object:
    return published.describe(published.get_published(app_storage(), req.route_params["pipeline_id"]))


@bp.route(route="pipelines/published/{pipeline_id}/enable", methods=["POST"])
@json_endpoint()
def enable_published(req: func.HttpRequest) -> object:
    record = published.set_status(app_storage(), req.route_params["pipeline_id"], PublishedStatus.ACTIVE)
    return published.describe(record)


@bp.route(route="pipelines/published/{pipeline_id}/disable", methods=["POST"])
@json_endpoint()
def disable_published(req: func.HttpRequest) -> object:
    record = published.set_status(app_storage(), req.route_params["pipeline_id"], PublishedStatus.DISABLED)
    return published.describe(record)


def _dataset_assignments(body: dict[str, Any]) -> dict[str, Any]:
    """Azure ML's `DataSetDefinitionValueAssignments`: {param: {"SavedDataSetReference": {"Id": ...}}} or
    {param: {"DataPath": {"DataStoreName": ..., "RelativePath": ...}}}, as parameter values."""
    field = "DataSetDefinitionValueAssignments"
    raw = body.get(field) or {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"'{field}' must be an object", field=field)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        saved = value.get("SavedDataSetReference") if isinstance(value, dict) else None
        path = value.get("DataPath") if isinstance(value, dict) else None
        if isinstance(saved, dict) and saved.get("Id"):
            values[name] = str(saved["Id"])
        elif isinstance(path, dict) and path.get("DataStoreName") and path.get("RelativePath"):
            values[name] = {"datastore": path["DataStoreName"], "path": path["RelativePath"]}
        else:
            raise InvalidInput(
                f"dataset parameter {name!r}: give SavedDataSetReference.Id or DataPath.DataStoreName/RelativePath",
                field=name,
            )
    return values


@bp.route(route="pipelines/published/{pipeline_id}/submit", methods=["POST"])
@json_endpoint()
def submit_published(req: func.HttpRequest) -> object:
    """The published pipeline's endpoint: `{"ExperimentName": ..., "ParameterAssignments": {...}}` -> `{"Id": ...}`."""
    body = json_body(req)
    assignments = body.get("ParameterAssignments") or {}
    if not isinstance(assignments, dict):
        raise InvalidInput("'ParameterAssignments' must be an object of parameter names to values")
    datasets = _dataset_assignments(body)
    both = sorted(set(assignments) & set(datasets))
    if both:
        raise InvalidInput(f"parameters {both} are assigned twice", field=both[0])
    run = published.start(
        app_storage(),
        req.route_params["pipeline_id"],
        body.get("ExperimentName"),
        {**assignments, **datasets},
        tags=body.get("Tags"),
    )
    return {
        "Id": run["id"],
        "ExperimentName": run["experiment"],
        "PipelineId": req.route_params["pipeline_id"],
        "Status": {"StatusCode": run["status"]},
        "CreatedTime": run["created_time"],
    }
