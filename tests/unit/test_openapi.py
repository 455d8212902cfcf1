"""The OpenAPI document is assembled from the registered HTTP functions and the operation each declares beside its
handler (functions/api_document.py): it and the routes describe the same API, both ways, every function declares its
operation and every declaration is a registered function's, and the document is the one the inventory pins."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from fninfer_host.routing import build_routes, match_route
from functions.api import http_functions
from functions.api_document import DECLARED, ROUTE_PREFIX, HttpFunction, openapi_document, openapi_paths
from studio.render import BASE
from tests.declared import http_triggers

ROOT = Path(__file__).resolve().parents[2]
#: Every operation and schema of the document, each with a digest of its content (see `inventory`).
INVENTORY = ROOT / "tests" / "fixtures" / "api_document" / "inventory.txt"


def document() -> dict[str, Any]:
    return openapi_document(http_functions())


def registered_operations() -> set[tuple[str, str]]:
    """The API's operations: every HTTP function's but the studio's pages (HTML for people, under studio/)."""
    operations = set()
    for _, trigger in http_triggers():
        if trigger.route.split("/")[0] == "studio":
            continue
        segments = []
        for segment in trigger.route.strip("/").split("/"):
            optional = re.fullmatch(r"\{([A-Za-z_]\w*)(?::[^}]*)?\?\}", segment)
            if optional:  # an optional last parameter documents as two paths
                for method in trigger.methods:
                    operations.add((str(method).lower(), "/api/" + "/".join(segments)))
            segments.append(re.sub(r"\{\*?([A-Za-z_]\w*)[^}]*\}", r"{\1}", segment))
        for method in trigger.methods:
            operations.add((str(method).lower(), "/api/" + "/".join(segments)))
    return operations


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    documented = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert documented == registered_operations()


def test_every_path_parameter_is_declared() -> None:
    for path, item in document()["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, declared)


def sample_path(route: str) -> str:
    """A concrete path for a route template: every parameter filled with a value its constraint accepts."""

    def fill(match: re.Match[str]) -> str:
        return "7" if ":int" in match.group(0) or "{version" in match.group(0) else "sample"

    return re.sub(r"\{[^}]*\}", fill, route)


def test_no_route_shadows_another() -> None:
    """The host matches routes in registration order; each route's own paths must reach its own function."""
    triggers = http_triggers()
    routes = build_routes(
        (function.get_function_name(), trigger.route, [str(m) for m in trigger.methods or []])
        for function, trigger in triggers
    )
    for function, trigger in triggers:
        for method in trigger.methods:
            found = match_route(routes, str(method), sample_path(trigger.route))
            assert found is not None and found[0].function_name == function.get_function_name(), trigger.route


def test_every_http_function_declares_its_operation_and_every_declaration_is_a_functions() -> None:
    assert {function.handler for function in http_functions()} == set(DECLARED)
    with pytest.raises(KeyError, match="'surprise' declares no @operation"):
        openapi_document([HttpFunction("surprise", "surprise", ["GET"], lambda req: None)])


def test_the_prefix_is_host_jsons_and_the_studios() -> None:
    assert json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"] == ROUTE_PREFIX
    assert f"/{ROUTE_PREFIX}/studio" == BASE


def test_an_operation_documented_with_the_admin_key_refuses_a_request_without_it() -> None:
    """The document's `security` comes from the handler's own `json_endpoint(admin=...)`: those it marks answer 401
    to a request with no key, before reading anything; the others (the document, a service's scoring URI and
    Swagger document) authenticate otherwise or not at all."""
    open_operations = set()
    for name, route, methods, handler in http_functions():
        operation = document()["paths"][openapi_paths(route)[-1][0]][(methods or ["get"])[0].lower()]
        if operation["security"] != [{"adminKey": []}]:
            open_operations.add(name)
            continue
        request = func.HttpRequest((methods or ["GET"])[0], f"http://localhost/{ROUTE_PREFIX}/{route}", body=b"")
        answer = handler(request)
        response = asyncio.run(answer) if inspect.isawaitable(answer) else answer
        assert response.status_code == 401, name
    assert open_operations == {"openapi", "score", "swagger"}


def inventory(document: dict[str, Any]) -> list[str]:
    """One line per operation (method, path, operationId) and per component, each with the first 12 hex digits of
    the sha256 of its canonical JSON: any change of the document changes a line, and says where."""

    def digest(value: object) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]

    lines = [f"{key} {digest(document[key])}" for key in ("openapi", "info")]
    for path, item in document["paths"].items():
        lines += [f"{method} {path} {op['operationId']} {digest(op)}" for method, op in item.items()]
    for kind, components in document["components"].items():
        lines += [f"{kind} {name} {digest(value)}" for name, value in components.items()]
    return sorted(lines)


def test_the_document_is_the_one_the_inventory_pins() -> None:
    """A change of the HTTP API's document is made on purpose: the lines that differ name what changed (update
    tests/fixtures/api_document/inventory.txt with them)."""
    assert inventory(document()) == INVENTORY.read_text().splitlines()


def test_route_templates_become_openapi_paths() -> None:
    assert openapi_paths("models") == [("/api/models", [])]
    assert openapi_paths("models/{name}/{version:int?}") == [
        ("/api/models/{name}", ["name"]),
        ("/api/models/{name}/{version}", ["name", "version"]),
    ]
    assert openapi_paths("files/{*rest}") == [("/api/files/{rest}", ["rest"])]
    assert openapi_paths("a/{id:int:min(1)}/b") == [("/api/a/{id}/b", ["id"])]


def test_operation_ids_are_unique_and_every_schema_reference_resolves() -> None:
    generated = document()
    ids = [op["operationId"] for item in generated["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(generated)))
    assert references and references <= set(generated["components"]["schemas"])
    no_object_only = [  # the point of the document: no response is just {"type": "object"}
        (path, method)
        for path, item in generated["paths"].items()
        for method, op in item.items()
        if path != "/api/openapi.json"
        for status, response in op["responses"].items()
        for content in response.get("content", {}).values()
        if status.startswith("2") and content["schema"] == {"type": "object"}
    ]
    assert no_object_only == []
