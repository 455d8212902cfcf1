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

from fninfer.core import Dataset, Environment, Experiment, Workspace
from fninfer.host.azurite import Azurite
from fninfer.pipeline.core import ActivityFailedException, Pipeline, PipelineData, PipelineRun
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep
from shared import layout
from shared.errors import InvalidInput, NotFound
from tests.hosting import RunningHost, run_host

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "fixtures" / "batch"


def pipeline_for(
    ws: Workspace, tmp_path: Path, contents: dict[str, str], name: str = "score", **config: Any
) -> Pipeline:
    """A one-step pipeline over files whose content tells tests/fixtures/batch/behaviours.py what to do."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    for file_name, text in contents.items():
        (folder / file_name).write_text(text)
    datastore = ws.get_default_datastore()
    target = f"inputs-{tmp_path.name}"
    datastore.upload(src_dir=str(folder), target_path=target, overwrite=True, show_progress=False)
    dataset = Dataset.File.from_files(path=(datastore, f"{target}/*.txt"))
    settings: dict[str, Any] = {
        "mini_batch_size": "2",
        "error_threshold": -1,
        "output_action": "append_row",
        "node_count": 1,
        "process_count_per_node": 2,
        **config,
    }
    run_config = ParallelRunConfig(
        source_directory=str(SCRIPTS),
        entry_script="behaviours.py",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        **settings,
    )
    step = ParallelRunStep(
        name=name,
        parallel_run_config=run_config,
        inputs=[dataset.as_named_input("data")],
        output=PipelineData("inferences", datastore=datastore),
        arguments=["--tag", "host"],
        allow_reuse=False,
    )
    return Pipeline(workspace=ws, steps=[step])


def output_rows(run: PipelineRun, tmp_path: Path) -> list[str]:
    local = next(run.get_children()).get_output_data("inferences").download(tmp_path / "out", show_progress=False)
    return (Path(local) / "parallel_run_step.txt").read_text().splitlines()


def wait_until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


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


def test_cancel_skips_the_rest(ws: Workspace, tmp_path: Path) -> None:
    contents = {f"{i:02d}.txt": "sleep 0.5" for i in range(20)}
    run = Experiment(ws, "batch-tests").submit(pipeline_for(ws, tmp_path, contents, process_count_per_node=1))
    wait_until(lambda: (run.get_details()["properties"].get("batches_done") or 0) >= 1)
    run.cancel()
    assert run.wait_for_completion(show_output=False) == "Canceled"
    time.sleep(2)  # the mini-batch in flight at cancel time finishes; nothing after it starts
    done = run.get_details()["properties"]["batches_done"]
    assert run.get_status() == "Canceled" and done < 10
    assert next(run.get_children()).get_logs()[-1]["index"] <= done


def test_bad_requests_are_named(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no-such-run"):
        ws.client.request("GET", "pipelines/runs/no-such-run")
    with pytest.raises(InvalidInput, match="exactly one ParallelRunStep"):
        ws.client.request("POST", "pipelines/runs", json={"experiment": "e", "pipeline": {"steps": []}})
    with pytest.raises(InvalidInput, match="experiment name"):
        ws.client.request("POST", "pipelines/runs", json={"experiment": "../x", "pipeline": {"steps": []}})
    with pytest.raises(NotFound):
        ws.client.request("POST", "pipelines/runs/no-such-run/cancel")
    assert ws.client.request("GET", "pipelines/runs", params={"experiment": "no-runs-here"}) == []


# -- on a host of its own: two instances, short leases, one killed ------------------------------------------------


@pytest.fixture
def two_instances(azurite: Azurite, tmp_path: Path) -> Iterator[RunningHost]:
    env = {
        "FNINFER_BATCH_LEASE_SECONDS": "3",
        "FNINFER_MODEL_CACHE": str(tmp_path / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(tmp_path / "snapshots"),
        # the sweeper is a timer: let the surviving instance take its singleton lock soon after the other dies
        "AzureFunctionsJobHost__singleton__listenerLockPeriod": "00:00:15",
        "AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval": "00:00:01",
    }
    with run_host(ROOT, tmp_path / "host", storage=azurite.connection_string, instances=2, env=env) as host:
        yield host


def test_killed_instance_and_duplicates_leave_each_row_once(two_instances: RunningHost, tmp_path: Path) -> None:
    ws = Workspace.from_config(two_instances.config_path)
    contents = {f"{i:02d}.txt": "sleep 0.3" for i in range(40)}
    run = Experiment(ws, "batch-kill").submit(pipeline_for(ws, tmp_path, contents, node_count=2))
    storage = ws.storage
    wait_until(lambda: run.get_status() == "Running")
    # every message of the first window delivered twice
    for index in range(4):
        body = json.dumps({"run": run.id, "index": index}).encode()
        storage.queue(layout.MINIBATCH_QUEUE).send_message(base64.b64encode(body).decode())
    instances = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    pids = {int(entry["pid"]) for entry in instances}

    def victim() -> int | None:
        for name in storage.list_names(layout.RUNS_CONTAINER, layout.leases_prefix(run.id)):
            lease, _ = storage.try_read_json(layout.RUNS_CONTAINER, name)
            if lease and lease["owner"] and "/mb-" in name:
                pid = int(lease["owner"].split(":")[1])
                if pid in pids:
                    return pid
        return None

    wait_until(lambda: (run.get_details()["properties"].get("batches_done") or 0) >= 2 and victim() is not None)
    os.kill(victim() or 0, signal.SIGKILL)
    # The killed instance's messages stay invisible for the host's 10-minute window: finishing well inside that means
    # the sweeper found the expired leases and queued their mini-batches again.
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    assert output_rows(run, tmp_path) == [f"{i:02d}.txt: ok host" for i in range(40)]
