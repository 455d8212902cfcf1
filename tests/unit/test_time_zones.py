"""Azure ML's TimeZone, all 131 of them: the same members and Windows names as Azure ML's enum, each firing a daily
schedule at the wall-clock time of the IANA zone CLDR maps it to; and Schedule.load_yaml reading Azure ML's YAML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fninfer.pipeline.core import Schedule, ScheduleRecurrence, TimeZone
from shared.core.errors import InvalidInput
from shared.schedules.recurrence import TIME_ZONES, WINDOWS_ZONES, Recurrence, zone

SURFACE = Path(__file__).resolve().parents[2] / "fninfer_cli" / "data" / "azureml_surface.json"


def test_the_members_are_azure_mls() -> None:
    members = json.loads(SURFACE.read_text())["targets"]["azureml.pipeline.core:TimeZone"]["members"]
    assert sorted(member.name for member in TimeZone) == sorted(members)
    assert len(TimeZone) == 131
    assert (
        TimeZone.UTC11.value == "UTC-11"
        and TimeZone.PacificStandardTimeMexico.value == "Pacific Standard Time (Mexico)"
    )
    assert TimeZone("Tokyo Standard Time") is TimeZone.TokyoStandardTime


@pytest.mark.parametrize(("name", "windows", "iana"), TIME_ZONES)
def test_each_zone_fires_at_its_wall_clock_time(name: str, windows: str, iana: str) -> None:
    assert zone(TimeZone[name].value) == ZoneInfo(iana)
    ScheduleRecurrence("Day", 1, time_zone=TimeZone[name], hours=[9], minutes=[30])  # validated as Azure ML would
    document = {"frequency": "Day", "interval": 1, "hours": [9], "minutes": [30], "time_zone": windows}
    created = datetime(2027, 1, 10, tzinfo=UTC)
    fired = Recurrence.parse(document).occurrences(created, created, created + timedelta(days=3))
    assert len(fired) == 3
    for moment in fired:
        local = moment.astimezone(ZoneInfo(iana))
        assert (local.hour, local.minute) == (9, 30)


def test_known_offsets() -> None:
    january = datetime(2027, 1, 15, 12, tzinfo=UTC)
    offsets = {"India Standard Time": 5.5, "Nepal Standard Time": 5.75, "UTC-11": -11, "UTC+12": 12}
    offsets |= {"Chatham Islands Standard Time": 13.75, "Line Islands Standard Time": 14, "Dateline Standard Time": -12}
    for windows, hours in offsets.items():
        assert zone(windows).utcoffset(january) == timedelta(hours=hours), windows
    assert WINDOWS_ZONES["Coordinated Universal Time"] == "UTC"
    with pytest.raises(InvalidInput, match="unknown time zone"):
        zone("Atlantis Standard Time")


def test_load_yaml_reads_azure_mls_schedule_file(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(
        """Schedule:
    description: "Test create with recurrence"
    recurrence:
        frequency: Week
        interval: 1
        start_time: 2019-06-07T10:50:00
        time_zone: W. Europe Standard Time
        hours:
        - 1
        minutes:
        - 0
        time_of_day: null
        week_days:
        - Friday
    pipeline_parameters: {'a': 1}
    wait_for_provisioning: True
    wait_timeout: 3600
    datastore_name: ~
    polling_interval: ~
    data_path_parameter_name: ~
    continue_on_step_failure: None
    path_on_datastore: ~
"""
    )
    loaded = Schedule.load_yaml(workspace=None, filename=str(path))  # type: ignore[arg-type]
    recurrence = loaded["recurrence"]
    assert isinstance(recurrence, ScheduleRecurrence)
    assert (recurrence.frequency, recurrence.week_days, recurrence.time_zone) == (
        "Week",
        ["Friday"],
        TimeZone.WEuropeStandardTime,
    )
    assert loaded["description"] == "Test create with recurrence" and loaded["pipeline_parameters"] == {"a": 1}
    assert loaded["datastore_name"] is None and loaded["continue_on_step_failure"] == "None"  # as Azure ML reads it
    (tmp_path / "bad.yaml").write_text("Other: {}\n")
    with pytest.raises(ValueError, match='must have a "Schedule:" section'):
        Schedule.load_yaml(workspace=None, filename=str(tmp_path / "bad.yaml"))  # type: ignore[arg-type]


@pytest.mark.parametrize("time_zone", [5, ["UTC"], {"name": "UTC"}, True, 1.5])
def test_a_time_zone_that_is_not_a_name_is_invalid_input_naming_it(time_zone: object) -> None:
    """Not a TypeError (a 500 from POST /api/schedules): the 400 names the field."""
    with pytest.raises(InvalidInput, match="time_zone must be a time zone's name") as raised:
        Recurrence.parse({"frequency": "Day", "interval": 1, "time_zone": time_zone})
    assert raised.value.details["field"] == "time_zone"
    assert Recurrence.parse({"frequency": "Day", "interval": 1, "time_zone": ""}).zone.key == "UTC"
