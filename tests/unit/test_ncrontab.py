"""Timer schedules: NCRONTAB fields, TimeSpans, and wall-clock occurrences across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fninfer_host.ncrontab import IntervalSchedule, ScheduleError, parse_schedule

T0 = datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */5 * * * *", datetime(2026, 11, 22, 9, 5, 0, tzinfo=UTC)),
        ("0 0 * * * *", datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)),
        ("0 0 */2 * * *", datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)),
        ("0 30 9 * * 1-5", datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)),
        ("0 30 9 * Jan Mon", datetime(2027, 1, 4, 9, 30, 0, tzinfo=UTC)),
        ("*/15 * * * * *", datetime(2026, 11, 22, 9, 0, 15, tzinfo=UTC)),
        ("0 0 0 * * 7", datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC)),  # 7 is Sunday too
        ("30 9 * * *", datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)),  # five fields: no seconds
        ("0 0 12 1,15 * *", datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_occurrence(expression: str, expected: datetime) -> None:
    assert parse_schedule(expression).next_occurrence(T0) == expected


def test_occurrences_are_strictly_after_and_consecutive() -> None:
    schedule = parse_schedule("0 0 * * * *")
    first = schedule.next_occurrence(datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC))
    assert first == datetime(2026, 11, 22, 11, 0, 0, tzinfo=UTC)
    assert schedule.next_occurrence(first) - first == timedelta(hours=1)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 * *", "six fields"),
        ("0 61 * * * *", "minute field: 61 is out of range"),
        ("0 0 25 * * *", "hour field"),
        ("0 0 0 * Foo *", "month field"),
        ("0 5-1 * * * *", "runs backwards"),
        ("0 */0 * * * *", "step"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(expression)


def test_timespans() -> None:
    schedule = parse_schedule("00:10:00")
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.next_occurrence(T0) == T0 + timedelta(minutes=10)
    assert parse_schedule("1.00:00:00").next_occurrence(T0) == T0 + timedelta(days=1)


def test_daylight_saving_in_the_schedule_zone() -> None:
    zone = ZoneInfo("Europe/Berlin")
    daily = parse_schedule("0 30 2 * * *", zone)
    # 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00): the next run is the day after.
    before_spring = datetime(2026, 3, 28, 12, 0, tzinfo=zone)
    assert daily.next_occurrence(before_spring) == datetime(2026, 3, 30, 2, 30, tzinfo=zone)
    # 2026-10-25 02:30 happens twice: a point-in-time schedule fires once, at the first.
    first = daily.next_occurrence(datetime(2026, 10, 24, 12, 0, tzinfo=zone))
    assert first == datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=0)
    assert daily.next_occurrence(first) == datetime(2026, 10, 26, 2, 30, tzinfo=zone)
    # Local 09:00 stays 09:00 across the change, so the UTC gap between runs is 25 hours that day.
    nine = parse_schedule("0 0 9 * * *", zone)
    saturday = nine.next_occurrence(datetime(2026, 10, 24, 0, 0, tzinfo=zone))
    assert nine.next_occurrence(saturday).astimezone(UTC) - saturday.astimezone(UTC) == timedelta(hours=25)
