"""The endpoints of every real-time service: its scoring URI (`GET|POST|OPTIONS /api/services/<name>/score`) and its
Swagger document (`GET /api/services/<name>/swagger.json`).

Both are `async`: waiting for a slot, for run() or for a load holds no thread of the instance's shared pool, so a
slow or stuck service cannot starve the others (shared/services/gate.py). Errors still become responses in the one
place, `functions._http.json_endpoint`: the async handler leaves its outcome in a contextvar for `_answer` to return
or raise.
"""

from __future__ import annotations

import contextvars
import threading
from urllib.parse import urlsplit

import azure.functions as func

from functions._http import json_endpoint
from functions.api_document import operation
from functions.schemas import ANY, OBJECT, query, record, ref
from shared.core.storage import app_storage
from shared.services.calling import Reply, ScoringRequest
from shared.services.raw_http import Headers
from shared.services.runtime import Runtime

bp = func.Blueprint()

#: An error the way Azure ML's scoring server writes it (the scoring endpoint's 400, 415, 500, 504).
SCORING_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
EITHER_ERROR = {"anyOf": [SCORING_ERROR, {"$ref": "#/components/schemas/Error"}]}

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
_outcome: contextvars.ContextVar[Reply | Exception] = contextvars.ContextVar("fninfer_scoring_outcome")


def runtime() -> Runtime:
    """This process's service runtime (loaded entry scripts, log capture), created on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(app_storage())
        return _runtime


@json_endpoint(admin=False)  # the service's own key or token authenticates, not the admin key
def _answer(req: func.HttpRequest) -> object:
    outcome = _outcome.get()
    if isinstance(outcome, Exception):
        raise outcome
    return func.HttpResponse(
        outcome.body, status_code=outcome.status, headers={**outcome.headers, "Content-Type": outcome.content_type}
    )


@bp.route(route="services/{name}/score", methods=["GET", "POST", "OPTIONS"])
@operation(
    "Score: the request reaches run() as Azure ML's scoring server passes it (POST: the body; GET: the query "
    "parameters; OPTIONS: 200, or run()'s own answer under @rawhttp), and the answer is what that server gives",
    ok=(200, None),
    overrides={
        "security": [{"serviceKeyOrToken": []}, {}],
        "responses": {
            "200": {"description": "What run() returned, as Azure ML's scoring server answers it"},
            **{
                status: {"description": "Error", "content": {"application/json": {"schema": SCORING_ERROR}}}
                for status in ("415", "500", "504")
            },
            # 400: Azure ML's body for what run() refuses, fninfer's for a service name that is not valid
            "400": {"description": "Error", "content": {"application/json": {"schema": EITHER_ERROR}}},
            **{
                status: {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
                for status in ("401", "403", "404", "413", "503")
            },
        },
    },
    per_method={"post": {"requestBody": {"content": {"*/*": {"schema": ANY}}}}},
)
async def score(req: func.HttpRequest) -> func.HttpResponse:
    url = urlsplit(req.url)
    request = ScoringRequest(
        method=req.method.upper(),
        url=req.url,
        path=url.path,
        query_string=url.query.encode("latin-1"),
        headers=Headers(req.headers),
        body=req.get_body(),
    )
    try:
        _outcome.set(await runtime().score(req.route_params["name"], request))
    except Exception as exc:
        _outcome.set(exc)
    return _answer(req)


@bp.route(route="services/{name}/swagger.json", methods=["GET"])
@operation(
    "The service's Swagger document, generated from run()'s inference-schema decorators",
    ok=(200, record({"info": OBJECT, "paths": OBJECT})),
    errors=(400, 503),
    also={404: EITHER_ERROR},  # no such service (fninfer's body), no such version (Azure ML's)
    query=(query("version", {"enum": ["2", "2.0", "3", "3.0", "3.1", ""]}),),
)
async def swagger(req: func.HttpRequest) -> func.HttpResponse:
    try:
        _outcome.set(await runtime().swagger(req.route_params["name"], req.params.get("version")))
    except Exception as exc:
        _outcome.set(exc)
    return _answer(req)
