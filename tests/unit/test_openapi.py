"""The OpenAPI document and the registered routes describe the same API, both ways."""

from __future__ import annotations

import re

from fninfer.host.routing import build_routes, match_route
from shared.openapi import openapi_document
from tests.declared import http_triggers


def registered_operations() -> set[tuple[str, str]]:
    operations = set()
    for _, trigger in http_triggers():
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
    documented = {(method, path) for path, item in openapi_document()["paths"].items() for method in item}
    assert documented == registered_operations()


def test_every_path_parameter_is_declared() -> None:
    for path, item in openapi_document()["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, declared)


def sample_path(route: str) -> str:
    """A concrete path for a route template: every parameter filled with a value its constraint accepts."""

    def fill(match: re.Match[str]) -> str:
        return "7" if ":int" in match.group(0) else "sample"

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
