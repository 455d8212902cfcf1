"""The OpenAPI 3.1 document of the app's HTTP API, served at `/api/openapi.json`, assembled from the HTTP functions
the app registers and the operation each one declares beside its handler.

Paths, methods and path parameters come from the functions' routes (their templates, as the Functions host reads
them), and whether the admin key is needed from the handler's own `json_endpoint(admin=...)`, so the document cannot
list an endpoint the app lacks or miss one it has. What the routes cannot say (a summary, query parameters, request
and response schemas) each handler declares with `@operation(...)`, just under its `@bp.route(...)`:

    @bp.route(route="models/{name}", methods=["GET"])
    @operation("A model", ok=(200, ref("Model")), errors=NOT_FOUND)
    @json_endpoint()
    def get_model(req: func.HttpRequest) -> object: ...

A function without a declaration, or a declaration of no registered function, fails `tests/unit/test_api_document.py`.
Request bodies describe what the handlers read; validity that depends on storage (an upload staged, a snapshot
uploaded, a pipeline that exists) is beyond a schema, and tests/schemathesis.toml lists those operations for
`tests/integration/test_api_document.py`, which fuzzes the running app against this document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from functions._http import needs_admin_key
from functions.schemas import NAME, SCHEMAS, Schema, ref

#: host.json's `extensions.http.routePrefix` (tests/unit/test_api_document.py keeps the two equal).
ROUTE_PREFIX = "api"
#: A route parameter: `{name}`, `{version:int?}`, `{*rest}`, with constraints and default.
_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)((?::[^{}=?]+)*)(\?)?(?:=[^{}]*)?\}")
#: Path parameters are names (`NAME`) but these.
PATH_SCHEMAS = {"version": {"type": "integer", "minimum": 1}}


@dataclass(frozen=True)
class Body:
    """A request body: its schema, listed under this name in the document's components."""

    name: str
    schema: Schema


@dataclass(frozen=True)
class Operation:
    """What a route does not say about one HTTP function."""

    summary: str
    ok: tuple[int, Schema | None]  # (status, schema); None: any JSON
    errors: tuple[int, ...] = ()  # error statuses besides the admin key's 401, each with the Error body
    body: Body | None = None
    query: tuple[Schema, ...] = ()
    also: dict[int, Schema] = field(default_factory=dict)  # other answers, as JSON
    media_type: str = "application/json"  # the ok answer's
    overrides: dict[str, Any] = field(default_factory=dict)  # OpenAPI fields given as they are (security, responses)
    per_method: dict[str, dict[str, Any]] = field(default_factory=dict)  # fields for one method only


#: Each HTTP function's declaration, by the function its blueprint registers.
DECLARED: dict[Callable[..., Any], Operation] = {}

Handler = TypeVar("Handler", bound=Callable[..., Any])


def operation(
    summary: str,
    ok: tuple[int, Schema | None],
    errors: tuple[int, ...] = (),
    body: Body | None = None,
    *,
    query: tuple[Schema, ...] = (),
    also: dict[int, Schema] | None = None,
    media_type: str = "application/json",
    overrides: dict[str, Any] | None = None,
    per_method: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare the handler's operation for the document (placed just under `@bp.route`, above `json_endpoint`)."""
    declared = Operation(summary, ok, errors, body, query, also or {}, media_type, overrides or {}, per_method or {})

    def declare(handler: Handler) -> Handler:
        DECLARED[handler] = declared
        return handler

    return declare


class HttpFunction(NamedTuple):
    """An HTTP function as azure.functions indexes it for the Functions host."""

    name: str
    route: str
    methods: list[str] | None
    handler: Callable[..., Any]


def openapi_paths(route: str) -> list[tuple[str, list[str]]]:
    """The OpenAPI path(s) of a route template and their parameters: a trailing optional parameter gives two paths,
    with and without it (OpenAPI path parameters are always required)."""
    template = route.strip("/")
    names = [match.group(1) for match in _PARAMETER.finditer(template)]
    path = "/" + "/".join(filter(None, [ROUTE_PREFIX, _PARAMETER.sub(lambda m: "{" + m.group(1) + "}", template)]))
    last = list(_PARAMETER.finditer(template))
    if last and last[-1].group(3) and last[-1].end() == len(template) and template[: last[-1].start()].endswith("/"):
        shorter = path[: path.rindex("/")]
        return [(shorter, names[:-1]), (path, names)]
    return [(path, names)]


def _path_parameter(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, NAME)}


def _json(schema: Schema | None, description: str, media_type: str = "application/json") -> Schema:
    return {"description": description, "content": {media_type: {"schema": {} if schema is None else schema}}}


def _operation(declared: Operation, admin: bool, parameters: list[str]) -> Schema:
    status, schema = declared.ok
    responses = {str(status): _json(schema, "OK", declared.media_type)}
    for also, also_schema in declared.also.items():
        responses[str(also)] = _json(also_schema, "OK")
    for error in (*((401,) if admin else ()), *declared.errors):
        responses[str(error)] = _json(ref("Error"), "Error")
    document: Schema = {"summary": declared.summary, "responses": responses}
    document["security"] = [{"adminKey": []}] if admin else []
    if parameters or declared.query:
        document["parameters"] = [*map(_path_parameter, parameters), *declared.query]
    if declared.body:
        schema_ref = ref(declared.body.name)
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema_ref}}}
    return {**document, **declared.overrides}


def _bodies(declarations: Iterable[Operation]) -> dict[str, Schema]:
    bodies: dict[str, Schema] = {}
    for declared in declarations:
        body = declared.body
        if body is None:
            continue
        if body.name in SCHEMAS or bodies.get(body.name, body.schema) != body.schema:
            raise ValueError(f"two schemas are named {body.name!r}: give the request body another name")
        bodies[body.name] = body.schema
    return bodies


def openapi_document(http_functions: Iterable[HttpFunction]) -> dict[str, Any]:
    """The document of these HTTP functions, each with its declared operation (a KeyError names one without)."""
    paths: dict[str, dict[str, Any]] = {}
    declarations = []
    for name, route, methods, handler in http_functions:
        declared = DECLARED.get(handler)
        if declared is None:
            raise KeyError(f"HTTP function {name!r} declares no @operation beside its @bp.route")
        declarations.append(declared)
        admin = needs_admin_key(handler)
        variants = openapi_paths(route)
        for path, parameters in variants:
            # operationIds are unique: the shorter path of an optional parameter is "<name>_without_<parameter>".
            operation_id = name if parameters == variants[-1][1] else f"{name}_without_{variants[-1][1][-1]}"
            for method in methods or ("get", "post", "put", "patch", "delete"):
                paths.setdefault(path, {})[method.lower()] = {
                    "operationId": operation_id if len(methods or ()) < 2 else f"{operation_id}_{method.lower()}",
                    **_operation(declared, admin, parameters),
                    **declared.per_method.get(method.lower(), {}),
                }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fninfer",
            "version": "0.1.0",
            "description": "Azure ML inference workflows on Azure Functions",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminKey": {"type": "http", "scheme": "bearer"},
                "serviceKeyOrToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {**SCHEMAS, **_bodies(declarations)},
        },
    }
