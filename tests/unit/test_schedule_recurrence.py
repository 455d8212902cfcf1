"""When schedules fire: ScheduleRecurrence as UTC instants, across weeks, time zones and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.errors import InvalidInput
from shared.schedules.recurrence import Recurrence


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fire_times(document: dict[str, Any], created: datetime, until: datetime) -> list[datetime]:
    return Recurrence.parse(document).occurrences(created, created - timedelta(seconds=1), until)


def test_the_seeds_weekly_schedule_fires_at_creation_then_every_week() -> None:
    created = utc(2026, 11, 22, 10, 17, 5)
    times = fire_times({"frequency": "Week", "interval": 1}, created, created + timedelta(weeks=4, hours=1))
    assert times == [created + timedelta(weeks=k) for k in range(5)]


def test_a_down_period_is_caught_up_once_with_the_latest_occurrence() -> None:
    created = utc(2026, 1, 5, 9)
    recurrence = Recurrence.parse({"frequency": "Week", "interval": 1})
    last_checked = created + timedelta(weeks=1, minutes=1)  # the app went down after the second firing
    back = created + timedelta(weeks=5, days=2)
    assert recurrence.latest(created, last_checked, back) == created + timedelta(weeks=5)
    assert recurrence.latest(created, back, back + timedelta(days=4)) is None  # and not again until the next one


def test_day_schedule_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    document = {"frequency": "Day", "interval": 1, "time_of_day": "09:00", "time_zone": "America/New_York"}
    times = fire_times(document, utc(2026, 3, 6), utc(2026, 3, 10))
    # 09:00 EST is 14:00 UTC; from 8 March 2026 09:00 EDT is 13:00 UTC.
    assert times == [utc(2026, 3, 6, 14), utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_a_skipped_local_time_fires_once_after_the_change_and_a_repeated_one_once() -> None:
    spring = {"frequency": "Day", "interval": 1, "hours": [2], "minutes": [30], "time_zone": "Europe/Berlin"}
    times = fire_times(spring, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    # 02:30 does not exist in Berlin on 29 March 2026: it fires at 03:30 CEST (01:30 UTC), once.
    assert times == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    autumn = {"frequency": "Day", "interval": 1, "time_of_day": "02:30", "time_zone": "Europe/Berlin"}
    times = fire_times(autumn, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    # 02:30 happens twice on 25 October 2026; the schedule fires at the first (CEST, 00:30 UTC) only.
    assert times == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_windows_time_zone_names_and_a_start_time_without_offset() -> None:
    document = {
        "frequency": "Day",
        "interval": 1,
        "start_time": "2026-07-01T08:00:00",
        "time_zone": "Pacific Standard Time",
    }
    times = fire_times(document, utc(2026, 6, 1), utc(2026, 7, 3))
    assert times == [utc(2026, 7, 1, 15), utc(2026, 7, 2, 15)]  # 08:00 PDT


def test_every_other_week_on_chosen_days_and_times() -> None:
    document = {
        "frequency": "Week",
        "interval": 2,
        "start_time": "2026-11-02T00:00:00+00:00",  # a Monday
        "week_days": ["Monday", "Friday"],
        "hours": [9],
        "minutes": [0, 30],
    }
    times = fire_times(document, utc(2026, 11, 1), utc(2026, 11, 30))
    assert times == [
        utc(2026, 11, 2, 9),
        utc(2026, 11, 2, 9, 30),
        utc(2026, 11, 6, 9),
        utc(2026, 11, 6, 9, 30),
        utc(2026, 11, 16, 9),
        utc(2026, 11, 16, 9, 30),
        utc(2026, 11, 20, 9),
        utc(2026, 11, 20, 9, 30),
    ]


def test_month_on_the_31st_fires_on_the_last_day_of_shorter_months() -> None:
    document = {"frequency": "Month", "interval": 1, "start_time": "2027-01-31T06:00:00+00:00"}
    times = fire_times(document, utc(2027, 1, 1), utc(2027, 4, 30, 23))
    assert times == [utc(2027, 1, 31, 6), utc(2027, 2, 28, 6), utc(2027, 3, 31, 6), utc(2027, 4, 30, 6)]


def test_minutes_and_hours_are_elapsed_time_across_a_clock_change() -> None:
    document = {
        "frequency": "Hour",
        "interval": 1,
        "start_time": "2026-11-01T00:00:00",
        "time_zone": "America/New_York",
    }
    times = fire_times(document, utc(2026, 10, 31), utc(2026, 11, 1, 8))
    assert times == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 8),
    ]
    every_15 = Recurrence.parse({"frequency": "Minute", "interval": 15, "start_time": "2026-01-01T00:00:00Z"})
    # A year later, the latest occurrence is found without walking every one of them.
    assert every_15.latest(utc(2026, 1, 1), utc(2026, 12, 31), utc(2027, 1, 1, 0, 7)) == utc(2027, 1, 1)


def test_a_start_time_in_the_future_waits_for_it() -> None:
    document = {"frequency": "Day", "interval": 1, "start_time": "2026-12-01T10:00:00Z"}
    assert fire_times(document, utc(2026, 11, 22), utc(2026, 12, 1, 9, 59)) == []
    assert fire_times(document, utc(2026, 11, 22), utc(2026, 12, 2, 10)) == [utc(2026, 12, 1, 10), utc(2026, 12, 2, 10)]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"frequency": "Fortnight", "interval": 1}, "frequency"),
        ({"frequency": "Week", "interval": 0}, "interval"),
        ({"frequency": "Week", "interval": "1"}, "interval"),
        ({"frequency": "Hour", "interval": 1, "hours": [3]}, "Day and Week"),
        ({"frequency": "Day", "interval": 1, "week_days": ["Monday"]}, "week_days"),
        ({"frequency": "Week", "interval": 1, "week_days": ["Funday"]}, "week_days"),
        ({"frequency": "Day", "interval": 1, "hours": [24]}, "hours"),
        ({"frequency": "Day", "interval": 1, "time_of_day": "9am"}, "time_of_day"),
        ({"frequency": "Day", "interval": 1, "time_of_day": "09:00", "hours": [9]}, "not both"),
        ({"frequency": "Day", "interval": 1, "time_zone": "Mars/Olympus"}, "time zone"),
        ({"frequency": "Day", "interval": 1, "start_time": "next tuesday"}, "start_time"),
        # the API document's types: a number is no time, though Python would read 1230 as 12:30
        ({"frequency": "Day", "interval": 1, "start_time": 20261207}, "start_time must be an ISO 8601 string"),
        ({"frequency": "Day", "interval": 1, "time_of_day": 1230}, "time_of_day must be a string"),
    ],
)
def test_bad_recurrences_name_the_problem(document: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        Recurrence.parse(document)
