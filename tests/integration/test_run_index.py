"""The run index (shared/runs/run_index.py): pipeline runs newest first a page at a time from one listing,
filtered, kept up to date by run_records' create and transitions; an experiment's runs listed without reading
every record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.storage import RequestCounter, Storage
from shared.runs import run_history, run_index, run_records
from shared.runs.run_records import RunStatus

START = datetime(2026, 3, 1, tzinfo=UTC)


def record(number: int, experiment: str = "exp", **fields: object) -> dict[str, object]:
    return {
        "id": f"run{number:04d}",
        "experiment": experiment,
        "tags": {},
        "created_time": (START + timedelta(seconds=number)).isoformat(),
        "start_time": None,
        "end_time": None,
        "status": RunStatus.NOT_STARTED.value,
        "error": None,
        **fields,
    }


def ids(page: run_index.RunPage) -> list[str]:
    return [summary.id for summary in page.runs]


def test_runs_come_newest_first_a_page_at_a_time_and_filtered(lone_azurite: Azurite) -> None:
    storage = Storage.from_connection_string(lone_azurite.connection_string)
    for number in range(30):
        tags = {"azureml.scheduleid": "s1"} if number % 10 == 0 else {}
        run_records.create_run(storage, record(number, "even" if number % 2 == 0 else "odd", tags=tags))
    # a step run is not a pipeline run: not indexed
    run_records.create_run(storage, record(99, parent="run0001", status=RunStatus.NOT_STARTED.value))
    for number in range(0, 30, 3):
        run_records.transition(storage, f"run{number:04d}", RunStatus.RUNNING)
        run_records.transition(storage, f"run{number:04d}", RunStatus.FAILED if number % 9 == 0 else RunStatus.FINISHED)

    first = run_index.page(storage, size=12)
    assert ids(first) == [f"run{n:04d}" for n in range(29, 17, -1)]
    second = run_index.page(storage, size=12, marker=first.next_marker)
    third = run_index.page(storage, size=12, marker=second.next_marker)
    assert ids(second) + ids(third) == [f"run{n:04d}" for n in range(17, -1, -1)]
    assert third.next_marker is None
    finished = run_index.page(storage, size=50, status="Finished")
    assert ids(finished) == [f"run{n:04d}" for n in (24, 21, 15, 12, 6, 3)]
    assert all(summary.end_time and summary.start_time for summary in finished.runs)
    assert ids(run_index.page(storage, size=50, status="Failed")) == ["run0027", "run0018", "run0009", "run0000"]
    assert len(ids(run_index.page(storage, size=50, experiment="odd"))) == 15
    assert ids(run_index.page(storage, size=50, source=("schedule", "s1"))) == ["run0020", "run0010", "run0000"]
    counts, since = run_index.latest_counts(storage, 5)  # runs 29..25
    assert counts == {"NotStarted": 4, "Failed": 1} and since == (START + timedelta(seconds=25)).isoformat()


def test_an_entry_behind_its_run_is_read_from_the_record_and_a_deleted_run_is_left_out(
    lone_azurite: Azurite,
) -> None:
    storage = Storage.from_connection_string(lone_azurite.connection_string)
    for number in (1, 2, 3):
        run_records.create_run(storage, record(number))
    # the record moves on without its entry (a transition whose index write was lost)
    path = layout.pipeline_run_record("run0001")
    storage.update_json(layout.REGISTRY_CONTAINER, path, lambda r: r.update(status="Finished"))
    assert [(s.id, s.status) for s in run_index.page(storage).runs][-1] == ("run0001", "Finished")
    # a run deleted since it was indexed is left out
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record("run0002"))
    assert ids(run_index.page(storage)) == ["run0003", "run0001"]


def test_an_experiments_runs_are_listed_without_reading_other_experiments_records(lone_azurite: Azurite) -> None:
    counter = RequestCounter()
    storage = Storage.from_connection_string(lone_azurite.connection_string, counter=counter)
    for number in range(40):
        run_records.create_run(storage, record(number, "other", status=RunStatus.FINISHED.value))
    run_records.create_run(storage, record(50, "mine", steps={"score": {"id": "run0051"}}))
    run_records.create_run(storage, record(51, "mine", parent="run0050"))
    run_records.create_run(storage, record(52, "mine"))

    before = counter.counts()
    assert [run["runId"] for run in run_history.list_runs(storage, "mine")] == ["run0052", "run0050"]
    reads = counter.counts() - before
    assert reads[f"GET {layout.REGISTRY_CONTAINER}"] <= 4, reads  # the two runs' records, none of the other 40
    with_steps = run_history.list_runs(storage, "mine", include_children=True)
    assert sorted(run["runId"] for run in with_steps) == ["run0050", "run0051", "run0052"]

    assert {"mine", "other"} <= {experiment["name"] for experiment in run_history.list_experiments(storage)}
    run_history.delete_experiment(storage, "other")
    assert "other" not in {experiment["name"] for experiment in run_history.list_experiments(storage)}
    assert len(run_index.page(storage, size=100).runs) == 2  # the deleted runs left the index too


def test_pipeline_runs_are_listed_from_the_index_without_reading_other_records(lone_azurite: Azurite) -> None:
    """GET /api/pipelines/runs (run_records.list_runs): an experiment's pipeline runs read their own records only,
    and without a filter every pipeline run is listed but no step run's record is read unless asked for."""
    counter = RequestCounter()
    storage = Storage.from_connection_string(lone_azurite.connection_string, counter=counter)
    for number in range(30):
        steps = {"score": {"id": f"run{100 + number:04d}"}}
        run_records.create_run(storage, record(number, "other", status=RunStatus.FINISHED.value, steps=steps))
        run_records.create_run(storage, record(100 + number, "other", parent=f"run{number:04d}"))
    run_records.create_run(storage, record(50, "mine", steps={"score": {"id": "run0051"}}))
    run_records.create_run(storage, record(51, "mine", parent="run0050"))
    run_records.create_run(storage, record(52, "mine"))

    before = counter.counts()
    assert [run["id"] for run in run_records.list_runs(storage, "mine")] == ["run0052", "run0050"]
    reads = counter.counts() - before
    assert reads[f"GET {layout.REGISTRY_CONTAINER}"] == 2, reads  # the two runs' records, none of the other 60
    with_steps = run_records.list_runs(storage, "mine", include_children=True)
    assert [run["id"] for run in with_steps] == ["run0052", "run0051", "run0050"]
    assert run_records.list_runs(storage, "nobody") == []

    before = counter.counts()
    everything = run_records.list_runs(storage)
    assert [run["id"] for run in everything] == ["run0052", "run0050"] + [f"run{n:04d}" for n in range(29, -1, -1)]
    reads = counter.counts() - before
    assert reads[f"GET {layout.REGISTRY_CONTAINER}"] == 32, reads  # no step run's record
    assert len(run_records.list_runs(storage, include_children=True)) == 63
