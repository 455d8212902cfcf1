"""Real-time service management (admin key) and the deployment queue function."""

from __future__ import annotations

import json

import azure.functions as func

from functions._http import async_json_endpoint, json_body, json_endpoint
from functions._waiting import watched
from functions.api_document import Body, operation
from functions.schemas import FILE, NOT_FOUND, NULLABLE_TEXT, OBJECT, TEXT, WAIT_QUERIES, array, record, ref
from functions.scoring import runtime
from shared.core import layout
from shared.core.storage import app_storage
from shared.core.watch import Blob
from shared.services import auth, operations, service_records
from shared.services.service_logs import read_logs

bp = func.Blueprint()


@bp.route(route="services", methods=["GET"])
@operation("List real-time services", ok=(200, array(ref("Service"))))
@json_endpoint()
def list_services(req: func.HttpRequest) -> object:
    return [operations.public_view(record) for record in service_records.list_services(app_storage())]


@bp.route(route="services/{name}", methods=["POST"])
@operation(
    "Deploy a service (answers Transitioning; the deployment runs on a queue)",
    ok=(202, ref("Service")),
    errors=(400, 404, 409, 413),
    body=Body(
        "DeployService",
        record(
            {
                "models": array(TEXT),
                "snapshot": record({"id": TEXT, "files": array(FILE)}),
                "entry_script": TEXT,
                "requirements": array(TEXT),
                "environment_name": NULLABLE_TEXT,
                "deployment": OBJECT,
                "compute_target": NULLABLE_TEXT,
                "overwrite": {"type": "boolean"},
            },
            required=["snapshot", "entry_script"],
        ),
    ),
)
@json_endpoint()
def deploy_service(req: func.HttpRequest) -> object:
    return 202, operations.deploy(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="services/{name}", methods=["GET"])
@operation("A service and its state", ok=(200, ref("Service")), errors=NOT_FOUND, query=WAIT_QUERIES)
@async_json_endpoint()
async def get_service(req: func.HttpRequest) -> object:
    """The service; `?wait=Transitioning` waits for the deployment's outcome first (functions/_waiting.py)."""
    name = req.route_params["name"]
    record = Blob(layout.REGISTRY_CONTAINER, layout.service_record(name))
    return await watched(
        req,
        lambda: operations.public_view(service_records.get_service(app_storage(), name)),
        [record],
        status_key="state",
    )


@bp.route(route="services/{name}", methods=["PATCH"])
@operation(
    "Update models, code or settings (also how reload works)",
    ok=(202, ref("Service")),
    errors=(400, 404, 409, 413),
    body=Body("UpdateService", OBJECT),
)
@json_endpoint()
def update_service(req: func.HttpRequest) -> object:
    return 202, operations.update(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="services/{name}", methods=["DELETE"])
@operation("Delete a service", ok=(200, ref("Deleted")), errors=NOT_FOUND)
@json_endpoint()
def delete_service(req: func.HttpRequest) -> object:
    service_records.delete_service(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}


@bp.route(route="services/{name}/keys", methods=["GET"])
@operation("The service's keys", ok=(200, ref("Keys")), errors=NOT_FOUND)
@json_endpoint()
def get_keys(req: func.HttpRequest) -> object:
    primary, secondary = auth.keys_of(service_records.get_service(app_storage(), req.route_params["name"]))
    return {"primaryKey": primary, "secondaryKey": secondary}


@bp.route(route="services/{name}/keys/regenerate", methods=["POST"])
@operation(
    "Regenerate the primary or secondary key",
    ok=(200, ref("Keys")),
    errors=(400, 404, 413),
    body=Body("RegenerateKey", record({"keyType": {"enum": ["Primary", "Secondary"]}})),
)
@json_endpoint()
def regenerate_key(req: func.HttpRequest) -> object:
    body = json_body(req)
    key_type, set_key = body.get("keyType"), body.get("setKey")
    service_records.update_service(
        app_storage(), req.route_params["name"], lambda r: auth.regenerate(r, str(key_type), set_key)
    )
    primary, secondary = auth.keys_of(service_records.get_service(app_storage(), req.route_params["name"]))
    return {"primaryKey": primary, "secondaryKey": secondary}


@bp.route(route="services/{name}/token", methods=["GET"])
@operation("A short-lived token for token auth", ok=(200, ref("Token")), errors=(400, 404, 409))
@json_endpoint()
def get_token(req: func.HttpRequest) -> object:
    token, refresh_after = auth.issue_token(service_records.get_service(app_storage(), req.route_params["name"]))
    return {"accessToken": token, "refreshAfter": refresh_after}


@bp.route(route="services/{name}/logs", methods=["GET"])
@operation("What init() and run() printed, across instances", ok=(200, TEXT), errors=NOT_FOUND, media_type="text/plain")
@json_endpoint()
def get_logs(req: func.HttpRequest) -> object:
    name = req.route_params["name"]
    service_records.get_service(app_storage(), name)
    return func.HttpResponse(read_logs(app_storage(), name), mimetype="text/plain")


@bp.queue_trigger(arg_name="msg", queue_name=layout.DEPLOYMENTS_QUEUE, connection="AzureWebJobsStorage")
def run_deployment(msg: func.QueueMessage) -> None:
    request = json.loads(msg.get_body())
    runtime().deploy(request["name"], int(request["code_version"]))
