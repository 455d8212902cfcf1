"""Registered environments (admin key): register a version, get one, list the latest of each."""

from __future__ import annotations

import azure.functions as func

from functions._http import int_param, json_body, json_endpoint
from shared import environments
from shared.storage import app_storage

bp = func.Blueprint()


@bp.route(route="environments", methods=["GET"])
@json_endpoint()
def list_environments(req: func.HttpRequest) -> object:
    return environments.list_environments(app_storage())


@bp.route(route="environments/{name}", methods=["POST"])
@json_endpoint()
def register_environment(req: func.HttpRequest) -> object:
    record, created = environments.register_environment(app_storage(), req.route_params["name"], json_body(req))
    return (201 if created else 200), record


@bp.route(route="environments/{name}/{version?}", methods=["GET"])
@json_endpoint()
def get_environment(req: func.HttpRequest) -> object:
    return environments.get_environment(app_storage(), req.route_params["name"], int_param(req, "version"))
