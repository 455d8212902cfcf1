"""Datastore registration, the workspace's default datastore, and compute targets (admin key; thin: decode, call
shared/, encode). Listing datastores and the dataset routes are in management.py."""

from __future__ import annotations

import azure.functions as func

from functions._http import json_body, json_endpoint
from functions.api_document import Body, operation
from functions.schemas import ANY_TAGS, NAME, NOT_FOUND, OBJECT, TEXT, array, closed, or_empty, record, ref
from shared.core.errors import InvalidInput
from shared.core.storage import app_storage
from shared.registry import compute, datastores

bp = func.Blueprint()

#: A count given as a number or as its digits (v1 code passes os.environ values).
WHOLE_NUMBER = {"anyOf": [{"type": ["integer", "null"], "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]}


@bp.route(route="datastores/{name}", methods=["POST"])
@operation(
    "Register a blob container as a datastore (Datastore.register_azure_blob_container)",
    ok=(201, ref("Datastore")),
    errors=(400, 409, 413),
    body=Body(
        "RegisterDatastore",
        record(
            {
                "container_name": {"type": "string", "pattern": "^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$"},
                "account_name": {"type": ["string", "null"], "pattern": "^[a-z0-9]{3,24}$"},
                "has_credential": {"type": "boolean"},
                "create_if_not_exists": {"type": "boolean"},
                "overwrite": {"type": "boolean"},
            },
            required=["container_name"],
        ),
    ),
)
@json_endpoint()
def register_datastore(req: func.HttpRequest) -> object:
    return 201, datastores.register_blob_container(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="datastores/{name}", methods=["GET"])
@operation("A datastore", ok=(200, ref("Datastore")), errors=NOT_FOUND)
@json_endpoint()
def get_datastore(req: func.HttpRequest) -> object:
    return datastores.get_datastore(app_storage(), req.route_params["name"])


@bp.route(route="datastores/{name}", methods=["DELETE"])
@operation("Remove a datastore's registration (its container stays)", ok=(200, ref("Deleted")), errors=(400, 404, 409))
@json_endpoint()
def unregister_datastore(req: func.HttpRequest) -> object:
    datastores.unregister_datastore(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}


@bp.route(route="workspace/defaultdatastore", methods=["GET"])
@operation("The workspace's default datastore", ok=(200, ref("Datastore")))
@json_endpoint()
def get_default_datastore(req: func.HttpRequest) -> object:
    return datastores.get_default(app_storage())


@bp.route(route="workspace/defaultdatastore", methods=["PUT"])
@operation(
    "Make a datastore the workspace's default",
    ok=(200, ref("Datastore")),
    errors=(400, 404, 413),
    body=Body("SetDefaultDatastore", record({"name": NAME})),
)
@json_endpoint()
def set_default_datastore(req: func.HttpRequest) -> object:
    name = json_body(req).get("name")
    if not isinstance(name, str):
        raise InvalidInput("'name' must name a registered datastore", field="name")
    return datastores.set_default(app_storage(), name)


@bp.route(route="computetargets", methods=["GET"])
@operation("Compute targets", ok=(200, array(ref("ComputeTarget"))))
@json_endpoint()
def list_compute_targets(req: func.HttpRequest) -> object:
    return compute.list_targets(app_storage())


@bp.route(route="computetargets/{name}", methods=["PUT"])
@operation(
    "Create a compute target record (no provisioning: the compute is the Function App)",
    ok=(201, ref("ComputeTarget")),
    errors=(400, 409, 413),
    body=Body(
        "CreateComputeTarget",
        record(
            {
                "type": {"enum": ["AmlCompute", "AksCompute", "ComputeInstance"]},
                "settings": or_empty(OBJECT),
                "tags": or_empty(ANY_TAGS),
                "attached": {"type": "boolean"},
            },
            required=["type"],
        ),
    ),
)
@json_endpoint()
def create_compute_target(req: func.HttpRequest) -> object:
    return 201, compute.create(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="computetargets/{name}", methods=["GET"])
@operation("A compute target", ok=(200, ref("ComputeTarget")), errors=NOT_FOUND)
@json_endpoint()
def get_compute_target(req: func.HttpRequest) -> object:
    return compute.get(app_storage(), req.route_params["name"])


@bp.route(route="computetargets/{name}", methods=["PATCH"])
@operation(
    "Change a compute target's scale settings, identity or settings (AmlCompute.update, add_identity, ...)",
    ok=(200, ref("ComputeTarget")),
    errors=(400, 404, 409, 413),
    body=Body(
        "UpdateComputeTarget",
        closed(
            {
                "scale_settings": {
                    "anyOf": [
                        closed(
                            {key: WHOLE_NUMBER for key in ("min_nodes", "max_nodes", "idle_seconds_before_scaledown")}
                        ),
                        {"type": "null"},
                    ]
                },
                "identity": {
                    "anyOf": [
                        {"type": "null"},
                        record(
                            {
                                "type": {"const": "SystemAssigned"},
                                "user_assigned": {"anyOf": [array(TEXT), {"type": "null"}]},
                            },
                            ["type"],
                        ),
                        record({"type": {"const": "UserAssigned"}, "user_assigned": {**array(TEXT), "minItems": 1}}),
                    ]
                },
                "settings": or_empty(OBJECT),
            },
        ),
    ),
)
@json_endpoint()
def update_compute_target(req: func.HttpRequest) -> object:
    return compute.update(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="computetargets/{name}", methods=["DELETE"])
@operation("Delete a compute target record", ok=(200, ref("Deleted")), errors=NOT_FOUND)
@json_endpoint()
def delete_compute_target(req: func.HttpRequest) -> object:
    compute.delete(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}
