"""Route templates match as ASP.NET Core's do in the Functions host."""

from __future__ import annotations

import pytest

from fninfer_host.routing import RouteIndex, RouteTemplate, RouteTemplateError, build_routes, match_route


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("models/{name}/{version:int?}", "models/abc", {"name": "abc"}),
        ("models/{name}/{version:int?}", "Models/abc/3", {"name": "abc", "version": "3"}),
        ("models/{name}/{version:int?}", "models/abc/3/", {"name": "abc", "version": "3"}),
        ("models/{name}/{version:int?}", "models/abc/x", None),
        ("models/{name}/{version:int?}", "models/abc/3/4", None),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files/{*path}", "files", {}),
        ("page/{n=1}", "page", {"n": "1"}),
        ("page/{n=1}", "page/7", {"n": "7"}),
        ("{name}.{ext}", "archive.tar.gz", {"name": "archive.tar", "ext": "gz"}),
        ("items/{id:int:min(1)}", "items/0", None),
        ("items/{id:int:min(1)}", "items/5", {"id": "5"}),
        ("items/{id:range(1,3)}", "items/4", None),
        ("items/{id:long}", "items/9223372036854775807", {"id": "9223372036854775807"}),
        ("items/{id:int}", "items/2147483648", None),
        ("flags/{on:bool}", "flags/TRUE", {"on": "TRUE"}),
        ("letters/{w:alpha}", "letters/ab1", None),
        ("ids/{g:guid}", "ids/6f1c1c9e-2d4b-4e55-9a57-1e3c8e6b9a10", {"g": "6f1c1c9e-2d4b-4e55-9a57-1e3c8e6b9a10"}),
        ("ids/{g:guid}", "ids/nope", None),
        ("n/{x:double}", "n/1.5", {"x": "1.5"}),
        ("when/{d:datetime}", "when/2026-11-22", {"d": "2026-11-22"}),
        ("s/{v:minlength(2):maxlength(3)}", "s/a", None),
        ("s/{v:length(2,3)}", "s/abc", {"v": "abc"}),
        ("ssn/{v:regex(^\\d{{3}}$)}", "ssn/123", {"v": "123"}),
        ("ssn/{v:regex(^\\d{{3}}$)}", "ssn/1234", None),
        ("CaseLiteral/x", "caseliteral/X", {}),
        ("items/{id:int}", "items/-3", {"id": "-3"}),
        ("items/{id:max(10)}", "items/11", None),
        ("items/{id:range(1,3)}", "items/2", {"id": "2"}),
        ("n/{x:decimal}", "n/abc", None),
        ("n/{x:float}", "n/-2.5e3", {"x": "-2.5e3"}),
        ("s/{v:length(3)}", "s/abcd", None),
        ("s/{v:required}", "s/a", {"v": "a"}),
        ("s/{v:regex(^[a-z]+$):maxlength(3)}", "s/ABC", {"v": "ABC"}),  # regex is case-insensitive, as in ASP.NET
        ("page/{n:int=1}", "page", {"n": "1"}),
        ("page/{n:int?}", "page/x", None),
        ("files/{*path}", "FILES/a/", {"path": "a"}),
        ("files/{file}.{ext?}", "files/report", {"file": "report"}),
        ("files/{file}.{ext?}", "files/report.tar.gz", {"file": "report.tar", "ext": "gz"}),
        ("lit/{{x}}", "lit/{x}", {}),
        ("", "", {}),
        ("", "/", {}),
        ("a/b", "a/b/c", None),
    ],
)
def test_template_matching(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("items/{id:nosuch}", "unknown route constraint"),
        ("items/{id", "unclosed"),
        ("items/{*rest}/more", "must be the last segment"),
        ("a/{x}/{x}", "twice"),
        ("items/{id:min(a)}", "integer argument"),
        ("items/{id:regex(()}", "not a valid regular expression"),
        ("items/{id:int(3)}", "takes no arguments"),
        ("x/{a?}b", "must end its segment"),
        ("x/{*a}.txt", "whole segment"),
        ("a//b", "empty segment"),
    ],
)
def test_malformed_templates_say_what_is_wrong(template: str, message: str) -> None:
    with pytest.raises(RouteTemplateError, match=message):
        RouteTemplate.parse(template)


def test_first_registered_route_wins_and_methods_filter() -> None:
    routes = build_routes([("by_id", "items/{id}", ["GET"]), ("recent", "items/recent", ["GET"]), ("any", "x", None)])
    # As in the real host, `items/{id}` registered first shadows `items/recent`.
    assert match_route(routes, "GET", "items/recent") == (routes[0], {"id": "recent"})
    assert match_route(routes, "POST", "items/1") is None  # a method mismatch is no match (404)
    assert match_route(routes, "PATCH", "x") == (routes[2], {})


def test_the_route_index_matches_as_trying_every_route_in_order() -> None:
    routes = build_routes(
        [
            ("items", "Items/{id:int}", ["GET"]),
            ("catch", "{kind}/recent", ["GET"]),  # a parameter first: it can match any first segment
            ("recent", "items/recent", ["GET"]),
            ("file", "{name}.{ext?}", None),
            ("all", "files/{*rest}", None),
            ("root", "", None),
            ("braces", "a{{b}}/x", None),
        ]
    )
    index = RouteIndex.of(routes)
    paths = ["items/1", "ITEMS/2", "items/recent", "other/recent", "a.txt", "a", "files/x/y", "", "/", "a{b}/x"]
    paths += ["\u212aelvin/recent", "items", "nothing/here/at/all", "files"]
    for method in ("GET", "POST"):
        for path in paths:
            assert index.match(method, path) == match_route(routes, method, path), (method, path)
    assert index.match("GET", "items/recent") == (routes[1], {"kind": "items"})  # registered before items/recent


def test_start_up_validation() -> None:
    with pytest.raises(RouteTemplateError, match="built in routes"):
        build_routes([("f", "admin/things", None)])
    with pytest.raises(RouteTemplateError, match="built in routes"):
        build_routes([("f", "/Runtime/webhooks", ["GET"])])
    with pytest.raises(RouteTemplateError, match="conflicts with the route defined by function 'a'"):
        build_routes([("a", "items", None), ("b", "items", ["DELETE"])])  # null methods overlap every method
    with pytest.raises(RouteTemplateError, match="conflicts with the route defined by function 'a'"):
        build_routes([("a", "Items/{id}", ["GET"]), ("b", "/items/{id}/", ["GET", "POST"])])
    # Same route, disjoint methods: allowed.
    assert len(build_routes([("a", "items", ["GET"]), ("b", "items", ["POST"])])) == 2
