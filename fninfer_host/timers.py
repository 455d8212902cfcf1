"""The timer trigger's listener (notes §4).

Only the instance holding the lease `locks/<host id>/Host.Functions.<name>.Listener` runs a timer, so N instances fire
each occurrence once. With `useMonitor` (the default, unless the schedule fires more often than once a minute) the
schedule status `{"Last", "Next", "LastUpdated"}` lives in `timers/<host id>/Host.Functions.<name>/status`: a host
that starts after a missed occurrence runs the function once with `past_due` set, however many were missed.
Invocations of one timer never overlap; after an overrun the next occurrence fires once at once, then the schedule
resumes. The clock and the wait are injectable so schedules can be tested across simulated weeks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.functions.timer import TimerRequest

from fninfer_host import storage_names
from fninfer_host.errors import HostError
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import FunctionTimeout, InvocationFailed, Invoker
from fninfer_host.leases import SingletonLease
from fninfer_host.ncrontab import CronSchedule, Schedule, parse_schedule
from fninfer_host.options import resolve_app_settings
from fninfer_host.storage import HostStorage

log = logging.getLogger("fninfer_host")

Clock = Callable[[], datetime]
Wait = Callable[[threading.Event, float], bool]


def local_zone() -> tzinfo:
    """The host's time zone: WEBSITE_TIME_ZONE (or TZ) when it names a tz database zone, else the machine's."""
    for name in (os.environ.get("WEBSITE_TIME_ZONE"), os.environ.get("TZ")):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("Time zone %r is not known; using the machine's", name)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def _wait(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(max(0.0, seconds))


def fires_more_than_once_a_minute(schedule: Schedule, now: datetime) -> bool:
    first = schedule.next_occurrence(now).astimezone(UTC)
    return schedule.next_occurrence(first).astimezone(UTC) - first < timedelta(minutes=1)


class TimerListener:
    def __init__(
        self,
        function: IndexedFunction,
        storage: HostStorage,
        host_id: str,
        invoker: Invoker,
        lock_period: float = 60.0,
        recovery_interval: float = 60.0,
        now: Clock | None = None,
        wait: Wait = _wait,
        holder: str = "",
    ) -> None:
        self.function = function
        self.name = f"timer-{function.name}"
        self.storage = storage
        self.host_id = host_id
        self.invoker = invoker
        self.zone = local_zone()
        self.schedule = parse_schedule(resolve_app_settings(str(function.trigger["schedule"])), self.zone)
        # Instants are kept in UTC: Python compares and subtracts datetimes that share a tzinfo by wall-clock
        # time, which is wrong across a DST change. The schedule itself is evaluated in `self.zone`.
        clock = now or (lambda: datetime.now(UTC))
        self.now: Clock = lambda: clock().astimezone(UTC)
        self.wait = wait
        self.run_on_startup = bool(function.trigger.get("runOnStartup", False))
        use_monitor = function.trigger.get("useMonitor")
        self.use_monitor = (
            bool(use_monitor)
            if use_monitor is not None
            else not fires_more_than_once_a_minute(self.schedule, self.now())
        )
        self.lease = SingletonLease(
            storage, storage_names.timer_listener_lock(host_id, function.name), lock_period, holder or f"{os.getpid()}"
        )
        self.recovery_interval = recovery_interval
        self.status_path = storage_names.timer_status(host_id, function.name)

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.lease.try_acquire():
                self.wait(stop, self.recovery_interval)
                continue
            try:
                self._run_as_primary(stop)
            except Exception:
                log.exception("Timer '%s' stopped unexpectedly; it will be restarted", self.function.name)
                self.wait(stop, 1.0)
            finally:
                self.lease.release()

    def _run_as_primary(self, stop: threading.Event) -> None:
        log.info(
            "The next 5 occurrences of the '%s' schedule (%s) will be: %s",
            self.function.name,
            self.schedule.expression,
            ", ".join(o.astimezone(self.zone).isoformat() for o in self._next(5)),
        )
        if self.run_on_startup:
            self._fire(past_due=False, scheduled=None, reason="RunOnStartup")
        last = self._catch_up()
        while not stop.is_set():
            # Re-armed from the instant the last run recorded (its start, or its slot when it started early), as
            # the host re-arms from the status' `Next`: an overrun fires once at once, and a run that woke late
            # does not fire again for the slot it woke in.
            due = self._next_after(last)
            while (remaining := (due - self.now()).total_seconds()) > 0:
                if self.wait(stop, min(remaining, self.lease.period / 3)):
                    return
                if not self.lease.held:
                    return  # the lease was lost: another instance may own the timer now
            if not self.lease.held:
                return
            last = self._fire(past_due=False, scheduled=due)

    def _next_after(self, moment: datetime) -> datetime:
        return self.schedule.next_occurrence(moment).astimezone(UTC)

    def _next(self, count: int) -> list[datetime]:
        occurrences, cursor = [], self.now()
        for _ in range(count):
            cursor = self._next_after(cursor)
            occurrences.append(cursor)
        return occurrences

    # -- schedule status ----------------------------------------------------------------------------------------

    def _catch_up(self) -> datetime:
        """Read the status; run once with past_due when an occurrence was missed. Returns the last occurrence."""
        now = self.now()
        if not self.use_monitor:
            return now
        status = self._read_status()
        if status is None:
            self._write_status(last=None, next_time=self._next_after(now), updated=now)
            return now
        reference = _parse(status.get("Last")) or _parse(status.get("LastUpdated")) or now
        stored_next = _parse(status.get("Next"))
        expected_next = self._next_after(reference)
        if stored_next is None or expected_next != stored_next:
            # The schedule changed since the status was written: start over, not past due.
            self._write_status(last=_parse(status.get("Last")), next_time=self._next_after(now), updated=now)
            return now
        if now > stored_next:
            return self._fire(past_due=True, scheduled=stored_next, reason="IsPastDue")
        return reference

    def _read_status(self) -> dict[str, Any] | None:
        record = self.storage.read_json(storage_names.HOSTS_CONTAINER, self.status_path)
        return record if isinstance(record, dict) else None

    def _write_status(self, last: datetime | None, next_time: datetime, updated: datetime) -> None:
        try:
            self.storage.write_json(
                storage_names.HOSTS_CONTAINER,
                self.status_path,
                {
                    "Last": last.isoformat() if last else None,
                    "Next": next_time.isoformat(),
                    "LastUpdated": updated.isoformat(),
                },
            )
        except HostError as exc:  # best effort, as in the host
            log.warning("Writing the schedule status of '%s' failed: %s", self.function.name, exc)

    # -- one invocation -------------------------------------------------------------------------------------

    def _fire(self, past_due: bool, scheduled: datetime | None, reason: str | None = None) -> datetime:
        """Run the function once; returns the instant the run counts as (its start, or its slot if it started
        early), from which the status' `Next` and the next occurrence are reckoned."""
        started = self.now()
        status = (self._read_status() or {}) if self.use_monitor else {}
        request = TimerRequest(
            past_due=past_due,
            schedule_status=status,
            schedule={"AdjustForDST": isinstance(self.schedule, CronSchedule)},
        )
        details = f"UnscheduledInvocationReason: {reason}" if reason else None
        # A failure is logged by the invoker and does not stop the schedule.
        with contextlib.suppress(InvocationFailed, FunctionTimeout):
            self.invoker.invoke(self.function, request, f"Timer fired at {started.isoformat()}", details)
        last = max(started, scheduled) if scheduled else started
        if self.use_monitor:
            self._write_status(last=last, next_time=self._next_after(last), updated=last)
        return last


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
