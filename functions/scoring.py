"""The scoring endpoint of every real-time service: `POST /api/services/<name>/score`."""

from __future__ import annotations

import threading

import azure.functions as func

from functions._http import json_endpoint
from shared.services.runtime import Runtime
from shared.storage import app_storage

bp = func.Blueprint()

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """This process's service runtime (loaded entry scripts, log capture), created on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(app_storage())
        return _runtime


@bp.route(route="services/{name}/score", methods=["POST"])
@json_endpoint(admin=False)  # the service's own key or token authenticates, not the admin key
def score(req: func.HttpRequest) -> object:
    body = runtime().score(
        req.route_params["name"],
        req.headers.get("authorization"),
        req.headers.get("content-type", ""),
        req.get_body(),
    )
    return func.HttpResponse(body, mimetype="application/json")
