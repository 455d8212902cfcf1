"""The timer listener in process against a real Azurite: past-due catch-up, overruns, runOnStartup, one firing.

Schedules run on an injected clock (the wait advances it), so minutes of schedule take milliseconds; the status blob,
the singleton lease and the invoker are real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from fninfer_host import storage_names
from fninfer_host.azurite import Azurite
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import Invoker
from fninfer_host.storage import HostStorage
from fninfer_host.timers import TimerListener
from tests.hosting import eventually

T0 = datetime(2026, 11, 22, 9, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_TIME_ZONE", "UTC")


@pytest.fixture
def storage(azurite: Azurite) -> HostStorage:
    """The host's own storage access (what its listeners are given), on the session's Azurite."""
    return HostStorage.from_connection_string(azurite.connection_string)


class FakeClock:
    """`now` and `wait` for a TimerListener: waiting moves time forward; past `end` the listener is stopped."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.current, self.end = start, end

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.advance(seconds)
        if self.current >= self.end:
            stop.set()
        return stop.is_set()


def recording(calls: list[func.TimerRequest]) -> Callable[[func.TimerRequest], None]:
    def handle(timer: func.TimerRequest) -> None:
        calls.append(timer)

    return handle


def timer_function(
    name: str, schedule: str, handler: Callable[[func.TimerRequest], None], **extra: Any
) -> IndexedFunction:
    trigger = {"type": "timerTrigger", "name": "timer", "schedule": schedule, **extra}
    return IndexedFunction(name=name, trigger=trigger, bindings=(trigger,), callable=handler)


def test_missed_occurrences_run_once_with_past_due_then_the_schedule_resumes(
    storage: HostStorage, invoker: Invoker, unique: str
) -> None:
    calls: list[func.TimerRequest] = []
    function = timer_function("every5", "0 */5 * * * *", recording(calls))
    # The last run was an hour ago: twelve occurrences were missed.
    last = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    status = {
        "Last": last.isoformat(),
        "Next": (last + timedelta(minutes=5)).isoformat(),
        "LastUpdated": last.isoformat(),
    }
    storage.write_json(storage_names.HOSTS_CONTAINER, storage_names.timer_status(unique, "every5"), status)
    clock = FakeClock(T0, end=T0 + timedelta(minutes=12))
    TimerListener(function, storage, unique, invoker, lock_period=15, now=clock.now, wait=clock.wait).run(
        threading.Event()
    )
    assert [call.past_due for call in calls] == [True, False, False]  # catch-up once, then 09:05 and 09:10
    assert calls[1].schedule_status["Next"] == "2026-11-22T09:05:00+00:00"
    written = storage.read_json(storage_names.HOSTS_CONTAINER, storage_names.timer_status(unique, "every5"))
    assert written["Last"] == "2026-11-22T09:10:00+00:00" and written["Next"] == "2026-11-22T09:15:00+00:00"


def test_an_overrun_fires_once_at_once_not_once_per_missed_slot(
    storage: HostStorage, invoker: Invoker, unique: str
) -> None:
    clock = FakeClock(T0, end=T0 + timedelta(minutes=24))
    fired: list[datetime] = []

    def slow(timer: func.TimerRequest) -> None:
        fired.append(clock.now())
        if len(fired) == 1:
            clock.advance(12 * 60)  # overruns the next two slots

    function = timer_function("slow", "0 */5 * * * *", slow)
    TimerListener(function, storage, unique, invoker, lock_period=15, now=clock.now, wait=clock.wait).run(
        threading.Event()
    )
    minutes = [moment.strftime("%H:%M:%S") for moment in fired]
    assert minutes == ["09:05:00", "09:17:00", "09:20:00"]


def test_a_listener_that_wakes_late_fires_once_and_never_reports_a_slot_twice(
    storage: HostStorage, invoker: Invoker, unique: str
) -> None:
    """A machine that stalls past the next slot (the wait returns ten minutes late): the late run counts from its
    start, as the host's status does, so the slot it woke in is not fired again and each run sees a later `Next`."""
    clock = FakeClock(T0, end=T0 + timedelta(minutes=21))
    stalled = False

    def wait(stop: threading.Event, seconds: float) -> bool:
        nonlocal stalled
        if not stalled:
            stalled = True
            clock.advance(600)
        return clock.wait(stop, seconds)

    calls: list[func.TimerRequest] = []
    fired: list[datetime] = []

    def handle(timer: func.TimerRequest) -> None:
        calls.append(timer)
        fired.append(clock.now())

    function = timer_function("late", "0 */5 * * * *", handle, useMonitor=True)
    TimerListener(function, storage, unique, invoker, lock_period=15, now=clock.now, wait=wait).run(threading.Event())
    assert [moment.strftime("%H:%M:%S") for moment in fired] == ["09:10:35", "09:15:00", "09:20:00"]
    slots = [datetime.fromisoformat(timer.schedule_status["Next"]).strftime("%H:%M") for timer in calls]
    assert slots == ["09:05", "09:15", "09:20"]


def test_run_on_startup_fires_at_once(storage: HostStorage, invoker: Invoker, unique: str) -> None:
    calls: list[func.TimerRequest] = []
    function = timer_function("yearly", "0 0 0 1 1 *", recording(calls), runOnStartup=True)
    clock = FakeClock(T0, end=T0 + timedelta(hours=1))
    TimerListener(function, storage, unique, invoker, lock_period=15, now=clock.now, wait=clock.wait).run(
        threading.Event()
    )
    assert len(calls) == 1 and calls[0].past_due is False


def test_two_listeners_with_one_host_id_fire_each_occurrence_once(
    storage: HostStorage, invoker: Invoker, unique: str
) -> None:
    fired: list[tuple[str, int]] = []

    def recorder(instance: str) -> Callable[[func.TimerRequest], None]:
        def handle(timer: func.TimerRequest) -> None:
            fired.append((instance, int(time.time())))

        return handle

    # Two host instances on one storage account: same host ID and function name, so the same lease.
    listeners = [
        TimerListener(
            timer_function("everysecond", "* * * * * *", recorder(instance)),
            storage,
            unique,
            invoker,
            lock_period=15,
            recovery_interval=0.2,
            holder=instance,
        )
        for instance in ("a", "b")
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=listener.run, args=(stop,)) for listener in listeners]
    for thread in threads:
        thread.start()
    eventually(lambda: len(fired) >= 3, timeout=30)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(fired) >= 3
    assert len({instance for instance, _ in fired}) == 1  # only the lease holder fires
    seconds = [second for _, second in fired]
    assert len(seconds) == len(set(seconds))  # and each occurrence once
