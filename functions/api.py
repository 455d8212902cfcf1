"""The app's HTTP API: its blueprints, in the order they are registered, and the document that describes them
(`/api/openapi.json`, assembled from the functions azure.functions indexes and the operations they declare:
functions/api_document.py). The studio's pages are HTML for people, not
part of it (function_app.py registers them after these)."""

from __future__ import annotations

import functools
import json
from typing import Any

import azure.functions as func

from functions import (
    batch,
    data,
    drops,
    environments,
    management,
    publishing,
    run_history,
    schedules,
    scoring,
    services,
    warmup,
    workspace,
)
from functions._http import json_response
from functions.api_document import HttpFunction, openapi_document, operation
from functions.schemas import OBJECT

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"])
@operation("This document", ok=(200, OBJECT))
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(200, openapi_document(http_functions()))


#: Routes are matched in registration order, as the Functions host does. The document's own route follows the
#: management routes, where it has always been.
API_BLUEPRINTS = (
    management.bp,
    bp,
    data.bp,
    environments.bp,
    services.bp,
    scoring.bp,
    batch.bp,
    publishing.bp,
    schedules.bp,
    run_history.bp,
    drops.bp,
    workspace.bp,
    warmup.bp,
)


@functools.cache
def http_functions() -> list[HttpFunction]:
    """Every HTTP function of the API, as azure.functions indexes it for the Functions host. A FunctionApp indexes
    only once (names must be new to it), so a fresh one indexes the same blueprints."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in API_BLUEPRINTS:
        app.register_functions(blueprint)
    found = []
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "httpTrigger":
            binding: dict[str, Any] = json.loads(function.get_function_json())["bindings"][0]
            name = str(function.get_function_name())
            route = str(binding.get("route") or name)
            found.append(HttpFunction(name, route, binding.get("methods"), function.get_user_function()))
    return found
