"""Real-time service management (admin key) and the deployment queue function."""

from __future__ import annotations

import json

import azure.functions as func

from functions._http import async_json_endpoint, json_body, json_endpoint
from functions._waiting import watched
from functions.scoring import runtime
from shared import layout
from shared.services import auth, operations, records
from shared.services.logs import read_logs
from shared.storage import app_storage
from shared.watch import Blob

bp = func.Blueprint()


@bp.route(route="services", methods=["GET"])
@json_endpoint()
def list_services(req: func.HttpRequest) -> object:
    return [operations.public_view(record) for record in records.list_services(app_storage())]


@bp.route(route="services/{name}", methods=["POST"])
@json_endpoint()
def deploy_service(req: func.HttpRequest) -> object:
    return 202, operations.deploy(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="services/{name}", methods=["GET"])
@async_json_endpoint()
async def get_service(req: func.HttpRequest) -> object:
    """The service; `?wait=Transitioning` waits for the deployment's outcome first (functions/_waiting.py)."""
    name = req.route_params["name"]
    record = Blob(layout.REGISTRY_CONTAINER, layout.service_record(name))
    return await watched(
        req, lambda: operations.public_view(records.get_service(app_storage(), name)), [record], status_key="state"
    )


@bp.route(route="services/{name}", methods=["PATCH"])
@json_endpoint()
def update_service(req: func.HttpRequest) -> object:
    return 202, operations.update(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="services/{name}", methods=["DELETE"])
@json_endpoint()
def delete_service(req: func.HttpRequest) -> object:
    records.delete_service(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}


@bp.route(route="services/{name}/keys", methods=["GET"])
@json_endpoint()
def get_keys(req: func.HttpRequest) -> object:
    primary, secondary = auth.keys_of(records.get_service(app_storage(), req.route_params["name"]))
    return {"primaryKey": primary, "secondaryKey": secondary}


@bp.route(route="services/{name}/keys/regenerate", methods=["POST"])
@json_endpoint()
def regenerate_key(req: func.HttpRequest) -> object:
    body = json_body(req)
    key_type, set_key = body.get("keyType"), body.get("setKey")
    records.update_service(
        app_storage(), req.route_params["name"], lambda r: auth.regenerate(r, str(key_type), set_key)
    )
    primary, secondary = auth.keys_of(records.get_service(app_storage(), req.route_params["name"]))
    return {"primaryKey": primary, "secondaryKey": secondary}


@bp.route(route="services/{name}/token", methods=["GET"])
@json_endpoint()
def get_token(req: func.HttpRequest) -> object:
    token, refresh_after = auth.issue_token(records.get_service(app_storage(), req.route_params["name"]))
    return {"accessToken": token, "refreshAfter": refresh_after}


@bp.route(route="services/{name}/logs", methods=["GET"])
@json_endpoint()
def get_logs(req: func.HttpRequest) -> object:
    name = req.route_params["name"]
    records.get_service(app_storage(), name)
    return func.HttpResponse(read_logs(app_storage(), name), mimetype="text/plain")


@bp.queue_trigger(arg_name="msg", queue_name=layout.DEPLOYMENTS_QUEUE, connection="AzureWebJobsStorage")
def run_deployment(msg: func.QueueMessage) -> None:
    request = json.loads(msg.get_body())
    runtime().deploy(request["name"], int(request["code_version"]))
