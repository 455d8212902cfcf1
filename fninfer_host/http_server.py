"""The HTTP side of a host instance: an ASGI app that routes requests to HTTP-triggered functions.

Behaviour follows the Functions host (notes §2): `/<routePrefix>/<route>` with ASP.NET templates tried in registration
order, a method mismatch answers 404, bodies over the limit 413, an unhandled exception or a timeout 500 with no
detail in the body (the traceback goes to the console log), host.json `customHeaders` on every response. The
`/admin/...` endpoints need no key, as under Core Tools without `--enableAuth`.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func

from fninfer_host.admin import AdminApi
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import FunctionTimeout, InvocationFailed, Invoker
from fninfer_host.options import HostOptions
from fninfer_host.routing import Route, RouteIndex, build_routes

log = logging.getLogger("fninfer_host")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HTTP_REASON = "This function was programmatically called via the host APIs."


class BodyTooLarge(Exception):
    pass


def http_routes(functions: list[IndexedFunction]) -> list[Route]:
    """The HTTP functions' routes, validated as the host validates them at start-up."""
    entries = [
        (function.name, str(function.trigger.get("route") or function.name), function.trigger.get("methods"))
        for function in functions
        if function.trigger_type == "httpTrigger"
    ]
    return build_routes(entries)


class HttpApp:
    """ASGI application serving one instance's HTTP functions and admin endpoints."""

    def __init__(
        self,
        functions: list[IndexedFunction],
        options: HostOptions,
        invoker: Invoker,
        admin: AdminApi,
    ) -> None:
        self.functions = {function.name: function for function in functions}
        self.routes = RouteIndex.of(http_routes(functions))
        self.options = options
        self.invoker = invoker
        self.admin = admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = _join_headers(scope["headers"])
        try:
            body = await self._read_body(receive, headers)
        except BodyTooLarge:
            await self._send(send, 413, b"", [("content-type", "text/plain")])
            return
        status, response_headers, response_body = await self._dispatch(scope, headers, body)
        await self._send(send, status, response_body, response_headers)

    async def _dispatch(
        self, scope: Scope, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = routing_path(scope)
        method: str = scope["method"].upper()
        if path.lower().rstrip("/") == "/admin" or path.lower().startswith("/admin/"):
            return await self.admin.handle(method, path, body)
        relative = self._strip_prefix(path)
        found = self.routes.match(method, relative) if relative is not None else None
        if found is None:
            return 404, [], b""
        route, route_params = found
        request = func.HttpRequest(
            method=method,
            url=_url(scope, headers),
            headers=headers,
            params=_query_params(scope.get("query_string", b"")),
            route_params=route_params,
            body=body,
        )
        try:
            result = await self.invoker.invoke_async(self.functions[route.function_name], request, HTTP_REASON)
        except (InvocationFailed, FunctionTimeout):
            return 500, [], b""
        return _encode_result(route.function_name, result)

    def _strip_prefix(self, path: str) -> str | None:
        prefix = self.options.route_prefix
        if not prefix:
            return path
        parts = path.strip("/").split("/", 1)
        if parts[0].lower() != prefix.lower():
            return None
        return parts[1] if len(parts) > 1 else ""

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limit = self.options.max_request_body_size
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _send(self, send: Send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        all_headers = [*headers, *self.options.custom_headers, ("content-length", str(len(body)))]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in all_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


def routing_path(scope: Scope) -> str:
    """The path routes are matched against, as ASP.NET Core gives it to the Functions host: percent-decoded except
    `%2F`, which stays encoded, so an encoded slash inside a route value (`models/a%2Fb`) is one segment whose
    value keeps `%2F`, not two segments."""
    raw_path = scope.get("raw_path")
    if not raw_path:
        return str(scope["path"])
    if b"%" not in raw_path:  # nothing to decode
        return str(raw_path.decode("latin-1"))
    pieces = re.split("%2[fF]", raw_path.decode("latin-1"))
    return "%2F".join(urllib.parse.unquote(piece, errors="replace") for piece in pieces)


def _url(scope: Scope, headers: dict[str, str]) -> str:
    """The URL as received: the raw (still percent-encoded) path, not ASGI's decoded `path`."""
    host = headers.get("host") or "{}:{}".format(*scope.get("server", ("127.0.0.1", 80)))
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


def _join_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's header pairs as the worker's headers: lower-case names, a repeated header's values comma-joined."""
    joined: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = bytes(raw_name).decode("latin-1").lower(), bytes(raw_value).decode("latin-1")
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _query_params(query_string: bytes) -> dict[str, str]:
    """One value per key, repeated keys comma-joined, empty values dropped (what the worker passes)."""
    params: dict[str, str] = {}
    if not query_string:
        return params
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=False):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def _encode_result(function_name: str, result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if isinstance(result, func.HttpResponse):
        headers = [(name, value) for name, value in result.headers.items()]
        if not any(name.lower() == "content-type" for name, _ in headers) and result.mimetype:
            headers.append(("content-type", f"{result.mimetype}; charset={result.charset}"))
        return result.status_code, headers, result.get_body() or b""
    if isinstance(result, str):
        return 200, [("content-type", "text/plain; charset=utf-8")], result.encode()
    if result is None:
        return 204, [], b""
    log.error(
        "Function '%s' returned %s; an HTTP function must return func.HttpResponse or str",
        function_name,
        type(result).__name__,
    )
    return 500, [], b""
