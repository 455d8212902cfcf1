"""ASP.NET Core route templates, as the Functions host matches HTTP routes.

    "models/{name}/{version:int?}"   literals match case-insensitively; {p} is one segment
    "items/{id:int:min(1)}"          inline constraints, chainable
    "files/{*path}"                  catch-all: the rest of the path, '/' included
    "page/{n=1}"                     inline default; {p?} optional (omitted when not supplied)

Route values reach Python as strings; an optional parameter that was not supplied and has no default is omitted.
Routes are tried in registration order and the first match wins (no ASP.NET precedence), as the real host does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime


class RouteTemplateError(ValueError):
    """A route template is malformed, uses an unknown constraint, or conflicts with another route."""


def _is_int(value: str, low: int, high: int) -> bool:
    return re.fullmatch(r"-?\d+", value) is not None and low <= int(value) <= high


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _numbers(args: str, count: int, name: str) -> list[int]:
    parts = [part.strip() for part in args.split(",")] if args else []
    if len(parts) != count or not all(re.fullmatch(r"-?\d+", part) for part in parts):
        raise RouteTemplateError(f"constraint {name}({args}) needs {count} integer argument(s)")
    return [int(part) for part in parts]


Check = Callable[[str], bool]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def build_constraint(name: str, args: str | None) -> Check:
    """The check for one inline constraint such as `int`, `min(1)` or `regex(^a+$)`."""
    simple: dict[str, Check] = {
        "int": lambda v: _is_int(v, *INT32),
        "long": lambda v: _is_int(v, *INT64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "guid": _is_guid,
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_float,
        "datetime": _is_datetime,
        "required": lambda v: v != "",
    }
    lowered = name.lower()
    if lowered in simple:
        if args is not None:
            raise RouteTemplateError(f"constraint {name!r} takes no arguments")
        return simple[lowered]
    text = args or ""
    if lowered == "min":
        (low,) = _numbers(text, 1, name)
        return lambda v: _is_int(v, *INT64) and int(v) >= low
    if lowered == "max":
        (high,) = _numbers(text, 1, name)
        return lambda v: _is_int(v, *INT64) and int(v) <= high
    if lowered == "range":
        low, high = _numbers(text, 2, name)
        return lambda v: _is_int(v, *INT64) and low <= int(v) <= high
    if lowered == "minlength":
        (low,) = _numbers(text, 1, name)
        return lambda v: len(v) >= low
    if lowered == "maxlength":
        (high,) = _numbers(text, 1, name)
        return lambda v: len(v) <= high
    if lowered == "length":
        bounds = _numbers(text, 2 if "," in text else 1, name)
        low, high = (bounds[0], bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return lambda v: low <= len(v) <= high
    if lowered == "regex":
        try:
            pattern = re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(f"constraint regex({text}) is not a valid regular expression: {exc}") from exc
        return lambda v: pattern.search(v) is not None
    raise RouteTemplateError(f"unknown route constraint {name!r}")


@dataclass(frozen=True)
class Parameter:
    name: str
    group: str  # the regex group name (parameter names need not be identifiers)
    checks: tuple[Check, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses (constraint arguments may contain ':' or '=')."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_parameter(token: str, group: str) -> Parameter:
    catch_all = token.startswith("*")
    token = token.lstrip("*")
    default = None
    pieces = _split_top_level(token, "=")
    if len(pieces) > 1:
        token, default = pieces[0], "=".join(pieces[1:])
    optional = token.endswith("?")
    token = token.rstrip("?")
    name, *constraints = _split_top_level(token, ":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RouteTemplateError(f"route parameter name {name!r} is not valid")
    checks = []
    for constraint in constraints:
        match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", constraint, re.DOTALL)
        if not match:
            raise RouteTemplateError(f"route constraint {constraint!r} is malformed")
        checks.append(build_constraint(match.group(1), match.group(2)))
    return Parameter(name, group, tuple(checks), optional or catch_all, default, catch_all)


def _tokenize_segment(segment: str) -> list[str | tuple[str]]:
    """A segment as literal strings and 1-tuples holding a parameter token; '{{' and '}}' escape braces."""
    pieces: list[str | tuple[str]] = []
    literal: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if segment.startswith("{{", index) or segment.startswith("}}", index):
            literal.append(char)
            index += 2
            continue
        if char == "}":
            raise RouteTemplateError(f"unbalanced '}}' in route segment {segment!r}")
        if char != "{":
            literal.append(char)
            index += 1
            continue
        if literal:
            pieces.append("".join(literal))
            literal = []
        index += 1
        token: list[str] = []
        while True:
            if index >= len(segment):
                raise RouteTemplateError(f"unclosed '{{' in route segment {segment!r}")
            if segment.startswith("}}", index) or segment.startswith("{{", index):
                token.append(segment[index])
                index += 2
            elif segment[index] == "}":
                index += 1
                break
            else:
                token.append(segment[index])
                index += 1
        pieces.append(("".join(token),))
    if literal:
        pieces.append("".join(literal))
    return pieces


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template."""

    template: str
    pattern: re.Pattern[str]
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip("/")
        regex = ""
        parameters: list[Parameter] = []
        segments = text.split("/") if text else []
        for position, segment in enumerate(segments):
            if segment == "":
                raise RouteTemplateError(f"route {template!r} has an empty segment")
            pieces = _tokenize_segment(segment)
            if len(pieces) == 1 and isinstance(pieces[0], tuple):
                parameter = _parse_parameter(pieces[0][0], f"p{len(parameters)}")
                body = ".*" if parameter.catch_all else "[^/]+"
                if parameter.catch_all and position != len(segments) - 1:
                    raise RouteTemplateError(f"catch-all parameter in {template!r} must be the last segment")
                if parameter.optional or parameter.default is not None:
                    regex += f"(?:/(?P<{parameter.group}>{body}))?"
                else:
                    regex += f"/(?P<{parameter.group}>{body})"
                parameters.append(parameter)
                continue
            regex += "/"
            for position_in_segment, piece in enumerate(pieces):
                if isinstance(piece, str):
                    regex += re.escape(piece)
                    continue
                parameter = _parse_parameter(piece[0], f"p{len(parameters)}")
                if parameter.catch_all:
                    raise RouteTemplateError(f"catch-all parameter in {template!r} must be a whole segment")
                group = f"(?P<{parameter.group}>[^/]+)"
                if parameter.optional:
                    # ASP.NET allows an optional part of a complex segment only last and after a '.', and then
                    # the '.' is optional with it: `{file}.{ext?}` matches both `a.txt` and `a`.
                    previous = pieces[position_in_segment - 1] if position_in_segment else None
                    if position_in_segment != len(pieces) - 1 or not (
                        isinstance(previous, str) and previous.endswith(".")
                    ):
                        raise RouteTemplateError(
                            f"in route {template!r}, optional parameter {parameter.name!r} must end its segment "
                            "and follow a '.'"
                        )
                    # ASP.NET matches complex segments right to left: the optional part is what follows the last
                    # '.', so it holds no '.' and the part before it yields (lazy) when it can be supplied.
                    regex = regex.removesuffix(re.escape("."))
                    regex = regex[: -len("[^/]+)")] + "[^/]+?)" if regex.endswith("[^/]+)") else regex
                    regex += f"(?:\\.(?P<{parameter.group}>[^/.]+))?"
                else:
                    regex += group
                parameters.append(parameter)
        names = [parameter.name.lower() for parameter in parameters]
        if len(set(names)) != len(names):
            raise RouteTemplateError(f"route {template!r} uses a parameter name twice")
        return cls(template, re.compile(f"{regex}/?", re.IGNORECASE), tuple(parameters))

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for `path` (relative to the route prefix), or None when it does not match."""
        candidate = "/" + path.strip("/") if path.strip("/") else ""
        found = self.pattern.fullmatch(candidate)
        if found is None:
            return None
        values: dict[str, str] = {}
        for parameter in self.parameters:
            value = found.group(parameter.group)
            if value is None or value == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                continue
            if not parameter.accepts(value):
                return None
            values[parameter.name] = value
        return values

    @property
    def normalized(self) -> str:
        """The template as the host compares routes for conflicts: slashes trimmed, lower-cased."""
        return self.template.strip("/").lower()


@dataclass(frozen=True)
class Route:
    function_name: str
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


RESERVED_PREFIXES = ("admin", "runtime")


def build_routes(entries: Iterable[tuple[str, str, Iterable[str] | None]]) -> list[Route]:
    """Compile (function name, route, methods) in registration order, with the host's start-up validation."""
    routes: list[Route] = []
    for function_name, template, methods in entries:
        if template.strip("/").split("/")[0].lower() in RESERVED_PREFIXES:
            raise RouteTemplateError(
                f"The specified route conflicts with one or more built in routes (function '{function_name}', "
                f"route '{template}')"
            )
        method_set = frozenset(m.upper() for m in methods) if methods else None
        route = Route(function_name, RouteTemplate.parse(template), method_set)
        for other in routes:
            same_route = other.template.normalized == route.template.normalized
            overlap = other.methods is None or route.methods is None or other.methods & route.methods
            if same_route and overlap:
                raise RouteTemplateError(
                    f"The route specified conflicts with the route defined by function '{other.function_name}' "
                    f"(function '{function_name}', route '{template}')"
                )
        routes.append(route)
    return routes


def _first_literal(template: RouteTemplate) -> str | None:
    """The template's first segment, lower-cased, when it is a plain ASCII literal: only paths whose first segment
    is that can match it. None when it holds a parameter (or nothing)."""
    first = template.template.strip("/").split("/", 1)[0]
    pieces = _tokenize_segment(first) if first else []
    if len(pieces) == 1 and isinstance(pieces[0], str) and pieces[0].isascii():
        return pieces[0].lower()
    return None


@dataclass(frozen=True)
class RouteIndex:
    """The routes grouped by first segment, so a request is tried against the few that can match it, still in
    registration order (a route whose first segment is a parameter is in every group)."""

    routes: tuple[Route, ...]
    _groups: dict[str, tuple[Route, ...]]
    _open: tuple[Route, ...]

    @classmethod
    def of(cls, routes: Iterable[Route]) -> RouteIndex:
        ordered = tuple(routes)
        firsts = [_first_literal(route.template) for route in ordered]
        groups = {
            key: tuple(route for route, first in zip(ordered, firsts, strict=True) if first in (key, None))
            for key in {first for first in firsts if first is not None}
        }
        opened = tuple(route for route, first in zip(ordered, firsts, strict=True) if first is None)
        return cls(ordered, groups, opened)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        first = path.strip("/").split("/", 1)[0]
        if not first.isascii():  # case-insensitive matching beyond ASCII: leave it to the templates themselves
            return match_route(self.routes, method, path)
        return match_route(self._groups.get(first.lower(), self._open), method, path)


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route (registration order) whose template and methods match; a method mismatch is no match."""
    for route in routes:
        if not route.allows(method):
            continue
        values = route.template.match(path)
        if values is not None:
            return route, values
    return None
