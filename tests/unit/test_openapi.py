"""The OpenAPI document is generated from the registered HTTP functions: it and the routes describe the same API,
both ways, and every function has its schemas declared."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fninfer_host.routing import build_routes, match_route
from functions.api import http_functions
from shared.openapi import OPERATIONS, ROUTE_PREFIX, openapi_document, openapi_paths
from tests.declared import http_triggers

ROOT = Path(__file__).resolve().parents[2]


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


def test_every_http_function_has_its_schemas_and_every_entry_a_function() -> None:
    assert {name for name, _, _ in http_functions()} == set(OPERATIONS)
    with pytest.raises(KeyError, match="'surprise' has no entry"):
        openapi_document([("surprise", "surprise", ["GET"])])


def test_the_prefix_is_host_jsons() -> None:
    assert json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"] == ROUTE_PREFIX


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
