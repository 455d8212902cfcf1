"""The app's HTTP API: its blueprints, in the order they are registered, and the document that describes them
(`/api/openapi.json`, built from the functions azure.functions indexes). The studio's pages are HTML for people, not
part of it (function_app.py registers them after these)."""

from __future__ import annotations

import functools
import json

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
from shared.openapi import openapi_document

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"])
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
def http_functions() -> list[tuple[str, str, list[str] | None]]:
    """(name, route, methods) of every HTTP function of the API, as azure.functions indexes them for the Functions
    host. A FunctionApp indexes only once (names must be new to it), so a fresh one indexes the same blueprints."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in API_BLUEPRINTS:
        app.register_functions(blueprint)
    found = []
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "httpTrigger":
            binding = json.loads(function.get_function_json())["bindings"][0]
            name = str(function.get_function_name())
            found.append((name, str(binding.get("route") or name), binding.get("methods")))
    return found
