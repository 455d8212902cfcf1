"""Batch pipelines through the SDK and a real local host: an instance killed mid-run with duplicated messages,
cancel, failure output, logs, shutdown()."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fninfer.core import Dataset, Experiment, Workspace
from fninfer.pipeline.core import ActivityFailedException
from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.errors import InvalidInput, NotFound
from shared.runs import lanes
from tests.batching import output_rows, pipeline_for, tabular_pipeline_for
from tests.hosting import RunningHost, run_host

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "fixtures" / "batch"


def wait_until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def minibatch_invocations_running(host: RunningHost) -> bool:
    logs = host.logs()
    return logs.count("Executing 'Functions.process_minibatch'") > logs.count("Executed 'Functions.process_minibatch'")


# -- on the session's host (one instance) -----------------------------------------------------------------------------


def test_failure_prints_the_failing_mini_batch_and_raises(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contents = {"a.txt": "ok", "b.txt": "ok", "c.txt": "raise", "d.txt": "ok"}
    pipeline = pipeline_for(ws, tmp_path, contents, run_max_try=2, allowed_failed_count=0)
    run = Experiment(ws, "batch-tests").submit(pipeline)
    assert run.wait_for_completion(show_output=True, raise_on_error=False) == "Failed"
    printed = capsys.readouterr().out
    assert "1 failed mini-batches is more than allowed_failed_count=0" in printed
    assert "mini-batch 1: ValueError: cannot score c.txt" in printed
    assert "Traceback (most recent call last)" in printed and "behaviours.py" in printed
    with pytest.raises(ActivityFailedException, match=r"cannot score c\.txt"):
        run.wait_for_completion(show_output=False)
    logs = {entry["index"]: entry for entry in next(run.get_children()).get_logs()}
    assert logs[1]["tries"] == 2 and "scoring 2 files" in logs[1]["attempts"][0]["log"]
    assert run.get_details()["error"]["mini_batch"] == 1


def test_shutdown_runs_and_progress_is_printed(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    contents = {f"{i:02d}.txt": "ok" for i in range(6)}
    pipeline = pipeline_for(ws, tmp_path, contents, environment_variables={"MARKER_DIR": str(markers)})
    run = Experiment(ws, "batch-tests").submit(pipeline)
    assert run.wait_for_completion(show_output=True) == "Finished"
    assert "Finished: 3/3 mini-batches, 0 of 6 items failed" in capsys.readouterr().out
    assert output_rows(run, tmp_path) == [f"{i:02d}.txt: ok host" for i in range(6)]
    kinds = sorted(path.name.split("-")[0] for path in markers.iterdir())
    assert kinds == ["init", "shutdown"]  # one worker process: init once, shutdown once at the end


def test_cancel_skips_the_rest(ws: Workspace, app_host: RunningHost, tmp_path: Path) -> None:
    contents = {f"{i:02d}.txt": "sleep 0.5" for i in range(20)}
    run = Experiment(ws, "batch-tests").submit(pipeline_for(ws, tmp_path, contents, process_count_per_node=1))
    wait_until(lambda: (run.get_details()["properties"].get("batches_done") or 0) >= 1)
    run.cancel()
    assert run.wait_for_completion(show_output=False) == "Canceled"
    # The mini-batch in flight at cancel time finishes (its invocation ends: the session's host runs nothing else
    # now); nothing after it starts.
    wait_until(lambda: not minibatch_invocations_running(app_host))
    done = run.get_details()["properties"]["batches_done"]
    assert run.get_status() == "Canceled" and done < 10
    assert next(run.get_children()).get_logs()[-1]["index"] <= done


def test_bad_requests_are_named(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no-such-run"):
        ws.client.request("GET", "pipelines/runs/no-such-run")
    with pytest.raises(InvalidInput, match="at least one step"):
        ws.client.request("POST", "pipelines/runs", json={"experiment": "e", "pipeline": {"steps": []}})
    with pytest.raises(InvalidInput, match="experiment name"):
        ws.client.request("POST", "pipelines/runs", json={"experiment": "../x", "pipeline": {"steps": []}})
    with pytest.raises(NotFound):
        ws.client.request("POST", "pipelines/runs/no-such-run/cancel")
    assert ws.client.request("GET", "pipelines/runs", params={"experiment": "no-runs-here"}) == []


def test_summary_only_writes_to_entry_script_output_dir(ws: Workspace, tmp_path: Path) -> None:
    contents = {f"{i}.txt": "ok" for i in range(3)}
    pipeline = pipeline_for(ws, tmp_path, contents, output_action="summary_only")
    pipeline.steps[0].parallel_run_config.entry_script = "summary_writer.py"
    run = Experiment(ws, "batch-tests").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = next(run.get_children())
    names = step.get_file_names()
    assert [n for n in names if n.startswith("inferences/")] == [f"inferences/{i}.txt.out" for i in range(3)]
    local = step.download_file("inferences/1.txt.out", output_file_path=str(tmp_path))
    assert Path(local).read_text().startswith("1.txt scored on ")
    logs = "".join(step.get_details_with_logs()["logFiles"].values())
    assert "INFO" in logs and "wrote 0.txt.out" in logs


def test_pipeline_validate_and_submit(ws: Workspace, tmp_path: Path) -> None:
    pipeline = pipeline_for(ws, tmp_path, {"a.txt": "ok", "b.txt": "ok"})
    assert pipeline.validate() == []
    run = pipeline.submit("batch-tests")
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert output_rows(run, tmp_path) == ["a.txt: ok host", "b.txt: ok host"]
    broken = pipeline_for(ws, tmp_path, {"a.txt": "ok"}, error_threshold=-5)
    assert broken.validate() == ["step 'score': error_threshold must be an integer of at least -1, not -5"]


def test_a_step_cannot_ask_for_more_nodes_than_its_compute_allows(ws: Workspace, tmp_path: Path, unique: str) -> None:
    from fninfer.core.compute import AmlCompute, ComputeTarget

    name = f"small-{unique}"
    ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2))
    pipeline = pipeline_for(ws, tmp_path, {"a.txt": "ok"}, node_count=3)
    pipeline.steps[0].parallel_run_config.compute_target = name  # by name: the SDK cannot check it, the app does
    with pytest.raises(InvalidInput, match="node_count '3' is not between 1 and max_nodes 2"):
        Experiment(ws, "batch-tests").submit(pipeline)


# -- on a host of its own: two instances, the app's own lease and sweep settings, one killed ------------------------


@pytest.fixture
def two_instances(lone_azurite: Azurite, tmp_path: Path) -> Iterator[RunningHost]:
    # no lease or singleton overrides: recovery is measured with what the app ships (10 s leases, a 5 s sweep, the
    # sweeper's singleton lock taken over within host.json's 15 s listenerLockPeriod)
    env = {"FNINFER_MODEL_CACHE": str(tmp_path / "models"), "FNINFER_SNAPSHOT_CACHE": str(tmp_path / "snapshots")}
    with run_host(ROOT, tmp_path / "host", storage=lone_azurite.connection_string, instances=2, env=env) as host:
        yield host


@pytest.mark.slow  # kills instances: `make test` and CI run it, the inner loop does not
@pytest.mark.parametrize("kind", ["files", "tabular"])
def test_killed_instance_and_duplicates_leave_each_row_once(
    two_instances: RunningHost, tmp_path: Path, kind: str
) -> None:
    ws = Workspace.from_config(two_instances.config_path)
    if kind == "files":
        pipeline = pipeline_for(ws, tmp_path, {f"{i:02d}.txt": "sleep 0.5" for i in range(60)}, node_count=2)
        expected = [f"{i:02d}.txt: ok host" for i in range(60)]
    else:  # 600 rows of ~10 bytes in mini-batches of 100 bytes: ~60 mini-batches cut at row boundaries
        pipeline = tabular_pipeline_for(ws, tmp_path, rows=600, pause=0.05, mini_batch_size="100", node_count=2)
        expected = [f"{i} ok host" for i in range(600)]
    run = Experiment(ws, "batch-kill").submit(pipeline)
    storage = ws.storage
    wait_until(lambda: run.get_status() == "Running")
    step_id = next(run.get_children()).id  # the ParallelRunStep's run: what its mini-batches belong to
    # every message of the first window delivered twice
    for index in range(4):
        body = json.dumps({"run": step_id, "index": index}).encode()
        storage.queue(layout.MINIBATCH_QUEUE).send_message(base64.b64encode(body).decode())
    instances = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    pids = {int(entry["pid"]) for entry in instances}

    def owned() -> dict[int, int]:
        """Lanes in flight, by the pid of the instance that holds them."""
        states = lanes.survey(storage, step_id)
        return {lane: int(state.owner.split(":")[1]) for lane, state in states.items() if state.owner}

    wait_until(lambda: (run.get_details()["properties"].get("batches_done") or 0) >= 2 and set(owned().values()) & pids)
    plan = ws.client.request("GET", f"pipelines/runs/{step_id}")["plan"]
    victim = next(iter(set(owned().values()) & pids))
    held = [lane for lane, pid in owned().items() if pid == victim]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    def resumed() -> bool:
        """Every lane the victim held is complete, or held by a live instance."""
        states, now = lanes.survey(storage, step_id), owned()
        for lane in held:
            complete = states[lane].end >= lanes.positions(plan["total_batches"], plan["cap"], lane)
            if not complete and now.get(lane) in (None, victim):
                return False
        return True

    wait_until(resumed, timeout=120)
    recovery = time.monotonic() - killed_at
    print(f"\nrecovery ({kind}): the killed instance's {len(held)} lanes resumed after {recovery:.1f} s")
    # Without the sweeper they would wait for the queue's 10-minute visibility window; with the former 60 s lease,
    # at least 60 s. (The figure is printed for the record; it is not a speed claim.)
    assert recovery < 60
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished"
    assert output_rows(run, tmp_path) == expected


def test_a_script_that_exits_does_not_stop_the_instance(two_instances: RunningHost, tmp_path: Path) -> None:
    """sys.exit() in run() and argparse exiting in init() are failed tries with their reason in the logs; the host
    instances keep serving (the same pids finish a later run)."""
    ws = Workspace.from_config(two_instances.config_path)
    before = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    exiting = tabular_pipeline_for(ws, tmp_path, rows=5, pause=0, arguments=["--exit-in-init"], run_max_try=1)
    run = Experiment(ws, "batch-exit").submit(exiting)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Finished"  # error_threshold=-1
    logs = next(run.get_children()).get_details_with_logs()["logFiles"]
    text = "".join(logs.values())
    assert "SystemExit: 2" in text and "init() was told to exit" in text
    assert run.get_details()["properties"]["batches_failed"] == 1

    folder = tmp_path / "exit-in-run"
    folder.mkdir()
    (folder / "rows.csv").write_text("id,pause\n1,0\n-1,0\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path=f"exit-{tmp_path.name}", overwrite=True, show_progress=False)
    failing = tabular_pipeline_for(ws, tmp_path, rows=3, pause=0, run_max_try=2, allowed_failed_count=0)
    step = failing.steps[0]
    step.inputs = [
        Dataset.Tabular.from_delimited_files(path=(datastore, f"exit-{tmp_path.name}/rows.csv")).as_named_input("rows")
    ]
    run = Experiment(ws, "batch-exit").submit(failing)
    with pytest.raises(ActivityFailedException, match="SystemExit: 3") as caught:
        run.wait_for_completion(show_output=False)
    assert "exiting from run()" in caught.value.message  # what run() printed, with the failure
    assert next(run.get_children()).get_logs()[0]["tries"] == 2

    after = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    assert {e["pid"] for e in after} == {e["pid"] for e in before}  # no instance died or was replaced
    fine = tabular_pipeline_for(ws, tmp_path, rows=20, pause=0)
    run = Experiment(ws, "batch-exit").submit(fine)
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert output_rows(run, tmp_path) == [f"{i} ok host" for i in range(20)]
