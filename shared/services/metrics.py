"""Calls to each real-time service per minute, as the studio charts them: how many, how many failed or were refused,
and how long they took. Each host instance records its calls in memory and writes them in the background: nothing
is written to storage on a call's path.

`CallMetrics.record`, on the scoring path, appends one tuple to a deque (thread-safe without a lock). Every
FLUSH_INTERVAL seconds a background thread folds what arrived into per-minute aggregates per service and writes
(shared/core/layout.py, "calls to every service"):
- the current minute's aggregates to the instance's `now` blob (overwritten; the instance is its only writer), when
  they changed;
- each completed minute, once, as a line of the instance's append blob for that hour.
A minute's line holds everything the `now` blob showed of that minute (the `now` blob is an earlier snapshot of the
same aggregate), so a reader takes an instance's `now` blob only for a minute that instance has no line for yet.
Calls that complete after their minute was written are written as another line for that minute: lines add up.

Latency is counted in buckets BUCKET_RATIO apart (log-spaced from MIN_MS), so percentiles over any span and any
number of instances come from sums of counts, exact to within half a bucket (~10%). Calls answered 5xx (errors) and
4xx (refused) keep their request ids (the latest MAX_FAILURES per service and minute): the id names the call in the
service's log and in the answer's `x-request-id`.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError

from shared.core import clock, layout
from shared.core.errors import FninferError
from shared.core.storage import Storage, same_etag, storage_errors
from shared.services.service_logs import instance_name

FLUSH_INTERVAL = 2.0
#: The span the studio shows: the last hour, a point per minute.
WINDOW_MINUTES = 60
MIN_MS = 0.01
BUCKET_RATIO = 1.2
MAX_BUCKET = 150  # 0.01 ms x 1.2^150: beyond any timeout
MAX_FAILURES = 20
#: Calls waiting to be folded, at most (a stalled flusher drops the oldest rather than grow without bound).
MAX_PENDING = 1_000_000
#: How long completed minutes are kept in storage; each instance deletes older ones once an hour it runs.
RETENTION_HOURS = 48
CLEANUP_SECONDS = 3600.0

#: (time, status, request id) of a call that failed or was refused.
Failure = tuple[str, int, str]


#: The upper bound (ms) of each latency bucket: bucket b holds durations up to MIN_MS x BUCKET_RATIO^b.
BOUNDS = [MIN_MS * BUCKET_RATIO**index for index in range(MAX_BUCKET + 1)]


def bucket(milliseconds: float) -> int:
    """The latency bucket of a duration (the last bucket holds everything longer)."""
    return min(bisect.bisect_left(BOUNDS, milliseconds), MAX_BUCKET)


def percentile(latency: collections.Counter[int], fraction: float) -> float | None:
    """The duration (ms) below which `fraction` of the calls fall: the geometric middle of its bucket; None without
    calls."""
    total = sum(latency.values())
    if not total:
        return None
    rank, seen = fraction * total, 0
    for index in sorted(latency):
        seen += latency[index]
        if seen >= rank:
            return MIN_MS * BUCKET_RATIO ** max(index - 0.5, 0)
    return MIN_MS * BUCKET_RATIO ** max(max(latency) - 0.5, 0)


@dataclass
class Minute:
    """One service's calls in one minute, on one instance or summed over several."""

    calls: int = 0
    errors: int = 0
    refused: int = 0
    latency: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[Failure] = field(default_factory=list)

    def count(self, at: float, seconds: float, status: int, request_id: str) -> None:
        self.calls += 1
        index = bisect.bisect_left(BOUNDS, seconds * 1000, hi=MAX_BUCKET)
        self.latency[index] = self.latency.get(index, 0) + 1
        if status >= 400:
            if status >= 500:
                self.errors += 1
            else:
                self.refused += 1
            self.failures.append((_iso(at), status, request_id))
            del self.failures[:-MAX_FAILURES]

    def add(self, other: Minute) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.refused += other.refused
        latency = self.latency
        for index, count in other.latency.items():
            latency[index] = latency.get(index, 0) + count
        if other.failures:
            self.failures = sorted([*self.failures, *other.failures])[-MAX_FAILURES:]

    def plus(self, other: Minute) -> Minute:
        """A new Minute holding both (neither is changed: parsed minutes are shared by the readers' cache)."""
        both = Minute(self.calls, self.errors, self.refused, collections.Counter(self.latency), list(self.failures))
        both.add(other)
        return both

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "refused": self.refused,
            "latency": {str(index): count for index, count in sorted(self.latency.items())},
            "failures": [list(failure) for failure in self.failures],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Minute:
        return cls(
            calls=int(document.get("calls", 0)),
            errors=int(document.get("errors", 0)),
            refused=int(document.get("refused", 0)),
            latency=collections.Counter({int(k): int(v) for k, v in (document.get("latency") or {}).items()}),
            failures=[(str(t), int(s), str(r)) for t, s, r in document.get("failures") or []],
        )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def minute_of(epoch: float) -> int:
    return int(epoch // 60) * 60


def hour_of(minute: int) -> str:
    return datetime.fromtimestamp(minute, UTC).strftime("%Y%m%d%H")


def _line(minute: int, services: dict[str, Minute]) -> dict[str, Any]:
    return {"minute": minute, "services": {name: calls.to_json() for name, calls in sorted(services.items())}}


class CallMetrics:
    """This instance's calls, per service and minute, written in the background (see the module's docstring)."""

    def __init__(self, storage: Storage, instance: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.instance = instance or instance_name()
        self.clock = clock
        self._arrived: collections.deque[tuple[str, float, float, int, str]] = collections.deque(maxlen=MAX_PENDING)
        self._minutes: dict[int, dict[str, Minute]] = {}
        self._created: set[str] = set()
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._cleaned_at = clock()

    def install(self) -> None:
        """Start the background flusher (once)."""
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_forever, name="service-metrics", daemon=True)
            self._flusher.start()

    def record(self, service: str, started: float, status: int, request_id: str) -> None:
        """A call to `service` that began at `started` (time.perf_counter()) was answered `status` now."""
        self._arrived.append((service, self.clock(), time.perf_counter() - started, status, request_id))

    def flush(self) -> None:
        """Fold what arrived; write completed minutes and the current one (see the module's docstring)."""
        with self._flush_lock:
            current = minute_of(self.clock())
            changed = self._fold()
            for minute in sorted(m for m in self._minutes if m < current):
                if not self._append(minute, self._minutes[minute]):
                    break  # storage trouble: kept, and tried again at the next flush
                del self._minutes[minute]
            if current in changed:
                self._write_now(current)
            if self.clock() - self._cleaned_at > CLEANUP_SECONDS:
                self._cleaned_at = self.clock()
                self._clean()

    def _fold(self) -> set[int]:
        """Count what arrived into its minute and service; the minutes that changed."""
        changed: set[int] = set()
        take, minutes = self._arrived.popleft, self._minutes
        while True:
            try:
                service, at, seconds, status, request_id = take()
            except IndexError:
                return changed
            minute = int(at // 60) * 60
            calls = minutes.setdefault(minute, {}).get(service)
            if calls is None:
                calls = minutes[minute][service] = Minute()
            calls.count(at, seconds, status, request_id)
            changed.add(minute)

    def _append(self, minute: int, services: dict[str, Minute]) -> bool:
        name = layout.service_metrics_minutes(hour_of(minute), self.instance)
        blob = self.storage.container(layout.LOGS_CONTAINER).get_blob_client(name)
        try:
            if name not in self._created:
                with contextlib.suppress(ResourceExistsError):
                    blob.create_append_blob(if_none_match="*")
                self._created.add(name)
            blob.append_block((json.dumps(_line(minute, services), separators=(",", ":")) + "\n").encode())
            return True
        except AzureError as exc:
            sys.__stderr__.write(f"fninfer: writing service call metrics failed: {exc}\n")
            return False

    def _write_now(self, minute: int) -> None:
        try:
            self.storage.put_json(
                layout.LOGS_CONTAINER, layout.service_metrics_now(self.instance), _line(minute, self._minutes[minute])
            )
        except FninferError as exc:
            sys.__stderr__.write(f"fninfer: writing service call metrics failed: {exc}\n")

    def _clean(self) -> None:
        """Delete every instance's minutes older than RETENTION_HOURS, and `now` blobs not written since then."""
        oldest = hour_of(minute_of(self.clock() - RETENTION_HOURS * 3600))
        try:
            for name in self.storage.list_names(layout.LOGS_CONTAINER, layout.SERVICE_METRICS_MINUTES_PREFIX):
                if name[len(layout.SERVICE_METRICS_MINUTES_PREFIX) :].split("/", 1)[0] < oldest:
                    self.storage.delete_blob(layout.LOGS_CONTAINER, name)
            limit = clock.now() - timedelta(hours=RETENTION_HOURS)
            for blob in _listed(self.storage, layout.SERVICE_METRICS_NOW_PREFIX):
                if blob.last_modified < limit:
                    self.storage.delete_blob(layout.LOGS_CONTAINER, blob.name)
        except FninferError as exc:
            sys.__stderr__.write(f"fninfer: cleaning service call metrics failed: {exc}\n")

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL)
            self.flush()


# -- reading --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceCalls:
    """A service's calls over the last WINDOW_MINUTES: per minute (oldest first, every minute of the window), and in
    all."""

    minutes: list[tuple[datetime, Minute]]
    total: Minute

    @property
    def calls_per_minute(self) -> float:
        return self.total.calls / len(self.minutes)

    @property
    def error_rate(self) -> float | None:
        return self.total.errors / self.total.calls if self.total.calls else None

    @property
    def p50(self) -> float | None:
        return percentile(self.total.latency, 0.5)

    @property
    def p99(self) -> float | None:
        return percentile(self.total.latency, 0.99)


def _listed(storage: Storage, prefix: str) -> list[Any]:
    with storage_errors(f"{layout.LOGS_CONTAINER}/{prefix}*"):
        return list(storage.container(layout.LOGS_CONTAINER).list_blobs(name_starts_with=prefix))


#: A line as read: its minute and each service's calls in it (parsed once, then shared: never changed).
Line = tuple[int, dict[str, Minute]]


def _parsed(document: dict[str, Any]) -> Line:
    return int(document["minute"]), {name: Minute.from_json(calls) for name, calls in document["services"].items()}


class _Lines:
    """The lines of append blobs read so far, per process: a blob that grew is read from where it was left."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[int, list[Line]]] = {}
        self._lock = threading.Lock()

    def of(self, storage: Storage, blobs: Iterable[Any]) -> dict[str, list[Line]]:
        found: dict[str, list[Line]] = {}
        container = storage.container(layout.LOGS_CONTAINER)
        for blob in blobs:
            with self._lock:
                size, lines = self._read.get(blob.name, (0, []))
            if blob.size > size:
                with storage_errors(f"{layout.LOGS_CONTAINER}/{blob.name}"):
                    data = container.download_blob(blob.name, offset=size, length=blob.size - size).readall()
                lines = lines + [_parsed(json.loads(line)) for line in data.splitlines() if line.strip()]
                with self._lock:
                    self._read[blob.name] = (blob.size, lines)
            found[blob.name] = lines
        with self._lock:  # forget blobs that left the window
            for name in set(self._read) - set(found):
                if name.startswith(layout.SERVICE_METRICS_MINUTES_PREFIX):
                    del self._read[name]
        return found


_lines = _Lines()
_current: dict[str, tuple[str, Line]] = {}  # `now` blob name -> (ETag, its line) as last read


def _currents(storage: Storage) -> list[tuple[str, Line]]:
    """Every instance's `now` blob, each read again only when it changed."""
    found = []
    for blob in storage.list_with_metadata(layout.LOGS_CONTAINER, layout.SERVICE_METRICS_NOW_PREFIX):
        known = _current.get(blob.name)
        if known is None or known[0] != same_etag(blob.etag):
            document, etag = storage.try_read_json(layout.LOGS_CONTAINER, blob.name)
            if document is None:
                continue
            known = _current[blob.name] = (same_etag(etag), _parsed(document))
        found.append((blob.name, known[1]))
    return found


def service_calls(storage: Storage, now: datetime | None = None) -> dict[str, ServiceCalls]:
    """Every service called in the last WINDOW_MINUTES (up to `now`), with its calls per minute from every
    instance."""
    moment = (now or clock.now()).timestamp()
    last = minute_of(moment)
    first = last - (WINDOW_MINUTES - 1) * 60
    hours = sorted({hour_of(first), hour_of(last)})
    listed = [blob for hour in hours for blob in _listed(storage, layout.service_metrics_hour_prefix(hour))]
    by_minute: dict[int, dict[str, Minute]] = collections.defaultdict(dict)
    written: set[tuple[str, int]] = set()  # (instance, minute) that have a line

    def take(minute: int, services: dict[str, Minute]) -> None:
        if first <= minute <= last:
            slot = by_minute[minute]
            for name, calls in services.items():
                known = slot.get(name)
                slot[name] = calls if known is None else known.plus(calls)

    for name, lines in _lines.of(storage, listed).items():
        instance = name.rsplit("/", 1)[1].removesuffix(".jsonl")
        for minute, services in lines:
            written.add((instance, minute))
            take(minute, services)
    for listed_now, (minute, services) in _currents(storage):
        if (listed_now.rsplit("/", 1)[1].removesuffix(".json"), minute) not in written:
            take(minute, services)
    minutes = [(datetime.fromtimestamp(minute, UTC), minute) for minute in range(first, last + 60, 60)]
    nothing = Minute()  # shared by every empty minute: never changed
    found = {}
    for service in sorted({name for slot in by_minute.values() for name in slot}):
        series = []
        total = Minute()
        for moment, minute in minutes:
            calls = by_minute[minute].get(service, nothing) if minute in by_minute else nothing
            series.append((moment, calls))
            if calls is not nothing:
                total.add(calls)
        found[service] = ServiceCalls(series, total)
    return found
