"""Service call metrics (shared/services/metrics.py): recorded in memory with no storage request, written in the
background per instance and minute, read back summed over instances, each call counted once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.storage import RequestCounter, Storage
from shared.services import metrics
from shared.services.metrics import CallMetrics, Minute, bucket, percentile, service_calls

MINUTE = 1_800_000_000 - 1_800_000_000 % 60  # a minute boundary (2027-01-15T08:00:00Z)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def call(recorder: CallMetrics, service: str, milliseconds: float, status: int = 200, request_id: str = "r") -> None:
    recorder.record(service, time.perf_counter() - milliseconds / 1000, status, request_id)


@pytest.fixture
def clean(storage: Storage) -> Storage:
    """A storage whose metrics blobs are this test's only (the reader sums every instance's)."""
    for prefix in (layout.SERVICE_METRICS_NOW_PREFIX, layout.SERVICE_METRICS_MINUTES_PREFIX):
        for name in storage.list_names(layout.LOGS_CONTAINER, prefix):
            storage.delete_blob(layout.LOGS_CONTAINER, name)
    return storage


def test_percentiles_are_exact_to_the_bucket() -> None:
    latency = Minute()
    for value in range(1, 101):  # 1 ms .. 100 ms
        latency.count(0, value / 1000, 200, "r")
    p50, p99 = percentile(latency.latency, 0.5), percentile(latency.latency, 0.99)
    assert p50 is not None and 50 / metrics.BUCKET_RATIO <= p50 <= 50 * metrics.BUCKET_RATIO
    assert p99 is not None and 99 / metrics.BUCKET_RATIO <= p99 <= 99 * metrics.BUCKET_RATIO
    assert bucket(0) == 0 and bucket(10**12) == metrics.MAX_BUCKET
    assert percentile(Minute().latency, 0.5) is None


def test_recording_sends_nothing_until_the_flush(azurite: Azurite) -> None:
    counter = RequestCounter()
    storage = Storage.from_connection_string(azurite.connection_string, counter=counter)
    recorder = CallMetrics(storage, instance="quiet", clock=Clock(MINUTE + 5))
    for _ in range(1000):
        call(recorder, "svc", 1)
    assert counter.total() == 0
    recorder.flush()
    assert counter.total() > 0


def test_calls_are_summed_per_minute_over_instances_and_counted_once(clean: Storage) -> None:
    clock = Clock(MINUTE + 10)
    first, second = CallMetrics(clean, "i0-1", clock), CallMetrics(clean, "i1-2", clock)
    for _ in range(10):
        call(first, "svc", 10)
        call(second, "svc", 20)
    call(first, "svc", 5, status=500, request_id="failed-1")
    call(second, "svc", 1, status=401, request_id="refused-1")
    call(second, "other", 3)
    first.flush()
    second.flush()
    # the current minute: from each instance's `now` blob
    seen = service_calls(clean, at(MINUTE + 20))
    assert seen["svc"].total.calls == 22 and seen["other"].total.calls == 1
    assert (seen["svc"].total.errors, seen["svc"].total.refused) == (1, 1)
    assert sorted(request_id for _, _, request_id in seen["svc"].total.failures) == ["failed-1", "refused-1"]
    assert seen["svc"].error_rate == pytest.approx(1 / 22)
    # the minute ends: each instance appends it as a line, and nothing is counted twice
    clock.now = MINUTE + 65
    call(first, "svc", 10)  # a call of the new minute, in the `now` blob
    first.flush()
    seen = service_calls(clean, at(MINUTE + 70))
    assert [m.calls for _, m in seen["svc"].minutes[-2:]] == [22, 1]  # second's minute still from its `now` blob
    second.flush()
    seen = service_calls(clean, at(MINUTE + 70))
    assert [m.calls for _, m in seen["svc"].minutes[-2:]] == [22, 1]
    assert len(seen["svc"].minutes) == metrics.WINDOW_MINUTES
    assert seen["svc"].calls_per_minute == pytest.approx(23 / metrics.WINDOW_MINUTES)
    assert seen["svc"].p50 is not None and 10 / 1.2 <= seen["svc"].p50 <= 20 * 1.2
    names = clean.list_names(layout.LOGS_CONTAINER, layout.service_metrics_hour_prefix(metrics.hour_of(MINUTE)))
    assert len(names) == 2  # one append blob per instance and hour


def test_a_call_recorded_after_its_minute_was_written_adds_a_line(clean: Storage) -> None:
    clock = Clock(MINUTE + 30)
    recorder = CallMetrics(clean, "late", clock)
    call(recorder, "svc", 1)
    clock.now = MINUTE + 61
    recorder.flush()  # minute MINUTE written
    recorder.record("svc", time.perf_counter(), 200, "r")  # completes now, but counted in the new minute
    recorder._arrived.append(("svc", MINUTE + 59.9, 0.001, 200, "late"))  # one that finished just before the minute
    recorder.flush()
    clock.now = MINUTE + 125
    recorder.flush()
    seen = service_calls(clean, at(MINUTE + 125))["svc"]
    assert [m.calls for _, m in seen.minutes[-3:]] == [2, 1, 0]


def test_minutes_outside_the_last_hour_are_left_out(clean: Storage) -> None:
    clock = Clock(MINUTE - 2 * 3600)
    recorder = CallMetrics(clean, "old", clock)
    call(recorder, "svc", 1)
    clock.now += 120
    recorder.flush()
    assert "svc" not in service_calls(clean, at(MINUTE))
