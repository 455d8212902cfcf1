"""Published pipelines, parameters and schedules (`shared/pipelines/engine/published.py`, `shared/schedules`) against a
real Azurite of their own, with a clock the tests control: the runner's `fire` and `tick` take the instant, so weeks
pass in a second, and two threads calling them at once stand for two host instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.storage import RequestCounter, Storage
from shared.pipelines.engine import published
from shared.runs import run_records
from shared.schedules import runner, schedule_records
from tests.hosting import at_once
from tests.integration.test_batch_domain import (
    definition,
    drain,
    output_lines,
    own_azurite,
    own_storage,
    put_inputs,
    step_of,
    storage,
)

__all__ = ["own_azurite", "own_storage", "storage"]  # fixtures, shared with the batch domain tests

T0 = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_other_schedules(storage: Storage) -> None:
    """Each test sees only its own schedules fire."""
    for schedule in schedule_records.list_schedules(storage, active_only=True):
        schedule_records.set_status(storage, schedule["id"], schedule_records.ScheduleStatus.DISABLED)


def publish(storage: Storage, **parameters: dict[str, Any]) -> dict[str, Any]:
    folder = put_inputs(storage, {f"f{i}.txt": "ok" for i in range(4)})
    pipeline = definition(storage, folder)
    if parameters:
        pipeline["parameters"] = parameters
        step = pipeline["steps"][0]
        for name, declaration in parameters.items():
            if declaration["kind"] == "dataset":
                step["input"] = {"name": "data", "$parameter": name}
            else:
                step["config"]["mini_batch_size"] = {"$parameter": name}
    return published.publish(storage, pipeline, "scoring", "a pipeline", "1.0")


def weekly(storage: Storage, pipeline_id: str, created: datetime = T0, **extra: Any) -> dict[str, Any]:
    document = {
        "name": "Weekly Predictions",
        "pipeline_id": pipeline_id,
        "experiment_name": "Batch_Prediction",
        "recurrence": {"frequency": "Week", "interval": 1},
        **extra,
    }
    return schedule_records.create_schedule(storage, document, now=created)


def runs_of(storage: Storage, schedule_id: str) -> list[dict[str, Any]]:
    found = run_records.list_runs(storage, experiment="Batch_Prediction")
    return [run for run in found if run["tags"].get("azureml.scheduleid") == schedule_id]


# -- recurring schedules ----------------------------------------------------------------------------------------------


def test_weekly_schedule_over_four_weeks_and_two_instances_fires_each_week_once(storage: Storage) -> None:
    pipeline = publish(storage)
    schedule = weekly(storage, pipeline["id"])
    moment = T0
    while moment <= T0 + timedelta(weeks=4, hours=12):
        at_once(lambda at=moment: runner.fire(storage, schedule_records.get_schedule(storage, schedule["id"]), at))
        moment += timedelta(hours=6)
    started = runs_of(storage, schedule["id"])
    occurrences = [T0 + timedelta(weeks=k) for k in range(5)]  # at creation (no start_time), then weekly
    assert sorted(run["id"] for run in started) == sorted(
        runner.run_id_for(schedule["id"], schedule_records.iso(at)) for at in occurrences
    )
    assert all(run["tags"]["azureml.pipelineid"] == pipeline["id"] for run in started)
    described = schedule_records.describe(storage, schedule_records.get_schedule(storage, schedule["id"]))
    assert described["last_fired"] == schedule_records.iso(occurrences[-1]) and described["last_error"] is None


def test_the_timer_tick_fires_every_due_schedule(storage: Storage) -> None:
    pipeline = publish(storage)
    first, second = weekly(storage, pipeline["id"]), weekly(storage, pipeline["id"], created=T0 + timedelta(days=1))
    assert len(runner.tick(storage, T0 + timedelta(days=2))) == 2
    assert runner.tick(storage, T0 + timedelta(days=3)) == []
    assert [len(runs_of(storage, s["id"])) for s in (first, second)] == [1, 1]


def test_a_tick_reads_again_only_the_schedules_that_changed(storage: Storage, own_azurite: Azurite) -> None:
    pipeline = publish(storage)
    first, second = weekly(storage, pipeline["id"]), weekly(storage, pipeline["id"])
    counter = RequestCounter()
    counted = Storage.from_connection_string(own_azurite.connection_string, counter=counter)

    def schedule_reads(at: datetime) -> int:
        before = counter.counts()[f"GET {layout.REGISTRY_CONTAINER}"]
        runner.tick(counted, at)
        return counter.counts()[f"GET {layout.REGISTRY_CONTAINER}"] - before

    schedule_reads(T0 + timedelta(minutes=1))  # reads the versions this process has not read yet, and fires both
    assert schedule_reads(T0 + timedelta(minutes=2)) == 0  # listed, none changed: none read
    schedule_records.set_status(storage, second["id"], schedule_records.ScheduleStatus.DISABLED)
    assert schedule_reads(T0 + timedelta(minutes=3)) == 1  # the changed one only, and it no longer fires
    assert [len(runs_of(storage, s["id"])) for s in (first, second)] == [1, 1]
    assert len(runner.tick(counted, T0 + timedelta(weeks=1, minutes=1))) == 1


def test_a_down_period_is_caught_up_with_one_run(storage: Storage) -> None:
    pipeline = publish(storage)
    schedule = weekly(storage, pipeline["id"])
    runner.tick(storage, T0 + timedelta(minutes=1))
    # The app is down for three weeks and two days: one run on return, for the latest missed occurrence.
    back = T0 + timedelta(weeks=3, days=2)
    assert runner.tick(storage, back) == [
        runner.run_id_for(schedule["id"], schedule_records.iso(T0 + timedelta(weeks=3)))
    ]
    for hours in range(1, 24 * 4, 7):
        assert runner.tick(storage, back + timedelta(hours=hours)) == []
    assert len(runner.tick(storage, T0 + timedelta(weeks=4, minutes=1))) == 1
    assert len(runs_of(storage, schedule["id"])) == 3


def test_a_run_decided_but_not_started_is_started_by_the_next_tick(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = publish(storage)
    schedule = weekly(storage, pipeline["id"])
    real_start = published.start

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("the instance stopped here")

    monkeypatch.setattr(published, "start", dies)
    with pytest.raises(ConnectionResetError):
        runner.tick(storage, T0 + timedelta(minutes=1))
    assert runs_of(storage, schedule["id"]) == []
    monkeypatch.setattr(published, "start", real_start)
    expected = runner.run_id_for(schedule["id"], schedule_records.iso(T0))
    assert runner.tick(storage, T0 + timedelta(minutes=2)) == [expected]
    assert runner.tick(storage, T0 + timedelta(minutes=3)) == []
    assert [run["id"] for run in runs_of(storage, schedule["id"])] == [expected]


def test_time_zones_and_daylight_saving_through_the_runner(storage: Storage) -> None:
    pipeline = publish(storage)
    created = datetime(2026, 10, 20, tzinfo=UTC)
    recurrence = {"frequency": "Week", "interval": 1, "week_days": ["Monday"], "time_of_day": "09:00"}
    schedule = weekly(storage, pipeline["id"], created=created, recurrence={**recurrence, "time_zone": "Europe/Berlin"})
    moment, fired = created, []
    while moment < datetime(2026, 11, 3, tzinfo=UTC):
        if runner.tick(storage, moment):
            fired.append(schedule_records.parse_instant(schedule_records.describe(storage, schedule)["last_fired"]))
        moment += timedelta(minutes=30)
    # Mondays 09:00 in Berlin: CEST (07:00 UTC) before 25 October 2026, CET (08:00 UTC) after.
    assert fired == [datetime(2026, 10, 26, 8, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC)]


def test_disabled_schedules_do_not_fire_and_start_again_from_now(storage: Storage) -> None:
    pipeline = publish(storage)
    schedule = weekly(storage, pipeline["id"])
    schedule_records.set_status(storage, schedule["id"], schedule_records.ScheduleStatus.DISABLED)
    assert runner.tick(storage, T0 + timedelta(weeks=1, hours=1)) == []
    schedule_records.set_status(
        storage, schedule["id"], schedule_records.ScheduleStatus.ACTIVE, now=T0 + timedelta(weeks=1, hours=2)
    )
    assert runner.tick(storage, T0 + timedelta(weeks=1, hours=3)) == []  # the missed occurrence is not run
    assert len(runner.tick(storage, T0 + timedelta(weeks=2, hours=1))) == 1


def test_a_disabled_pipeline_is_noted_on_the_schedule_and_skipped(storage: Storage) -> None:
    pipeline = publish(storage)
    schedule = weekly(storage, pipeline["id"])
    published.set_status(storage, pipeline["id"], published.PublishedStatus.DISABLED)
    assert runner.tick(storage, T0 + timedelta(minutes=1)) == []
    described = schedule_records.describe(storage, schedule)
    assert "Disabled" in described["last_error"] and described["last_run_id"] is None
    published.set_status(storage, pipeline["id"], published.PublishedStatus.ACTIVE)
    assert len(runner.tick(storage, T0 + timedelta(weeks=1, minutes=1))) == 1


def test_schedule_requests_are_checked(storage: Storage) -> None:
    pipeline = publish(storage)
    base = {"name": "s", "pipeline_id": pipeline["id"], "experiment_name": "e"}
    with pytest.raises(NotFound, match="nosuch"):
        schedule_records.create_schedule(storage, {**base, "pipeline_id": "nosuch", "recurrence": {}})
    with pytest.raises(InvalidInput, match="either a recurrence or a datastore"):
        schedule_records.create_schedule(storage, base)
    with pytest.raises(InvalidInput, match="interval"):
        schedule_records.create_schedule(storage, {**base, "recurrence": {"frequency": "Week", "interval": -1}})
    with pytest.raises(InvalidInput, match="unknown pipeline parameters"):
        schedule_records.create_schedule(
            storage, {**base, "recurrence": {"frequency": "Day", "interval": 1}, "pipeline_parameters": {"x": 1}}
        )
    with pytest.raises(NotFound, match="datastore"):
        schedule_records.create_schedule(storage, {**base, "datastore": "nosuch", "path_on_datastore": "in"})
    with pytest.raises(InvalidInput, match="polling_interval"):
        schedule_records.create_schedule(
            storage, {**base, "datastore": "workspaceblobstore", "path_on_datastore": "in", "polling_interval": 0}
        )


# -- published pipelines and parameters -------------------------------------------------------------------------------


def test_parameters_are_bound_per_run_and_checked(storage: Storage) -> None:
    other = put_inputs(storage, {f"g{i}.txt": "ok" for i in range(6)})
    pipeline = publish(
        storage,
        batch_size={"kind": "value", "default": "2"},
        input_data={
            "kind": "dataset",
            "default": {"dataset": None, "paths": [{"datastore": "workspaceblobstore", "path": f"{other}/*.txt"}]},
        },
    )
    run = published.start(storage, pipeline["id"], "Batch_Prediction", {"batch_size": "3"})
    assert step_of(storage, run)["step"]["config"]["mini_batch_size"] == 3 and run["parameters"]["batch_size"] == "3"
    finished = drain(storage, run["id"])
    assert finished["status"] == "Finished" and finished["plan"]["total_batches"] == 2  # 6 files, 3 per mini-batch
    assert len(output_lines(storage, finished)) == 6
    folder = put_inputs(storage, {"h.txt": "ok"})
    path = {"datastore": "workspaceblobstore", "path": f"{folder}/h.txt"}
    run = published.start(storage, pipeline["id"], "Batch_Prediction", {"input_data": path})
    assert step_of(storage, run)["step"]["input"]["paths"] == [path]
    with pytest.raises(InvalidInput, match=r"unknown pipeline parameters \['nope'\]"):
        published.start(storage, pipeline["id"], "Batch_Prediction", {"nope": 1})
    with pytest.raises(InvalidInput, match=r"batch_size.*mini_batch_size.*int"):
        published.start(storage, pipeline["id"], "Batch_Prediction", {"batch_size": "five"})
    with pytest.raises(InvalidInput, match="ExperimentName"):
        published.start(storage, pipeline["id"], None)
    published.set_status(storage, pipeline["id"], published.PublishedStatus.DISABLED)
    with pytest.raises(Conflict, match="Disabled"):
        published.start(storage, pipeline["id"], "Batch_Prediction")


def test_publishing_again_keeps_both_versions(storage: Storage) -> None:
    first, second = publish(storage), publish(storage)
    listed = {p["id"]: p for p in published.list_published(storage) if p["name"] == "scoring"}
    assert {first["id"], second["id"]} <= set(listed)
    with pytest.raises(InvalidInput, match="not declared"):
        published.publish(
            storage,
            {
                **definition(storage, "x"),
                "steps": [{**definition(storage, "x")["steps"][0], "arguments": [{"$parameter": "ghost"}]}],
            },
            "p",
        )


# -- schedules on data ------------------------------------------------------------------------------------------------


def test_data_schedule_fires_once_per_change_and_not_without_one(storage: Storage) -> None:
    pipeline = publish(
        storage,
        input_data={
            "kind": "dataset",
            "default": {"dataset": None, "paths": [{"datastore": "workspaceblobstore", "path": "unused/*.txt"}]},
        },
    )
    folder = put_inputs(storage, {"already-there.txt": "ok"})  # present before the schedule: not a change
    document = {
        "name": "On new data",
        "pipeline_id": pipeline["id"],
        "experiment_name": "Batch_Prediction",
        "datastore": "workspaceblobstore",
        "path_on_datastore": folder,
        "polling_interval": 5,
        "data_path_parameter_name": "input_data",
    }
    created = datetime.now(UTC)
    schedule = schedule_records.create_schedule(storage, document, now=created)
    at = created + timedelta(minutes=5, seconds=1)
    assert runner.tick(storage, at) == []  # nothing new
    container = storage.container(layout.DEFAULT_DATASTORE_CONTAINER)
    for i in range(5):  # a burst of uploads between two polls
        container.upload_blob(f"{folder}/new-{i}.txt", b"ok", overwrite=True)
    assert runner.tick(storage, at + timedelta(minutes=1)) == []  # the polling interval has not passed
    at += timedelta(minutes=5, seconds=1)
    at_once(lambda: runner.tick(storage, at))
    started = runs_of(storage, schedule["id"])
    assert len(started) == 1
    dropped = {"datastore": "workspaceblobstore", "path": folder}
    assert step_of(storage, started[0])["step"]["input"]["paths"] == [dropped]
    assert drain(storage, started[0]["id"])["plan"]["total_items"] == 6  # the run covers what was dropped
    at += timedelta(minutes=5, seconds=1)
    assert runner.tick(storage, at) == []  # no change, no run
    container.upload_blob(f"{folder}/new-2.txt", b"changed", overwrite=True)
    at += timedelta(minutes=5, seconds=1)
    assert len(runner.tick(storage, at)) == 1
    container.delete_blob(f"{folder}/new-3.txt")  # a deletion is not a change that runs the pipeline
    at += timedelta(minutes=5, seconds=1)
    assert runner.tick(storage, at) == []
    assert len(runs_of(storage, schedule["id"])) == 2
