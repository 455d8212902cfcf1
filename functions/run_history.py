"""A run's history over HTTP (admin key): details, status, properties, metrics, tags, child runs, registering a model
from its files, and experiments. What `Run` and `Experiment` read and write from outside the app; inside, the same
`shared/run_history.py` functions run on the app's storage."""

from __future__ import annotations

import azure.functions as func

from functions._http import async_json_endpoint, bool_param, json_body, json_endpoint
from functions._waiting import watched
from shared import layout, run_history
from shared.pipelines import submit
from shared.storage import app_storage
from shared.watch import Blob

bp = func.Blueprint()


@bp.route(route="runs", methods=["GET"])
@json_endpoint()
def list_history_runs(req: func.HttpRequest) -> object:
    include_children = bool_param(req, "include_children", default=False)
    return run_history.list_runs(app_storage(), req.params.get("experiment"), include_children)


@bp.route(route="runs", methods=["POST"])
@json_endpoint()
def create_history_run(req: func.HttpRequest) -> object:
    body = json_body(req)
    return 201, run_history.create_run(app_storage(), body.get("experiment"), body)


@bp.route(route="runs/{run_id}", methods=["GET"])
@async_json_endpoint()
async def get_run_details(req: func.HttpRequest) -> object:
    """The run's details; `?wait=<status>` waits for it to move on first (functions/_waiting.py)."""
    run_id = req.route_params["run_id"]
    engine = Blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    info = Blob(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id))
    tags = Blob(layout.RUN_HISTORY_CONTAINER, layout.run_tags(run_id))
    return await watched(
        req, lambda: run_history.describe(app_storage(), run_id), [engine, info], secondary=lambda _: [tags]
    )


@bp.route(route="runs/{run_id}", methods=["PATCH"])
@json_endpoint()
def update_history_run(req: func.HttpRequest) -> object:
    return run_history.update_run(app_storage(), req.route_params["run_id"], json_body(req))


@bp.route(route="runs/{run_id}/status", methods=["POST"])
@json_endpoint()
def set_run_status(req: func.HttpRequest) -> object:
    body, storage, run_id = json_body(req), app_storage(), req.route_params["run_id"]
    if body.get("action") == "cancel":
        return submit.cancel(storage, run_id)
    if body.get("action") == "error":
        return run_history.record_error(storage, run_id, body.get("error"))
    return run_history.set_status(storage, run_id, body.get("action"), body.get("error"))


@bp.route(route="runs/{run_id}/properties", methods=["POST"])
@json_endpoint()
def add_run_properties(req: func.HttpRequest) -> object:
    return run_history.add_properties(app_storage(), req.route_params["run_id"], json_body(req).get("properties"))


@bp.route(route="runs/{run_id}/children", methods=["GET"])
@json_endpoint()
def get_run_children(req: func.HttpRequest) -> object:
    storage, run_id = app_storage(), req.route_params["run_id"]
    run_history.require_run(storage, run_id)
    return [run_history.describe(storage, child) for child in run_history.child_ids(storage, run_id)]


@bp.route(route="runs/{run_id}/metrics", methods=["GET"])
@json_endpoint()
def get_run_metrics(req: func.HttpRequest) -> object:
    recursive = bool_param(req, "recursive", default=False)
    populate = bool_param(req, "populate", default=False)
    return run_history.metrics(app_storage(), req.route_params["run_id"], req.params.get("name"), recursive, populate)


@bp.route(route="runs/{run_id}/metrics", methods=["POST"])
@json_endpoint()
def log_run_metrics(req: func.HttpRequest) -> object:
    count = run_history.log_metrics(app_storage(), req.route_params["run_id"], json_body(req).get("metrics"))
    return {"logged": count}


@bp.route(route="runs/{run_id}/tags", methods=["GET"])
@json_endpoint()
def get_run_tags(req: func.HttpRequest) -> object:
    storage = app_storage()
    run_history.require_run(storage, req.route_params["run_id"])
    return run_history.get_tags(storage, req.route_params["run_id"])


@bp.route(route="runs/{run_id}/tags", methods=["POST"])
@json_endpoint()
def set_run_tags(req: func.HttpRequest) -> object:
    return run_history.set_tags(app_storage(), req.route_params["run_id"], json_body(req).get("tags"))


@bp.route(route="runs/{run_id}/tags/remove", methods=["POST"])
@json_endpoint()
def remove_run_tags(req: func.HttpRequest) -> object:
    return run_history.remove_tags(app_storage(), req.route_params["run_id"], json_body(req).get("keys"))


@bp.route(route="runs/{run_id}/models", methods=["POST"])
@json_endpoint()
def register_run_model(req: func.HttpRequest) -> object:
    return 201, run_history.register_model(app_storage(), req.route_params["run_id"], json_body(req))


@bp.route(route="experiments", methods=["GET"])
@json_endpoint()
def list_experiments(req: func.HttpRequest) -> object:
    return run_history.list_experiments(app_storage())


@bp.route(route="experiments/{name}", methods=["GET"])
@json_endpoint()
def get_experiment(req: func.HttpRequest) -> object:
    return run_history.get_experiment(app_storage(), req.route_params["name"])


@bp.route(route="experiments/{name}", methods=["PUT"])
@json_endpoint()
def ensure_experiment(req: func.HttpRequest) -> object:
    return run_history.ensure_experiment(app_storage(), req.route_params["name"])


@bp.route(route="experiments/{name}", methods=["PATCH"])
@json_endpoint()
def change_experiment(req: func.HttpRequest) -> object:
    return run_history.change_experiment(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="experiments/{name}", methods=["DELETE"])
@json_endpoint()
def delete_experiment(req: func.HttpRequest) -> object:
    run_history.delete_experiment(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}
