"""The batch domain (`shared/pipelines`) against a real Azurite of its own, driven in-process: the same functions the
queue triggers call, fed from the real queues, so the tests choose exactly when a message is duplicated, dropped or
left half done. The error meaning, thresholds, retries, timeouts, summary_only, reuse and exactly-once are here; the
whole flow through a real host is in test_batch_host.py and test_seed_batch.py."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from fninfer._snapshot import snapshot
from fninfer._workspace import Workspace
from fninfer_host.azurite import Azurite, start_azurite
from shared.core import clock, layout
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import RequestCounter, Storage
from shared.pipelines.batch import fanin, minibatch, minibatch_logs, planning
from shared.pipelines.engine import dag, submit
from shared.registry import datastores
from shared.runs import lanes, run_records, work_leases
from tests.batching import (
    HANDLERS,
    ROOT,
    definition,
    drain,
    launch,
    names,
    output_lines,
    put_inputs,
    receive,
    start,
    step_of,
    sweep_step,
)
from tests.hosting import at_once, eventually


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[Azurite]:
    """An Azurite for this module alone: no host listens to its queues, so the tests deliver every message."""
    server = start_azurite(ROOT)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_storage(own_azurite: Azurite) -> Storage:
    return Storage.from_connection_string(own_azurite.connection_string)


@pytest.fixture
def storage(own_storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Storage:
    monkeypatch.setenv("FNINFER_SNAPSHOT_CACHE", str(tmp_path / "snapshots"))
    monkeypatch.setenv("MARKER_DIR", str(tmp_path))  # restored after the test; entry scripts set it process-wide
    for queue in HANDLERS:
        own_storage.queue(queue).clear_messages()
    return own_storage


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the app's clock `seconds` further on, as the sweeper would see it then (leases expire without a sleep)."""
    real_time = clock.time
    monkeypatch.setattr(clock, "time", lambda: real_time() + seconds)


def result_of(storage: Storage, run_id: str, index: int) -> dict[str, Any]:
    """Mini-batch `index`'s result as its log shows it (all but the rows)."""
    [entry] = minibatch_logs.mini_batch_logs(storage, run_id, index, 1)["items"]
    return entry


def recorded(storage: Storage, run_id: str) -> list[int]:
    """The mini-batches whose results the run's lanes have written."""
    return sorted(
        result["index"]
        for state in lanes.survey(storage, run_id).values()
        for start, _ in state.chunks
        for result in lanes.read_chunk(storage, run_id, state.lane, start)
    )


# -- the flow ---------------------------------------------------------------------------------------------------------


def test_rows_once_each_in_input_order_with_arguments(storage: Storage) -> None:
    run_id = start(storage, names(9))
    run = drain(storage, run_id)
    assert run["status"] == "Finished"
    assert run["plan"]["total_batches"] == 5 and run["plan"]["cap"] == 2
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(9)]
    assert run["counts"] == {"batches_done": 5, "batches_failed": 0, "items_failed": 0}
    assert run["step"]["output"]["prefix"] == f"azureml/{run['step']['id']}/inferences/"


def test_in_flight_never_exceeds_the_cap(storage: Storage) -> None:
    run_id = start(storage, names(12), node_count=1, process_count_per_node=3)
    planning.plan(storage, run_id, "planner")
    assert sorted(b["index"] for b in receive(storage, layout.MINIBATCH_QUEUE)) == [0, 1, 2]
    assert sorted(lanes.survey(storage, run_id)) == [0, 1, 2]  # three lanes, each queued, none held
    assert all(state.owner is None for state in lanes.survey(storage, run_id).values())
    minibatch.process(storage, run_id, 1, "worker", lane_seconds=0)  # done: the next of its lane goes on the queue
    assert [b["index"] for b in receive(storage, layout.MINIBATCH_QUEUE)] == [4]
    minibatch.process(storage, run_id, 0, "worker")  # within lane_seconds the invocation goes on with its lane itself
    assert receive(storage, layout.MINIBATCH_QUEUE) == []
    assert recorded(storage, run_id) == [0, 1, 3]  # lane 0 of 6 mini-batches: 0 and 3
    assert lanes.survey(storage, run_id)[0].end == 2


def test_an_instance_runs_at_most_process_count_per_node_lanes(storage: Storage) -> None:
    contents = {**names(4), "f000.txt": "sleep 2"}
    run_id = start(storage, contents, node_count=2, process_count_per_node=1)
    planning.plan(storage, receive(storage, layout.PLANNING_QUEUE)[0]["run"], "planner")
    assert sorted(b["index"] for b in receive(storage, layout.MINIBATCH_QUEUE)) == [0, 1]
    busy = threading.Thread(target=minibatch.process, args=(storage, run_id, 0, "lane-0"))
    busy.start()
    # lane 0 is held and its run() is running ("sleep 2"): this process has no slot left for lane 1
    eventually(lambda: lanes.survey(storage, run_id)[0].owner)
    minibatch.process(storage, run_id, 1, "lane-1")
    lane = lanes.survey(storage, run_id)[1]
    assert lane.owner is None and lane.end == 0  # handed back untouched, for another instance
    assert receive(storage, layout.MINIBATCH_QUEUE) == []  # not visible at once...
    busy.join()
    assert eventually(lambda: receive(storage, layout.MINIBATCH_QUEUE)) == [{"run": run_id, "index": 1}]  # ...but soon


def test_duplicated_messages_do_not_double_rows(storage: Storage) -> None:
    run_id = start(storage, names(7))
    for body in receive(storage, layout.PLANNING_QUEUE) * 2:
        planning.plan(storage, body["run"], uuid.uuid4().hex)
    for _ in range(50):
        batch = receive(storage, layout.MINIBATCH_QUEUE)
        for body in batch * 2:  # every message delivered twice, the copies by different owners
            minibatch.process(storage, body["run"], body["index"], uuid.uuid4().hex)
        for body in receive(storage, layout.FANIN_QUEUE) * 3:
            fanin.finalize(storage, body["run"], uuid.uuid4().hex)
        if run_records.get_run(storage, run_id)["status"] == "Finished":
            break
    run = run_records.get_run(storage, run_id)
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(7)]
    # a stale message long after the run finished changes nothing
    minibatch.process(storage, run_id, 0, "late")
    fanin.finalize(storage, run_id, "late")
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(7)]


def test_a_dead_owner_is_swept_and_its_mini_batch_done_once(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(work_leases.LEASE_SETTING, "1")
    monkeypatch.setattr(work_leases, "QUEUED_LEASES", 2)  # a queued, never-claimed message is taken for lost after 2 s
    run_id = start(storage, names(4))
    drain_one = receive(storage, layout.PLANNING_QUEUE)
    planning.plan(storage, drain_one[0]["run"], "planner")
    lost = receive(storage, layout.MINIBATCH_QUEUE)  # taken by an instance that dies: never processed, never deleted
    assert len(lost) == 2
    assert isinstance(lanes.claim(storage, run_records.get_run(storage, run_id), 0, "dead-instance"), lanes.Lane)
    assert sweep_step(storage, run_id) == 0  # leases still valid
    # The dead owner's lease expires after 1 s, the never-claimed message is taken for lost after 2 s: each once.
    later(monkeypatch, 2.5)
    assert sweep_step(storage, run_id) == 2
    assert sweep_step(storage, run_id) == 0  # once per expiry
    run = drain(storage, run_id)
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(4)]


def test_fan_in_resumes_after_a_crash_without_doubling(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanin, "WINDOW", 2)  # a cursor move every two mini-batches
    monkeypatch.setenv(work_leases.LEASE_SETTING, "1")
    original = fanin.append_at
    appended: list[int] = []

    def crash_after_third_append(blob: Any, data: bytes, offset: int) -> int:
        end = original(blob, data, offset)
        appended.append(end)
        if len(appended) == 3:
            raise SystemExit("instance killed after its append landed, before the cursor moved")
        return end

    monkeypatch.setattr(fanin, "append_at", crash_after_third_append)
    run_id = start(storage, names(10))
    with pytest.raises(SystemExit):  # the last mini-batch goes on to the fan-in, and dies in it
        drain(storage, run_id)
    monkeypatch.setattr(fanin, "append_at", original)
    lease, _ = storage.read_json(layout.RUNS_CONTAINER, layout.work_lease(run_id, "fanin"))
    assert lease["cursor"]["next"] == 4  # two windows recorded; the third landed but was not
    assert run_records.get_run(storage, run_id)["status"] == "Running"
    # the fan-in, once its lease expires (the lane running it had recorded all its mini-batches)
    later(monkeypatch, 1.5)
    assert sweep_step(storage, run_id) == 1
    run = drain(storage, run_id)
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(10)]


def test_bookkeeping_costs_less_than_one_storage_request_per_mini_batch(storage: Storage, own_azurite: Azurite) -> None:
    """Storage requests of a run from planning to Finished, besides downloading its input files: less than one per
    mini-batch over the whole run (planning, lanes, fan-in, status), and next to none for each further mini-batch
    (lanes write their results a chunk at a time; see lanes.py). A count, not a timing."""
    counted = Storage.from_connection_string(own_azurite.connection_string, counter=RequestCounter())
    assert counted.requests is not None
    spent: dict[int, int] = {}
    for files in (100, 1000):  # 10 and 100 mini-batches of 10 files
        run_id = start(counted, names(files), mini_batch_size=10, node_count=1, process_count_per_node=2)
        before = counted.requests.counts()
        minibatch.plan_and_start(counted, run_id, "planner")  # the planning function: it runs both lanes itself
        assert run_records.get_run(storage, run_id)["status"] == "Finished"
        counts = counted.requests.counts() - before
        downloads = counts.pop(f"GET {layout.DEFAULT_DATASTORE_CONTAINER}")
        assert downloads == files
        spent[files] = sum(counts.values())
    assert spent[1000] / 100 <= 1.0, spent
    assert (spent[1000] - spent[100]) / 90 <= 0.5, spent


def test_the_planner_runs_the_lanes_itself_only_when_it_has_a_slot_for_each(storage: Storage) -> None:
    """A lane the planning function ran itself would not count against its instance's queue listener, which would
    then take lane messages it has no slot for while other instances idle: with more lanes than the planner's
    slots, every lane goes on the queue; with as many, the planner runs them all and queues none."""
    spread = start(storage, names(40), mini_batch_size=10, node_count=2, process_count_per_node=2)
    minibatch.plan_and_start(storage, spread, "planner")
    assert run_records.get_run(storage, spread)["status"] == "Running"
    assert sorted(body["index"] for body in receive(storage, layout.MINIBATCH_QUEUE)) == [0, 1, 2, 3]
    assert all(state.owner is None for state in lanes.survey(storage, spread).values())

    fits = start(storage, names(40), mini_batch_size=10, node_count=1, process_count_per_node=2)
    minibatch.plan_and_start(storage, fits, "planner")
    assert run_records.get_run(storage, fits)["status"] == "Finished"
    assert receive(storage, layout.MINIBATCH_QUEUE) == []


def test_a_submit_costs_a_fixed_few_requests_until_its_step_is_on_the_planning_queue(
    storage: Storage, own_azurite: Azurite
) -> None:
    """Requests from a submit to its ParallelRunStep's planning message, one after another in the submitting call
    (each a round trip of 10-20 ms on Azure): the snapshot check, the run and step records, the run's index entry
    (run_index.py), the watch and plan leases and messages, the run's Running transition, the answer. Datastores are
    read by name, one request each (not a listing of them all), however many are registered. Counted on a second
    submit: the first one also creates containers and queues. A count, not a timing."""
    counted = Storage.from_connection_string(own_azurite.connection_string, counter=RequestCounter())
    assert counted.requests is not None
    for number in range(5):
        datastores.register_blob_container(counted, f"other{number}", {"container_name": f"other-{number}"})
    pipeline = definition(counted, put_inputs(counted, names(4)))
    pipeline["steps"][0]["output"]["datastore"] = "other3"
    submit.start_run(counted, "tests", pipeline)
    before = counted.requests.counts()
    submit.start_run(counted, "tests", pipeline)
    counts = counted.requests.counts() - before
    assert sum(counts.values()) <= 17, counts
    assert counts["GET fninfer-registry"] <= 6, counts  # 2 datastore reads (submit's check, the output's place)
    assert counts["POST fninfer-pipeline-plans"] == 1, counts
    before = counted.requests.counts()
    assert datastores.find_datastore(counted, "other4")["container_name"] == "other-4"
    assert datastores.find_datastore(counted, layout.DEFAULT_DATASTORE_NAME)["container_name"] == (
        layout.DEFAULT_DATASTORE_CONTAINER
    )
    assert counted.requests.counts() - before == {"GET fninfer-registry": 1}  # the built-in one is not read
    with pytest.raises(NotFound, match=r"'missing' does not exist; datastores: .*'other0'"):
        datastores.find_datastore(counted, "missing")


def test_advances_at_the_same_moment_start_the_step_once(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Instances advancing a new run at the same moment (its submitter, its watch, a step that ended): the step run
    is recorded once and its planning is in flight once, however the creates interleave; the rows come out once."""
    advance = dag.advance
    monkeypatch.setattr(dag, "advance", lambda storage, run_id: None)  # the submit records the run, nothing more
    pipeline_run = submit.start_run(storage, "tests", definition(storage, put_inputs(storage, names(6))))
    monkeypatch.setattr(dag, "advance", advance)
    (state,) = pipeline_run["steps"].values()
    at_once(lambda: advance(storage, pipeline_run["id"]), count=4)
    assert run_records.get_run(storage, pipeline_run["id"])["status"] == "Running"
    assert run_records.get_run(storage, state["id"])["status"] == "NotStarted"
    assert storage.try_read_json(layout.RUNS_CONTAINER, layout.work_lease(state["id"], planning.PLAN_ITEM))[0]
    planned = receive(storage, layout.PLANNING_QUEUE)
    assert 1 <= len(planned) <= 4 and {body["run"] for body in planned} == {state["id"]}
    for body in planned:  # duplicates are delivered too: at least once
        HANDLERS[layout.PLANNING_QUEUE](storage, body)
    run = drain(storage, state["id"])
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(6)]


def test_a_step_recorded_by_an_advance_that_died_before_dispatching_it_is_dispatched_by_the_next(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatch = work_leases.dispatch

    def killed(storage: Storage, run_id: str, item: str, *args: Any, **kwargs: Any) -> Any:
        if item == planning.PLAN_ITEM:
            raise SystemExit("instance killed between recording the step run and dispatching it")
        return dispatch(storage, run_id, item, *args, **kwargs)

    monkeypatch.setattr(work_leases, "dispatch", killed)
    experiment = f"died-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SystemExit):
        submit.start_run(storage, experiment, definition(storage, put_inputs(storage, names(4))))
    monkeypatch.setattr(work_leases, "dispatch", dispatch)
    assert receive(storage, layout.PLANNING_QUEUE) == []
    [pipeline_run] = run_records.list_runs(storage, experiment)
    dag.watch(storage, pipeline_run["id"])  # the run's watch, when it comes due
    [planned] = receive(storage, layout.PLANNING_QUEUE)
    HANDLERS[layout.PLANNING_QUEUE](storage, planned)
    run = drain(storage, planned["run"])
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(4)]


def test_a_lane_that_stops_before_the_fan_in_is_made_good_by_the_sweeper(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(work_leases.LEASE_SETTING, "1")
    original = minibatch._finish_if_complete

    def killed(storage: Storage, run: dict[str, Any], owner: str, lane: lanes.Lane | None) -> None:
        if fanin.run_complete(storage, run):
            raise SystemExit("instance killed after the run's last chunk, before the fan-in")
        original(storage, run, owner, lane)

    monkeypatch.setattr(minibatch, "_finish_if_complete", killed)
    run_id = start(storage, names(6))
    with pytest.raises(SystemExit):
        drain(storage, run_id)
    monkeypatch.setattr(minibatch, "_finish_if_complete", original)
    assert run_records.get_run(storage, run_id)["status"] == "Running"
    later(monkeypatch, 1.5)
    assert sweep_step(storage, run_id) == 1  # the fan-in nobody took, once the lanes' holds run out
    assert sweep_step(storage, run_id) == 0
    run = drain(storage, run_id)
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in range(6)]


# -- Azure ML's error meaning ----------------------------------------------------------------------------------------


def test_short_results_fail_items_within_the_threshold(storage: Storage) -> None:
    contents = {**names(6), "f001.txt": "skip", "f004.txt": "skip"}
    run = drain(storage, start(storage, contents, error_threshold=2))
    assert run["status"] == "Finished"
    assert run["counts"] == {"batches_done": 3, "batches_failed": 0, "items_failed": 2}
    assert output_lines(storage, run) == [f"f{i:03d}.txt: ok t1" for i in (0, 2, 3, 5)]


def test_error_threshold_passed_fails_the_run_and_skips_the_rest(storage: Storage) -> None:
    contents = {**names(20), "f000.txt": "skip", "f001.txt": "skip"}
    run = drain(storage, start(storage, contents, error_threshold=1, process_count_per_node=1))
    assert run["status"] == "Failed"
    assert "2 failed items is more than error_threshold=1" in run["error"]["message"]
    assert run["error"]["mini_batch"] == 0
    # lane of one: mini-batch 0 failed the run, so none of the other nine started
    assert recorded(storage, run["id"]) == [0]


def test_raising_is_retried_then_all_items_fail(storage: Storage) -> None:
    contents = {**names(4), "f002.txt": "raise"}
    run = drain(storage, start(storage, contents, error_threshold=-1, run_max_try=2))
    assert run["status"] == "Finished"
    assert run["counts"] == {"batches_done": 2, "batches_failed": 1, "items_failed": 2}
    assert output_lines(storage, run) == ["f000.txt: ok t1", "f001.txt: ok t1"]
    failed = result_of(storage, run["id"], 1)
    assert failed["tries"] == 2 and len(failed["attempts"]) == 2
    assert failed["attempts"][-1]["error"] == "ValueError: cannot score f002.txt"
    assert "raise ValueError" in failed["attempts"][-1]["traceback"]
    assert "scoring 2 files" in failed["attempts"][0]["log"] and "a warning from run()" in failed["attempts"][0]["log"]


def test_a_result_that_is_not_a_list_is_a_failed_try(storage: Storage) -> None:
    run = drain(storage, start(storage, {"f000.txt": "number"}, run_max_try=2, error_threshold=-1))
    assert run["status"] == "Finished" and run["counts"]["batches_failed"] == 1
    failed = result_of(storage, run["id"], 0)
    assert failed["attempts"][-1]["error"] == "run() returned int; it must return a list or a DataFrame"


def test_a_flaky_mini_batch_succeeds_on_its_second_try(storage: Storage) -> None:
    contents = {**names(2), "f001.txt": "flaky"}
    run = drain(storage, start(storage, contents, run_max_try=3))
    assert run["status"] == "Finished" and run["counts"]["items_failed"] == 0
    assert output_lines(storage, run) == ["f000.txt: ok t1", "f001.txt: ok t1"]


def test_timeout_counts_as_a_failed_try(storage: Storage) -> None:
    contents = {**names(2), "f001.txt": "sleep 3"}
    run = drain(storage, start(storage, contents, run_invocation_timeout=1, run_max_try=1, allowed_failed_count=0))
    assert run["status"] == "Failed"
    assert "1 failed mini-batches is more than allowed_failed_count=0" in run["error"]["message"]
    assert run["error"]["error"] == "run() did not return within run_invocation_timeout=1 s"


def test_allowed_failed_percent(storage: Storage) -> None:
    contents = {**names(8), "f000.txt": "raise"}  # one of four mini-batches: 25%
    within = drain(storage, start(storage, contents, run_max_try=1, allowed_failed_percent=25))
    assert within["status"] == "Finished"
    past = drain(storage, start(storage, contents, run_max_try=1, allowed_failed_percent=20))
    assert past["status"] == "Failed" and "allowed_failed_percent=20" in past["error"]["message"]


def test_minus_one_ignores_every_failure(storage: Storage) -> None:
    run = drain(
        storage,
        start(storage, names(4, "raise"), run_max_try=1, error_threshold=-1, allowed_failed_count=-1),
    )
    assert run["status"] == "Finished"
    assert run["counts"] == {"batches_done": 2, "batches_failed": 2, "items_failed": 4}
    assert output_lines(storage, run) == []


def test_summary_only_keeps_counts_and_writes_no_rows(storage: Storage) -> None:
    contents = {**names(5), "f003.txt": "skip"}
    run = drain(storage, start(storage, contents, output_action="summary_only"))
    assert run["status"] == "Finished"
    assert run["counts"] == {"batches_done": 3, "batches_failed": 0, "items_failed": 1}
    output = run["step"]["output"]
    assert storage.list_names(output["container"], output["prefix"]) == []


def test_an_entry_script_that_cannot_load_fails_its_items(storage: Storage) -> None:
    folder = put_inputs(storage, names(2))
    pipeline = definition(storage, folder, allowed_failed_count=0)
    pipeline["steps"][0]["arguments"] = ["--no-such-option"]  # argparse in init() exits
    run = drain(storage, launch(storage, pipeline))
    assert run["status"] == "Failed"
    assert "failed to load: init() raised SystemExit: 2" in run["error"]["error"]


HELPED_SCRIPT = """
import os
import helper

def run(mini_batch):
    return [f"{os.path.basename(path)}: {helper.WHO}" for path in mini_batch]
"""


def test_two_steps_with_a_helper_module_of_the_same_name_each_import_their_own(
    storage: Storage, tmp_path: Path
) -> None:
    folder = put_inputs(storage, names(2))
    workspace = cast(Workspace, SimpleNamespace(storage=storage))
    lines = []
    for who in ("first", "second"):  # one after the other in this process, as two steps on one instance
        source = tmp_path / who
        source.mkdir()
        (source / "score.py").write_text(HELPED_SCRIPT)
        (source / "helper.py").write_text(f"WHO = {who!r}\n")
        pipeline = definition(storage, folder)
        pipeline["steps"][0].update(snapshot=snapshot(workspace, str(source), "score.py").manifest)
        pipeline["steps"][0].update(entry_script="score.py", arguments=[])
        run = drain(storage, launch(storage, pipeline))
        assert run["status"] == "Finished"
        lines.append(output_lines(storage, run))
    assert lines == [["f000.txt: first", "f001.txt: first"], ["f000.txt: second", "f001.txt: second"]]


# -- cancel, reuse, definitions ------------------------------------------------------------------------------------


def test_cancel_stops_dispatching_and_never_changes_again(storage: Storage) -> None:
    run_id = start(storage, names(10), process_count_per_node=1)
    planning.plan(storage, receive(storage, layout.PLANNING_QUEUE)[0]["run"], "planner")
    first = receive(storage, layout.MINIBATCH_QUEUE)
    minibatch.process(storage, run_id, first[0]["index"], "worker", lane_seconds=0)
    assert dag.cancel(storage, run_id)["status"] == "Canceled"
    run = drain(storage, run_id)
    assert run["status"] == "Canceled"
    assert recorded(storage, run_id) == [first[0]["index"]]
    assert not run_records.transition(storage, run_id, run_records.RunStatus.FINISHED)
    assert run_records.get_run(storage, run_id)["status"] == "Canceled"
    assert run_id not in run_records.active_run_ids(storage)


def test_allow_reuse_takes_the_earlier_output(storage: Storage) -> None:
    folder = put_inputs(storage, names(3))
    pipeline = definition(storage, folder, allow_reuse=True)
    first = drain(storage, launch(storage, pipeline))
    again_run = submit.start_run(storage, "tests", pipeline)
    again = step_of(storage, again_run)
    assert again_run["status"] == "Finished"
    assert again["status"] == "Finished" and again["step"]["reused_from"] == first["id"]
    assert again["step"]["output"] == first["step"]["output"]
    assert receive(storage, layout.PLANNING_QUEUE) == []  # nothing ran
    changed = definition(storage, folder, allow_reuse=True, arguments=["--tag", "t2"])
    assert step_of(storage, submit.start_run(storage, "tests", changed))["status"] == "NotStarted"
    without = definition(storage, folder, allow_reuse=False)
    assert step_of(storage, submit.start_run(storage, "tests", without))["status"] == "NotStarted"


def test_definitions_are_checked_naming_the_problem(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNINFER_ENVIRONMENT_CHECK", "strict")  # the default, warn, runs the step and logs it
    folder = put_inputs(storage, names(1))
    good = definition(storage, folder)
    cases: list[tuple[Callable[[dict[str, Any]], None], str]] = [
        (lambda s: s["config"].update(mini_batch_size=0), "mini_batch_size"),
        (lambda s: s["config"].update(output_action="write_files"), "output_action"),
        (lambda s: s["config"].update(no_such_setting=1), "no_such_setting"),
        (lambda s: s.update(entry_script="missing.py"), "missing.py"),
        (lambda s: s.update(environment={"name": "e", "requirements": ["no-such-package-xyz"]}), "no-such-package"),
        (lambda s: s["output"].update(datastore="nowhere"), "nowhere"),
    ]
    for mutate, named in cases:
        broken = json.loads(json.dumps(good))
        mutate(broken["steps"][0])
        with pytest.raises(Exception, match=named) as raised:
            submit.start_run(storage, "tests", broken)
        assert isinstance(raised.value, InvalidInput) or "nowhere" in named
    with pytest.raises(InvalidInput, match="step names must be unique"):
        submit.start_run(storage, "tests", {"steps": good["steps"] * 2})


def test_two_holders_of_a_lane_record_each_mini_batch_once(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder that stalled past its hold and the one that took the lane over both write the same positions: the
    first chunk stands, the other holder's results for those positions are dropped and it stops."""
    monkeypatch.setenv(work_leases.LEASE_SETTING, "1")
    run_id = start(storage, names(8), process_count_per_node=1)
    planning.plan(storage, receive(storage, layout.PLANNING_QUEUE)[0]["run"], "planner")
    run = run_records.get_run(storage, run_id)
    stalled = lanes.claim(storage, run, 0, "stalled")
    assert isinstance(stalled, lanes.Lane)
    assert lanes.claim(storage, run, 0, "successor") is None  # held...
    later(monkeypatch, 1.5)
    successor = lanes.claim(storage, run, 0, "successor")  # ...until the stalled hold runs out
    assert isinstance(successor, lanes.Lane) and successor.tries_used(0) == 1  # the stalled try counts
    assert lanes.claim(storage, run, 0, "third") is None  # the successor holds it now

    def result(index: int, tag: str) -> dict[str, Any]:
        attempt = {"error": None, "traceback": None, "log": ""}
        return {
            "index": index,
            "items": 2,
            "rows": [f"{tag} {index}"],
            "failed_items": 1,
            "batch_failed": False,
            "tries": 1,
            "attempts": [attempt],
        }

    successor.add(result(0, "successor"))
    successor.flush()
    stalled.add(result(0, "stalled"))
    stalled.add(result(1, "stalled"))
    with pytest.raises(lanes.LaneLost):
        stalled.flush()  # position 0 is recorded already; the lane is not the stalled holder's any more
    successor.add(result(1, "successor"))
    successor.flush()
    state = lanes.survey(storage, run_id)[0]
    assert state.chunks == [(0, 1), (1, 2)]
    assert [r["rows"] for s, _ in state.chunks for r in lanes.read_chunk(storage, run_id, 0, s)] == [
        ["successor 0"],
        ["successor 1"],
    ]
    assert lanes.counts(storage, run_id) == lanes.Counts(batches_done=2, batches_failed=0, items_failed=2)


# -- tabular inputs ------------------------------------------------------------------------------------------------


def start_tabular(storage: Storage, csv_text: str, **config: Any) -> str:
    """A run of tabular_behaviours.py over one CSV (id, pause), cut into mini-batches of `mini_batch_size` bytes."""
    folder = put_inputs(storage, {"rows.csv": csv_text})
    step = definition(storage, folder, **config)["steps"][0]
    step["entry_script"] = "tabular_behaviours.py"
    step["input"] = {
        "name": "rows",
        "dataset": None,
        "kind": "tabular",
        "paths": [{"datastore": "workspaceblobstore", "path": f"{folder}/rows.csv"}],
        "tabular": {"format": "delimited"},  # types inferred when the run is planned
    }
    return launch(storage, {"steps": [step]})


def rows_csv(count: int) -> str:
    return "id,pause\n" + "".join(f"{i},0\n" for i in range(count))


def test_tabular_rows_once_each_in_order_whatever_the_mini_batch_size(storage: Storage) -> None:
    text = rows_csv(40)
    for size in (7, 64, 1 << 20):  # smaller than a row, a few rows, the whole file
        run = drain(storage, start_tabular(storage, text, mini_batch_size=size, process_count_per_node=8))
        assert run["status"] == "Finished", (size, run["error"])
        assert output_lines(storage, run) == [f"{i} ok t1" for i in range(40)], size
        assert run["plan"]["total_batches"] == -(-len(text) // size)
        assert run["plan"]["shape"]["column_types"]["id"]["type"] == "int"
        assert run["counts"]["items_failed"] == 0


def test_tabular_duplicated_messages_do_not_double_rows(storage: Storage) -> None:
    run_id = start_tabular(storage, rows_csv(60), mini_batch_size=60, process_count_per_node=4)
    for body in receive(storage, layout.PLANNING_QUEUE) * 2:
        planning.plan(storage, body["run"], uuid.uuid4().hex)
    for _ in range(100):
        for body in receive(storage, layout.MINIBATCH_QUEUE) * 2:  # every message twice, by different owners
            minibatch.process(storage, body["run"], body["index"], uuid.uuid4().hex, 0)
        for body in receive(storage, layout.FANIN_QUEUE) * 2:
            fanin.finalize(storage, body["run"], uuid.uuid4().hex)
        if run_records.get_run(storage, run_id)["status"] == "Finished":
            break
    run = run_records.get_run(storage, run_id)
    assert run["status"] == "Finished"
    assert output_lines(storage, run) == [f"{i} ok t1" for i in range(60)]


def test_a_tabular_slice_that_does_not_parse_fails_its_mini_batch_naming_the_line(storage: Storage) -> None:
    text = rows_csv(300).replace("\n250,0\n", "\n250,0,extra\n")  # past the 200 rows types are inferred from
    run_id = start_tabular(storage, text, mini_batch_size=400, error_threshold=-1, process_count_per_node=8)
    run = drain(storage, run_id)
    assert run["status"] == "Finished"
    failed = [
        entry for entry in minibatch_logs.mini_batch_logs(storage, run_id, 0, 100)["items"] if entry["batch_failed"]
    ]
    assert len(failed) == 1
    assert "rows.csv (the rows from byte" in failed[0]["attempts"][0]["error"]
    assert "does not parse: expected 2 fields, saw 3: '250,0,extra'" in failed[0]["attempts"][0]["error"]
    lines = output_lines(storage, run)
    assert "250 ok t1" not in lines and "0 ok t1" in lines and "299 ok t1" in lines  # only that slice's rows are lost
    assert run["counts"]["batches_failed"] == 1


def test_a_tabular_input_whose_first_rows_do_not_parse_fails_the_run_naming_them(storage: Storage) -> None:
    run = drain(storage, start_tabular(storage, "id,pause\n1,0\n2,0,oops\n"))
    assert run["status"] == "Failed"
    assert "cannot plan the run" in run["error"]["message"] and "line 3 does not parse" in run["error"]["message"]


@pytest.mark.parametrize(
    ("contents", "config", "status"),
    [
        (names(4), {}, "Finished"),  # the fan-in's finish
        ({**names(4), "f000.txt": "skip", "f001.txt": "skip"}, {"error_threshold": 1}, "Failed"),  # a lane's
        ({}, {}, "Failed"),  # planning's: the input matches no files
    ],
    ids=["fan-in", "threshold", "planning"],
)
def test_the_work_that_ends_a_step_ends_its_pipeline_run_at_once(
    storage: Storage, contents: dict[str, str], config: dict[str, Any], status: str
) -> None:
    """Whichever work ends the step run advances its pipeline run there and then, not its watch WATCH_SECONDS
    later (drain never delivers a watch: it comes due after 30 s)."""
    run = drain(storage, start(storage, contents, **config))
    assert run["status"] == status
    assert run_records.get_run(storage, run["parent"])["status"] == status


def test_a_finished_runs_script_thread_ends_with_the_run(storage: Storage) -> None:
    """The thread that calls run() goes when the run is over: left waiting, it would keep the script and its last
    mini-batch and result in memory for as long as the host lives, one per run."""
    run = drain(storage, start(storage, names(4)))
    assert run["status"] == "Finished"
    eventually(lambda: not any(thread.name == f"run-{run['id']}" for thread in threading.enumerate()), timeout=10)
