"""Timer schedules as the Functions host reads them: six-field NCRONTAB, five-field cron, or a TimeSpan.

    {second} {minute} {hour} {day} {month} {day-of-week}     "0 */5 * * * *", "0 30 9 * Jan Mon"

Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and month/day names. Day of week 0 is
Sunday (7 is accepted too). When both day and day-of-week are restricted, both must match. Occurrences are wall-clock
times in the schedule's time zone: a time in a spring-forward gap does not occur, and in the repeated autumn hour only
the first occurrence fires (a point-in-time schedule skips the second, as the host does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)


class ScheduleError(ValueError):
    """A schedule expression is malformed; the message names the field."""


def _value(text: str, field: str, low: int, high: int) -> int:
    lowered = text.lower()
    if field == "month" and lowered[:3] in MONTHS and len(lowered) >= 3:
        return MONTHS.index(lowered[:3]) + 1
    if field == "day-of-week" and lowered[:3] in DAYS and len(lowered) >= 3:
        return DAYS.index(lowered[:3])
    if not text.isdigit():
        raise ScheduleError(f"{field} field: {text!r} is not a number or name")
    number = int(text)
    if not low <= number <= high:
        raise ScheduleError(f"{field} field: {number} is out of range {low}-{high}")
    return number


def parse_field(text: str, field: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"([^/]+)(?:/(\d+))?", part)
        if not match:
            raise ScheduleError(f"{field} field: {part!r} is malformed")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"{field} field: step must be at least 1")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = _value(first, field, low, high), _value(last, field, low, high)
            if start > end:
                raise ScheduleError(f"{field} field: range {span!r} runs backwards")
        else:
            start = _value(span, field, low, high)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    if field == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    zone: tzinfo

    def _day_matches(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
        return day.month in self.months and day.day in self.days and weekday in self.weekdays

    def _next_wall(self, start: datetime) -> datetime | None:
        """The first naive wall-clock time >= `start` that matches every field (within five years)."""
        day = start.date()
        for offset in range(366 * 5):
            current = day + timedelta(days=offset)
            if not self._day_matches(current):
                continue
            floor = (start.hour, start.minute, start.second) if offset == 0 else (0, 0, 0)
            for hour in sorted(self.hours):
                if hour < floor[0]:
                    continue
                for minute in sorted(self.minutes):
                    if (hour, minute) < floor[:2]:
                        continue
                    for second in sorted(self.seconds):
                        if (hour, minute, second) >= floor:
                            return datetime(current.year, current.month, current.day, hour, minute, second)
        return None

    def next_occurrence(self, after: datetime) -> datetime:
        """The first occurrence strictly after `after` (an aware datetime), as an aware datetime in the zone."""
        wall = after.astimezone(self.zone).replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        for _ in range(1000):
            candidate = self._next_wall(wall)
            if candidate is None:
                break
            aware = candidate.replace(tzinfo=self.zone, fold=0)
            exists = aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) == candidate
            # Compare instants in UTC: Python compares datetimes sharing a tzinfo by wall-clock time.
            if exists and aware.astimezone(UTC) > after.astimezone(UTC):
                return aware
            wall = candidate + timedelta(seconds=1)
        raise ScheduleError(f"schedule {self.expression!r} has no occurrence after {after.isoformat()}")


@dataclass(frozen=True)
class IntervalSchedule:
    """A TimeSpan schedule: a constant interval from the last occurrence."""

    expression: str
    interval: timedelta
    zone: tzinfo

    def next_occurrence(self, after: datetime) -> datetime:
        return (after + self.interval).astimezone(self.zone)


Schedule = CronSchedule | IntervalSchedule


def parse_schedule(expression: str, zone: tzinfo = UTC) -> Schedule:
    text = expression.strip()
    timespan = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", text)
    if timespan:
        days, hours, minutes, seconds = (int(g or 0) for g in timespan.groups())
        if not timespan.group(1) and hours >= 24:  # "dd:hh:mm" when the first part is 24 or more
            days, hours, minutes, seconds = hours, minutes, seconds, 0
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"schedule {expression!r}: the interval must be positive")
        return IntervalSchedule(text, interval, zone)
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ScheduleError(f"schedule {expression!r} must have six fields: second minute hour day month day-of-week")
    values = [parse_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    return CronSchedule(text, *values, zone=zone)
