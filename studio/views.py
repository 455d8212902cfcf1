"""What each studio page shows, gathered from the shared/ functions the API calls (and a few that only the studio
needs: service call metrics, the run index, cached reads of small records). Each function returns the context of
one template; none knows HTTP."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.core import layout, validators
from shared.core.cached_reads import cache
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import Storage
from shared.pipelines.batch import minibatch_logs
from shared.pipelines.engine import endpoints, outputs, published, submit
from shared.pipelines.scripts import script_step
from shared.runs import run_history, run_index, run_records
from shared.runs.run_records import TERMINAL, RunStatus
from shared.schedules import schedule_records as schedule_records
from shared.schedules.recurrence import WEEK_DAYS, Recurrence
from shared.services import operations
from shared.services.metrics import WINDOW_MINUTES, Minute, ServiceCalls, percentile, service_calls
from shared.services.service_logs import tail_logs
from shared.services.service_records import get_service
from studio.charts import Chart, Graph, Series, line_chart, step_graph

Record = dict[str, Any]

PAGE_SIZE = 25
#: The overview counts the latest runs by status (one listing), not every run.
LATEST_RUNS_COUNTED = 100
LOG_LINES = 60
MAX_FAILURES_SHOWN = 20
MAX_TEXT = 20_000  # characters of a traceback or log shown inline
STATUSES = [status.value for status in RunStatus]


def _tail(text: str | None, limit: int = MAX_TEXT) -> str:
    text = text or ""
    return text if len(text) <= limit else "…" + text[-limit:]


# -- overview -------------------------------------------------------------------------------------------------------


def overview(storage: Storage, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    model_paths = [
        p for p in storage.list_names(layout.REGISTRY_CONTAINER, layout.MODELS_PREFIX) if p.endswith(".json")
    ]
    services = list(cache.records(storage, layout.REGISTRY_CONTAINER, layout.SERVICES_PREFIX).values())
    schedules = list(cache.records(storage, layout.REGISTRY_CONTAINER, layout.SCHEDULES_PREFIX).values())
    published_count = len(storage.list_names(layout.REGISTRY_CONTAINER, layout.PUBLISHED_PIPELINES_PREFIX))
    endpoint_count = len(storage.list_names(layout.REGISTRY_CONTAINER, layout.PIPELINE_ENDPOINTS_PREFIX))
    return {
        "counts": {
            "models": len({layout.versions_folder(p) for p in model_paths}),
            "model_versions": len(model_paths),
            "services": len(services),
            "services_by_state": _by(service["state"] for service in services),
            "published": published_count,
            "endpoints": endpoint_count,
            "schedules": len(schedules),
            "active_schedules": sum(1 for s in schedules if s["status"] == "Active"),
        },
        **activity(storage, moment),
    }


def activity(storage: Storage, now: datetime) -> dict[str, Any]:
    """The overview's live part: the latest runs, runs in the last day by status, and the last hour's calls."""
    calls = service_calls(storage, now)
    total = Minute()
    for service_calls_ in calls.values():
        total.add(service_calls_.total)
    failures = sorted(((failure, name) for name, c in calls.items() for failure in c.total.failures), reverse=True)[
        :MAX_FAILURES_SHOWN
    ]
    recent, since = run_index.latest_counts(storage, LATEST_RUNS_COUNTED)
    return {
        "latest_runs": run_index.page(storage, size=8).runs,
        "recent_runs": recent,
        "recent_since": since,
        "calls": {
            "total": total.calls,
            "errors": total.errors,
            "refused": total.refused,
            "p50": percentile(total.latency, 0.5),
            "p99": percentile(total.latency, 0.99),
            "busiest": sorted(calls.items(), key=lambda item: -item[1].total.calls)[:5],
        },
        "failures": [{"service": name, "time": t, "status": s, "request_id": r} for (t, s, r), name in failures],
        "now": now,
    }


def _by(values: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        found[value] = found.get(value, 0) + 1
    return dict(sorted(found.items()))


# -- models ---------------------------------------------------------------------------------------------------------


def models_page(storage: Storage, page: int = 1, size: int = 20) -> dict[str, Any]:
    """Models by name, a page of names at a time, each with every version: tags, size, sha256, and the services
    that use it."""
    listed = [blob for blob in cache.listed(storage, layout.REGISTRY_CONTAINER, layout.MODELS_PREFIX)]
    listed = [blob for blob in listed if blob.name.endswith(".json")]
    names = sorted({layout.versions_folder(blob.name) for blob in listed})
    pages = max(1, math.ceil(len(names) / size))
    page = min(max(page, 1), pages)
    shown = set(names[(page - 1) * size : page * size])
    records = cache.read(
        storage, layout.REGISTRY_CONTAINER, [b for b in listed if layout.versions_folder(b.name) in shown]
    )
    used_by: dict[str, list[str]] = {}
    for service in cache.records(storage, layout.REGISTRY_CONTAINER, layout.SERVICES_PREFIX).values():
        serving = (service.get("serving") or {}).get("models") or []
        for model_id in sorted({*(service.get("models") or []), *serving}):
            used_by.setdefault(model_id, []).append(service["name"])
    models: dict[str, list[Record]] = {}
    for record in sorted(records.values(), key=lambda r: (r["name"], -r["version"])):
        models.setdefault(record["name"], []).append(
            {
                **record,
                "size": sum(int(f.get("size", 0)) for f in record.get("files") or []),
                "used_by": used_by.get(f"{record['name']}:{record['version']}", []),
            }
        )
    return {"models": models, "page": page, "pages": pages, "model_count": len(names), "version_count": len(listed)}


# -- services -------------------------------------------------------------------------------------------------------


def _no_calls(now: datetime) -> ServiceCalls:
    last = now.replace(second=0, microsecond=0)
    minutes = [(last - timedelta(minutes=WINDOW_MINUTES - 1 - i), Minute()) for i in range(WINDOW_MINUTES)]
    return ServiceCalls(minutes, Minute())


def services_page(storage: Storage, page: int = 1, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    listed = cache.listed(storage, layout.REGISTRY_CONTAINER, layout.SERVICES_PREFIX)
    pages = max(1, math.ceil(len(listed) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    records = cache.read(storage, layout.REGISTRY_CONTAINER, listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    calls = service_calls(storage, moment)
    rows = [
        {"service": operations.public_view(record), "calls": calls.get(record["name"]) or _no_calls(moment)}
        for record in records.values()
    ]
    return {"services": rows, "page": page, "pages": pages, "service_count": len(listed)}


def call_chart(calls: ServiceCalls) -> dict[str, Chart]:
    labels = [minute.strftime("%H:%M") for minute, _ in calls.minutes]
    per_minute = [float(m.calls) for _, m in calls.minutes]
    p50 = [percentile(m.latency, 0.5) for _, m in calls.minutes]
    p99 = [percentile(m.latency, 0.99) for _, m in calls.minutes]
    errors = [100.0 * m.errors / m.calls if m.calls else None for _, m in calls.minutes]
    return {
        "calls": line_chart("Calls per minute", "calls", labels, [Series("calls", per_minute, "series-1")]),
        "latency": line_chart(
            "Latency per minute (ms)",
            "ms",
            labels,
            [Series("p50", p50, "series-1"), Series("p99", p99, "series-2")],
        ),
        "errors": line_chart("Error rate per minute (%)", "%", labels, [Series("errors", errors, "series-3")]),
    }


def service_page(storage: Storage, name: str, base_url: str, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    record = operations.public_view(get_service(storage, name))
    return {"service": record, **service_live(storage, name, moment), **_service_urls(name, base_url)}


def _service_urls(name: str, base_url: str) -> dict[str, str]:
    return {
        "scoring_uri": f"{base_url}/api/services/{name}/score",
        "swagger_uri": f"{base_url}/api/services/{name}/swagger.json",
    }


def service_live(storage: Storage, name: str, now: datetime) -> dict[str, Any]:
    """The service page's live part: its state, calls over the last hour, latest log lines and failures."""
    record = get_service(storage, name)
    calls = service_calls(storage, now).get(name) or _no_calls(now)
    lines = tail_logs(storage, name)
    failures = []
    for time_, status, request_id in reversed(calls.total.failures):
        logged = [line for line in lines if request_id in line][-3:]
        failures.append({"time": time_, "status": status, "request_id": request_id, "log": logged})
    return {
        "state": record["state"],
        "error": record.get("error"),
        "calls": calls,
        "charts": call_chart(calls),
        "log_lines": lines[-LOG_LINES:],
        "failures": failures,
        "now": now,
    }


# -- pipeline runs --------------------------------------------------------------------------------------------------


def runs_page(
    storage: Storage, marker: str | None = None, experiment: str | None = None, status: str | None = None
) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise InvalidInput(f"status must be one of {STATUSES}, not {status!r}", field="status")
    if experiment:
        validators.validate_name("experiment", experiment)
    found = run_index.page(storage, PAGE_SIZE, marker or None, experiment or None, status or None)
    return {
        "runs": found.runs,
        "next_marker": found.next_marker,
        "marker": marker,
        "experiment": experiment or "",
        "status": status or "",
        "statuses": STATUSES,
        "live": not marker,  # the first page shows new runs as they start
    }


@dataclass(frozen=True)
class Progress:
    """A ParallelRunStep's mini-batches: processed so far (`done`, the failed ones among them), of `total`."""

    done: int
    failed: int
    total: int
    rows: int | None  # written, once the step Finished (the items scored without failing)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def succeeded_percent(self) -> float:
        return 100.0 * (self.done - self.failed) / self.total if self.total else 100.0

    @property
    def failed_percent(self) -> float:
        return 100.0 * self.failed / self.total if self.total else 0.0


def _progress(step: Record) -> Progress | None:
    total = step.get("total_mini_batches")
    if step.get("type") != "ParallelRunStep" or total is None:
        return None
    rows = None
    if step.get("status") == RunStatus.FINISHED.value and step.get("total_items") is not None:
        rows = int(step["total_items"]) - int(step.get("items_failed") or 0)
    return Progress(int(step.get("batches_done") or 0), int(step.get("batches_failed") or 0), int(total), rows)


def _failures(storage: Storage, step: Record, record: Record | None) -> list[dict[str, Any]]:
    """A step run's failures (`step` as describe() summarises it, `record` the step run's own): a ParallelRunStep's
    failed mini-batches (their last try's error, traceback and log), a script step's error and log."""
    if step.get("type") == "ParallelRunStep":
        if not (step.get("batches_failed") or step.get("items_failed")):
            return []
        found = []
        for item in minibatch_logs.mini_batch_logs(storage, step["id"], 0, minibatch_logs.MAX_PAGE)["items"]:
            if not (item.get("batch_failed") or item.get("failed_items")):
                continue
            last = (item.get("attempts") or [{}])[-1]
            found.append(
                {
                    "what": f"mini-batch {item['index']}",
                    "detail": f"{item.get('failed_items', 0)} of {item.get('items', 0)} items failed, "
                    f"{item.get('tries', 1)} tries",
                    "error": last.get("error"),
                    "traceback": _tail(last.get("traceback")),
                    "log": _tail(last.get("log")),
                }
            )
            if len(found) >= MAX_FAILURES_SHOWN:
                break
        return found
    if step.get("status") != RunStatus.FAILED.value or record is None:
        return []
    error = record.get("error") or {}
    tries = script_step.step_logs(storage, step["id"])
    return [
        {
            "what": "the script",
            "detail": f"exit code {record['exit_code']}" if record.get("exit_code") is not None else "",
            "error": error.get("message"),
            "traceback": _tail(error.get("traceback") or error.get("log")),
            "log": _tail(tries[-1]["log"]) if tries else "",
        }
    ]


def _metric_charts(entries: dict[str, Any]) -> tuple[list[Chart], list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Charts of the metrics logged as series of numbers, scalars as values, tables as tables."""
    charts, scalars, tables = [], [], []
    for name, value in sorted(entries.items()):
        if isinstance(value, dict):
            tables.append((name, value))
        elif isinstance(value, list) and len(value) > 1 and all(_is_number(v) for v in value):
            labels = [str(i + 1) for i in range(len(value))]
            charts.append(line_chart(name, "", labels, [Series(name, [float(v) for v in value], "series-1")]))
        else:
            scalars.append((name, value))
    return charts, scalars, tables


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def run_page(storage: Storage, run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, **run_live(storage, run_id)}


def run_live(storage: Storage, run_id: str) -> dict[str, Any]:
    """A run page's live part: the run, its steps (a graph, progress, failures), outputs, metrics and family."""
    described = submit.describe(storage, run_id)
    is_pipeline = "steps" in described and isinstance(described["steps"], dict)
    steps: list[Record] = []
    graph: Graph | None = None
    if is_pipeline:
        record = run_records.get_run(storage, run_id)
        specs = {spec["name"]: spec for spec in record["graph"]["steps"]}
        steps = [  # in the pipeline's order (the record keeps its steps by name)
            {**described["steps"][name], "name": name, "depends_on": spec.get("depends_on", [])}
            for name, spec in specs.items()
            if name in described["steps"]
        ]
        graph = step_graph(
            [
                (
                    s["name"],
                    s.get("type") or specs.get(s["name"], {}).get("type", ""),
                    s.get("status") or "NotStarted",
                    s["depends_on"],
                    s["id"],
                )
                for s in steps
            ]
        )
        step_records = {s["id"]: run_records.get_run(storage, s["id"]) for s in steps if s.get("status")}
    else:
        steps = [described]
        step_records = {run_id: run_records.get_run(storage, run_id)}
    for step in steps:
        step["progress"] = _progress(step)
        step["failures"] = _failures(storage, step, step_records.get(step["id"])) if step.get("status") else []
        step["outputs"] = outputs.step_outputs(storage, step_records[step["id"]]) if step["id"] in step_records else []
    metrics = run_history.metrics(storage, run_id, recursive=True)
    charts = {rid: _metric_charts(values) for rid, values in metrics.items() if values}
    files = {rid: outputs.run_files(storage, rid) for rid in [run_id, *(s["id"] for s in steps if s["id"] != run_id)]}
    return {
        "run": described,
        "is_pipeline": is_pipeline,
        "steps": steps,
        "graph": graph,
        "metrics": charts,
        "files": {rid: found for rid, found in files.items() if found[0]},
        "step_names": {s["id"]: s["name"] for s in steps},
        "final": described["status"] in {s.value for s in TERMINAL},
    }


# -- published pipelines and endpoints ------------------------------------------------------------------------------


def pipelines_page(storage: Storage) -> dict[str, Any]:
    pipelines = [
        published.describe(r)
        for r in cache.records(storage, layout.REGISTRY_CONTAINER, layout.PUBLISHED_PIPELINES_PREFIX).values()
    ]
    found_endpoints = list(cache.records(storage, layout.REGISTRY_CONTAINER, layout.PIPELINE_ENDPOINTS_PREFIX).values())
    names = {p["id"]: p["name"] for p in pipelines}
    return {
        "pipelines": sorted(pipelines, key=lambda p: (p["name"], p.get("version") or "", p["created_time"])),
        "endpoints": sorted(found_endpoints, key=lambda e: e["name"]),
        "pipeline_names": names,
    }


def pipeline_page(storage: Storage, pipeline_id: str, base_url: str) -> dict[str, Any]:
    record = published.describe(published.get_published(storage, pipeline_id))
    return {
        "pipeline": record,
        "rest_endpoint": f"{base_url}/api/pipelines/published/{pipeline_id}/submit",
        "latest_runs": run_index.page(storage, size=10, source=("pipeline", pipeline_id)).runs,
    }


def endpoint_page(storage: Storage, endpoint: str, base_url: str) -> dict[str, Any]:
    record = endpoints.get_endpoint(storage, endpoint)
    versions = []
    for item in record["versions"]:
        try:
            pipeline = published.describe(published.get_published(storage, item["pipeline_id"]))
        except NotFound:
            pipeline = None
        versions.append({**item, "pipeline": pipeline, "default": item["version"] == record["default_version"]})
    default = next((v["pipeline"] for v in versions if v["default"]), None)
    return {
        "endpoint": record,
        "versions": versions,
        "parameters": (default or {}).get("parameters") or {},
        "rest_endpoint": f"{base_url}/api/pipelines/endpoints/{record['name']}/submit",
        "latest_runs": run_index.page(storage, size=10, source=("endpoint", record["id"])).runs,
    }


def parameter_values(declared: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The parameters a submit form sets (a field left empty keeps the default): text for a text default, else the
    field read as JSON where it is JSON (numbers, true/false, a datastore path object), else as text."""
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        text = form.get(f"parameter.{name}", "").strip()
        if not text:
            continue
        if isinstance(declaration.get("default"), str) or declaration.get("kind") == "dataset":
            values[name] = _json_object(text) if text.startswith("{") else text
        else:
            values[name] = _json_object(text)
    return values


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def submit_pipeline(storage: Storage, pipeline_id: str, form: dict[str, str]) -> Record:
    record = published.get_published(storage, pipeline_id)
    declared = record["definition"].get("parameters") or {}
    return published.start(storage, pipeline_id, form.get("experiment", "").strip(), parameter_values(declared, form))


def submit_endpoint(storage: Storage, endpoint: str, form: dict[str, str]) -> Record:
    record = endpoints.get_endpoint(storage, endpoint)
    version = form.get("version") or None
    pipeline = published.get_published(storage, endpoints.pipeline_of(record, version))
    declared = pipeline["definition"].get("parameters") or {}
    return endpoints.start(
        storage, record["id"], form.get("experiment", "").strip(), parameter_values(declared, form), None, version
    )


# -- schedules ------------------------------------------------------------------------------------------------------


def recurrence_words(document: dict[str, Any]) -> str:
    """A recurrence as a sentence: "Every 2 weeks on Monday and Friday at 09:00, 17:30 (Europe/Berlin), from ..."."""
    recurrence = Recurrence.parse(document)
    unit = recurrence.frequency.lower()
    every = f"Every {unit}" if recurrence.interval == 1 else f"Every {recurrence.interval} {unit}s"
    parts = [every]
    if recurrence.week_days:
        days = [WEEK_DAYS[d] for d in recurrence.week_days]
        parts.append("on " + (days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]))
    if recurrence.times:
        parts.append("at " + ", ".join(t.strftime("%H:%M") for t in recurrence.times))
    zone_name = document.get("time_zone") or str(recurrence.zone)
    parts.append(f"({zone_name})")
    if recurrence.start_time is not None:
        parts.append("from " + recurrence.start_time.astimezone(recurrence.zone).strftime("%Y-%m-%d %H:%M"))
    return " ".join(parts)


def next_fire_times(schedule: Mapping[str, Any], now: datetime, count: int = 5) -> list[datetime]:
    """The next `count` occurrences of a recurring schedule after `now`, in its time zone (what the runner would
    fire: within a tick of each)."""
    recurrence = Recurrence.parse(schedule["recurrence"])
    anchor = schedule_records.parse_instant(schedule.get("recurrence_since") or schedule["created_time"])
    period = {
        "Minute": timedelta(minutes=1),
        "Hour": timedelta(hours=1),
        "Day": timedelta(days=1),
        "Week": timedelta(weeks=1),
        "Month": timedelta(days=31),
    }[recurrence.frequency] * recurrence.interval
    after = max(now, anchor - timedelta(microseconds=1))
    # Every period holds an occurrence, so count + 1 periods hold at least `count` of them.
    found = recurrence.occurrences(anchor, after, after + period * (count + 1))
    return [moment.astimezone(recurrence.zone) for moment in found[:count]]


def _schedule_row(schedule: Mapping[str, Any], now: datetime, names: dict[str, str]) -> dict[str, Any]:
    target = schedule.get("pipeline_endpoint_id") or schedule.get("pipeline_id")
    row = {**schedule, "target_name": names.get(target or "", target), "next": [], "words": ""}
    if schedule["recurrence"] is not None:
        row["words"] = recurrence_words(schedule["recurrence"])
        if schedule["status"] == "Active":
            row["next"] = next_fire_times(schedule, now)
    else:
        data = schedule["data"]
        row["words"] = (
            f"When files under {data['datastore']}/{data['path_on_datastore'] or ''} are added or changed, "
            f"checked every {data['polling_interval']} minute{'s' if data['polling_interval'] != 1 else ''}"
        )
    return row


def schedules_page(storage: Storage, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    found = cache.records(storage, layout.REGISTRY_CONTAINER, layout.SCHEDULES_PREFIX).values()
    states = cache.records(storage, layout.RUNS_CONTAINER, layout.SCHEDULE_STATES_PREFIX)
    names = _target_names(storage)
    rows = []
    for schedule in sorted(found, key=lambda s: s["created_time"], reverse=True):
        state = states.get(layout.schedule_state(schedule["id"])) or {}
        fired = {key: state.get(key) for key in ("last_run_id", "last_fired", "last_error")}
        rows.append(_schedule_row({**schedule, **fired}, moment, names))
    return {"schedules": rows, "now": moment}


def _target_names(storage: Storage) -> dict[str, str]:
    names = {
        r["id"]: f"{r['name']} {r.get('version') or ''}".strip()
        for r in cache.records(storage, layout.REGISTRY_CONTAINER, layout.PUBLISHED_PIPELINES_PREFIX).values()
    }
    for r in cache.records(storage, layout.REGISTRY_CONTAINER, layout.PIPELINE_ENDPOINTS_PREFIX).values():
        names[r["id"]] = f"endpoint {r['name']}"
    return names


def schedule_page(storage: Storage, schedule_id: str, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    schedule = schedule_records.describe(storage, schedule_records.get_schedule(storage, schedule_id))
    row = _schedule_row(schedule, moment, _target_names(storage))
    zone = ZoneInfo("UTC")
    if schedule["recurrence"] is not None:
        zone = Recurrence.parse(schedule["recurrence"]).zone
    return {
        "schedule": row,
        "zone": zone,
        "now": moment,
        "latest_runs": run_index.page(storage, size=10, source=("schedule", schedule_id)).runs,
    }


def set_schedule_status(storage: Storage, schedule_id: str, enable: bool) -> schedule_records.ScheduleRecord:
    status = schedule_records.ScheduleStatus.ACTIVE if enable else schedule_records.ScheduleStatus.DISABLED
    return schedule_records.set_status(storage, schedule_id, status)
