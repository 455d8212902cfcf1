"""Registered environments (admin key): register a version, get one, list the latest of each."""

from __future__ import annotations

import azure.functions as func

from functions._http import int_param, json_body, json_endpoint
from functions.api_document import Body, operation
from functions.schemas import NOT_FOUND, OBJECT, array, ref
from shared.core.storage import app_storage
from shared.registry import environments

bp = func.Blueprint()


@bp.route(route="environments", methods=["GET"])
@operation("The latest version of every environment", ok=(200, array(ref("Environment"))))
@json_endpoint()
def list_environments(req: func.HttpRequest) -> object:
    return environments.list_environments(app_storage())


@bp.route(route="environments/{name}", methods=["POST"])
@operation(
    "Register an environment definition (200 with the latest version when it is unchanged)",
    ok=(201, ref("Environment")),
    errors=(400, 413),
    # an Environment's definition (python, docker, environment_variables, ...)
    body=Body("RegisterEnvironment", OBJECT),
    also={200: ref("Environment")},
)
@json_endpoint()
def register_environment(req: func.HttpRequest) -> object:
    record, created = environments.register_environment(app_storage(), req.route_params["name"], json_body(req))
    return (201 if created else 200), record


@bp.route(route="environments/{name}/{version?}", methods=["GET"])
@operation("An environment version (the latest without one)", ok=(200, ref("Environment")), errors=NOT_FOUND)
@json_endpoint()
def get_environment(req: func.HttpRequest) -> object:
    return environments.get_environment(app_storage(), req.route_params["name"], int_param(req, "version"))
