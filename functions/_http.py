"""The one place HTTP requests are decoded and errors become responses (Starlette's exception middleware, here).

Handlers are plain functions `(req) -> result`; `json_endpoint` wraps them:
- the admin key is checked first (`Authorization: Bearer <FNINFER_ADMIN_KEY>`, constant-time), or in Azure an
  Entra ID token for the app; 401 otherwise;
- a result becomes a JSON 200, or `(status, document)` sets the status;
- a `FninferError` becomes its status with `{"error": {"code", "message", "details"}}`;
- anything else is logged with a reference id and answered 500 with that id only, never a traceback.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from functions._json_body import parse_json
from shared.core.entra import looks_like_entra_token, validate_entra_token
from shared.core.errors import FninferError, InvalidInput, PayloadTooLarge, Unauthorized
from shared.core.settings import ADMIN_KEY, get_setting

log = logging.getLogger("fninfer.app")

#: Management requests carry JSON metadata only; content goes straight to blob storage.
MAX_JSON_BODY = 1024 * 1024

Handler = Callable[[func.HttpRequest], Any]

#: The endpoints that check the admin key first (the API document marks them so: functions/api_document.py).
_ADMIN_ENDPOINTS: set[Callable[..., Any]] = set()


def json_response(status: int, document: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")


def bearer_token(req: func.HttpRequest) -> str | None:
    header = req.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_admin(req: func.HttpRequest) -> None:
    expected = get_setting(ADMIN_KEY)
    presented = bearer_token(req)
    if presented is None:
        raise Unauthorized("this endpoint needs the admin key: send 'Authorization: Bearer <key>'")
    if looks_like_entra_token(presented):
        validate_entra_token(presented)  # an app in Azure: callers authenticate with Entra ID (azure-identity)
        return
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("the admin key is not valid")


def json_body(req: func.HttpRequest, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request's JSON object; 413 over `limit`, 400 naming the problem otherwise."""
    body = req.get_body()
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body has {len(body)} bytes; the limit is {limit}")
    if not body:
        raise InvalidInput("the request body is empty; a JSON object is expected")
    document = parse_json(body)
    if not isinstance(document, dict):
        raise InvalidInput(f"the request body must be a JSON object, not {type(document).__name__}")
    return document


def int_param(req: func.HttpRequest, name: str) -> int | None:
    """A positive integer route parameter (a version): digits only, so `+1`, ` 1` or `1_0` are refused too."""
    raw = req.route_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"'{name}' must be a positive integer, not {raw!r}", field=name)
    return int(raw)


def bool_param(req: func.HttpRequest, name: str, default: bool) -> bool:
    """A `true`/`false` query parameter (the SDK sends exactly these); anything else is a 400 naming it."""
    raw = req.params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise InvalidInput(f"query parameter {name!r} must be 'true' or 'false', not {raw!r}", field=name)
    return raw == "true"


def needs_admin_key(endpoint: Callable[..., Any]) -> bool:
    return endpoint in _ADMIN_ENDPOINTS


def json_endpoint(admin: bool = True) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def endpoint(req: func.HttpRequest) -> func.HttpResponse:
            try:
                if admin:
                    require_admin(req)
                result = handler(req)
            except FninferError as exc:
                return json_response(exc.status, exc.to_dict())
            except Exception:
                reference = uuid.uuid4().hex
                log.exception("Unhandled error in %s (reference %s)", handler.__name__, reference)
                body = {"error": {"code": "internal", "message": f"internal error; reference {reference}"}}
                return json_response(500, body)
            if isinstance(result, func.HttpResponse):
                return result
            if isinstance(result, tuple):
                return json_response(result[0], result[1])
            return json_response(200, result)

        if admin:
            _ADMIN_ENDPOINTS.add(endpoint)
        return endpoint

    return decorate


def _response(result: Any) -> func.HttpResponse:
    if isinstance(result, func.HttpResponse):
        return result
    if isinstance(result, tuple):
        return json_response(result[0], result[1])
    return json_response(200, result)


def _failure(handler: Callable[..., Any], exc: Exception) -> func.HttpResponse:
    if isinstance(exc, FninferError):
        return json_response(exc.status, exc.to_dict())
    reference = uuid.uuid4().hex
    log.error("Unhandled error in %s (reference %s)", handler.__name__, reference, exc_info=exc)
    return json_response(500, {"error": {"code": "internal", "message": f"internal error; reference {reference}"}})


AsyncHandler = Callable[[func.HttpRequest], Awaitable[Any]]


def async_json_endpoint(admin: bool = True) -> Callable[[AsyncHandler], AsyncHandler]:
    """json_endpoint for an `async def` handler (one that waits without holding a thread of the instance)."""

    def decorate(handler: AsyncHandler) -> AsyncHandler:
        @functools.wraps(handler)
        async def endpoint(req: func.HttpRequest) -> func.HttpResponse:
            try:
                if admin:
                    require_admin(req)
                result = await handler(req)
            except Exception as exc:
                return _failure(handler, exc)
            return _response(result)

        if admin:
            _ADMIN_ENDPOINTS.add(endpoint)
        return endpoint

    return decorate
