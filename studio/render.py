"""The studio's Jinja2 environment: templates from templates/, HTML autoescaped, and the filters the pages format
values with (times, durations, sizes, latencies)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

FOLDER = Path(__file__).resolve().parent
TEMPLATES = FOLDER / "templates"
STATIC = FOLDER / "static"
#: Where the studio is served: its routes (functions/studio.py) under the host's routePrefix (host.json), in Azure as
#: locally; tests/unit/test_openapi.py keeps it equal to functions/api_document.py's ROUTE_PREFIX.
BASE = "/api/studio"


def url(*parts: object, **query: object) -> str:
    """A studio URL: `url("runs", run_id, status="Failed")` -> /api/studio/runs/<run id>?status=Failed."""
    path = "/".join([BASE, *(quote(str(part), safe="/") for part in parts)])
    kept = {key: value for key, value in query.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def when(value: object, zone: Any = None) -> str:
    """A time as `2024-06-03 09:00:12 UTC` (in `zone` when given)."""
    moment = _moment(value)
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(zone or UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def iso(value: object) -> str:
    moment = _moment(value)
    return moment.isoformat() if moment else ""


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def duration(start: object, end: object = None) -> str:
    """From `start` to `end`, or to now."""
    began = _moment(start)
    if began is None:
        return "—"
    ended = _moment(end) or datetime.now(UTC)
    return seconds(max(0.0, (ended - began).total_seconds()))


def size(value: object) -> str:
    amount = float(value or 0)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def milliseconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} ms" if value < 100 else f"{value:,.0f} ms"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def css_status(value: object) -> str:
    return "status-" + str(value or "none").lower()


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals.update(url=url, base=BASE)
environment.filters.update(
    when=when,
    iso=iso,
    seconds=seconds,
    duration=duration,
    size=size,
    ms=milliseconds,
    percent=percent,
    css_status=css_status,
    pretty=pretty,
)


def render(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)
