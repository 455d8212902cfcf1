"""Datastore registration, the workspace's default datastore, and compute targets (admin key; thin: decode, call
shared/, encode). Listing datastores and the dataset routes are in management.py."""

from __future__ import annotations

import azure.functions as func

from functions._http import json_body, json_endpoint
from shared import compute, datastores
from shared.errors import InvalidInput
from shared.storage import app_storage

bp = func.Blueprint()


@bp.route(route="datastores/{name}", methods=["POST"])
@json_endpoint()
def register_datastore(req: func.HttpRequest) -> object:
    return 201, datastores.register_blob_container(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="datastores/{name}", methods=["GET"])
@json_endpoint()
def get_datastore(req: func.HttpRequest) -> object:
    return datastores.get_datastore(app_storage(), req.route_params["name"])


@bp.route(route="datastores/{name}", methods=["DELETE"])
@json_endpoint()
def unregister_datastore(req: func.HttpRequest) -> object:
    datastores.unregister_datastore(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}


@bp.route(route="workspace/defaultdatastore", methods=["GET"])
@json_endpoint()
def get_default_datastore(req: func.HttpRequest) -> object:
    return datastores.get_default(app_storage())


@bp.route(route="workspace/defaultdatastore", methods=["PUT"])
@json_endpoint()
def set_default_datastore(req: func.HttpRequest) -> object:
    name = json_body(req).get("name")
    if not isinstance(name, str):
        raise InvalidInput("'name' must name a registered datastore", field="name")
    return datastores.set_default(app_storage(), name)


@bp.route(route="computetargets", methods=["GET"])
@json_endpoint()
def list_compute_targets(req: func.HttpRequest) -> object:
    return compute.list_targets(app_storage())


@bp.route(route="computetargets/{name}", methods=["PUT"])
@json_endpoint()
def create_compute_target(req: func.HttpRequest) -> object:
    return 201, compute.create(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="computetargets/{name}", methods=["GET"])
@json_endpoint()
def get_compute_target(req: func.HttpRequest) -> object:
    return compute.get(app_storage(), req.route_params["name"])


@bp.route(route="computetargets/{name}", methods=["PATCH"])
@json_endpoint()
def update_compute_target(req: func.HttpRequest) -> object:
    return compute.update(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="computetargets/{name}", methods=["DELETE"])
@json_endpoint()
def delete_compute_target(req: func.HttpRequest) -> object:
    compute.delete(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}
