"""The batch domain driven in-process, as the batch tests drive it: the same functions the queue triggers call, fed
from the real queues, so a test chooses exactly when a message is delivered, duplicated, dropped or left half done."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from fninfer._snapshot import snapshot
from fninfer._workspace import Workspace
from fninfer.core import Dataset, Environment
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineRun
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep
from shared.core import clock, layout
from shared.core.storage import Storage
from shared.pipelines.batch import fanin, minibatch, planning, sweeper
from shared.pipelines.engine import dag, submit
from shared.runs import run_records

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "fixtures" / "batch"


HANDLERS: dict[str, Callable[[Storage, dict[str, Any]], object]] = {
    layout.PLANNING_QUEUE: lambda s, m: planning.plan(s, m["run"], uuid.uuid4().hex),
    # one mini-batch per message, so the tests see every hand-off on the queue
    layout.MINIBATCH_QUEUE: lambda s, m: minibatch.process(s, m["run"], int(m["index"]), uuid.uuid4().hex, 0),
    layout.FANIN_QUEUE: lambda s, m: fanin.finalize(s, m["run"], uuid.uuid4().hex),
    layout.PIPELINE_STEPS_QUEUE: lambda s, m: dag.watch(s, m["run"]),
}


def receive(storage: Storage, queue: str) -> list[dict[str, Any]]:
    """Take every visible message off `queue` (deleting them) and return their bodies."""
    bodies = []
    for message in storage.receive(queue, visibility=60):
        bodies.append(json.loads(base64.b64decode(message.content)))
        storage.delete_message(queue, message)
    return bodies


def drain(storage: Storage, run_id: str, rounds: int = 500) -> dict[str, Any]:
    """Deliver messages until the run is over (or nothing is left to deliver); returns the run (for a one-step
    pipeline run, its step run: what the batch engine works on)."""
    for _ in range(rounds):
        delivered = 0
        for queue, handler in HANDLERS.items():
            for body in receive(storage, queue):
                handler(storage, body)
                delivered += 1
        run = run_records.get_run(storage, run_id)
        if run["status"] in ("Finished", "Failed", "Canceled") or not delivered:
            return step_of(storage, run) if "steps" in run else run
    raise AssertionError(f"run {run_id} still going after {rounds} rounds")


def put_inputs(storage: Storage, contents: dict[str, str]) -> str:
    folder = f"inputs-{uuid.uuid4().hex[:8]}"
    container = storage.container(layout.DEFAULT_DATASTORE_CONTAINER)
    for name, text in contents.items():
        container.upload_blob(f"{folder}/{name}", text.encode(), overwrite=True)
    return folder


def definition(storage: Storage, folder: str, **config: Any) -> dict[str, Any]:
    arguments = config.pop("arguments", ["--tag", "t1"])
    allow_reuse = config.pop("allow_reuse", False)
    workspace = cast(Workspace, SimpleNamespace(storage=storage))
    return {
        "steps": [
            {
                "name": "score",
                "snapshot": snapshot(workspace, str(SCRIPTS), "behaviours.py").manifest,
                "entry_script": "behaviours.py",
                "arguments": arguments,
                "config": {"mini_batch_size": 2, "node_count": 1, "process_count_per_node": 2, **config},
                "input": {
                    "name": "data",
                    "dataset": None,
                    "paths": [{"datastore": "workspaceblobstore", "path": f"{folder}/*.txt"}],
                },
                "output": {"name": "inferences", "datastore": "workspaceblobstore"},
                "allow_reuse": allow_reuse,
            }
        ]
    }


def step_of(storage: Storage, pipeline_run: dict[str, Any]) -> dict[str, Any]:
    """The step run of a one-step pipeline run: what the batch engine works on."""
    (state,) = pipeline_run["steps"].values()
    return run_records.get_run(storage, state["id"])


def launch(storage: Storage, pipeline: dict[str, Any]) -> str:
    """Start a one-step pipeline; the id of its ParallelRunStep's step run."""
    return str(step_of(storage, submit.start_run(storage, "tests", pipeline))["id"])


def start(storage: Storage, contents: dict[str, str], **config: Any) -> str:
    folder = put_inputs(storage, contents)
    return launch(storage, definition(storage, folder, **config))


class Timeline:
    """The app's clock, run ahead of the wall by what `advance` added: a test that delivers the messages itself moves
    it on while nothing is delivered, so leases, queued waits and the watchdog's stall time pass in a fraction of
    their real time. Queue visibility delays stay Azurite's, in real time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ahead = 0.0
        real_time, real_monotonic = clock.time, clock.monotonic
        monkeypatch.setattr(clock, "time", lambda: real_time() + self.ahead)
        monkeypatch.setattr(clock, "monotonic", lambda: real_monotonic() + self.ahead)

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


def sweep_step(storage: Storage, run_id: str) -> int:
    """The sweeper on the step run only: its pipeline run's watch message, never delivered here, expires too."""
    return sweeper.sweep_run(storage, run_records.get_run(storage, run_id))


def output_lines(storage: Storage, run: dict[str, Any]) -> list[str]:
    output = run["step"]["output"]
    name = output["prefix"] + "parallel_run_step.txt"
    data = storage.container(output["container"]).download_blob(name).readall()
    return data.decode().splitlines()


def names(count: int, word: str = "ok", prefix: str = "f") -> dict[str, str]:
    return {f"{prefix}{i:03d}.txt": word for i in range(count)}


# -- through the SDK, on a host ---------------------------------------------------------------------------------------


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


def tabular_pipeline_for(ws: Workspace, tmp_path: Path, rows: int, pause: float, **config: Any) -> Pipeline:
    """A one-step pipeline over a CSV of `rows` rows (id, pause), scored by tabular_behaviours.py."""
    folder = tmp_path / "tabular"
    folder.mkdir(exist_ok=True)
    lines = ["id,pause", *(f"{i},{pause}" for i in range(rows))]
    (folder / "rows.csv").write_text("\n".join(lines) + "\n")
    datastore = ws.get_default_datastore()
    target = f"tabular-{tmp_path.name}"
    datastore.upload(src_dir=str(folder), target_path=target, overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, f"{target}/rows.csv"))
    arguments = config.pop("arguments", ["--tag", "host"])
    settings: dict[str, Any] = {
        "error_threshold": -1,
        "output_action": "append_row",
        "node_count": 1,
        "process_count_per_node": 2,
        **config,
    }
    run_config = ParallelRunConfig(
        source_directory=str(SCRIPTS),
        entry_script="tabular_behaviours.py",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        **settings,
    )
    step = ParallelRunStep(
        name="score-rows",
        parallel_run_config=run_config,
        inputs=[dataset.as_named_input("rows")],
        output=PipelineData("inferences", datastore=datastore),
        arguments=arguments,
        allow_reuse=False,
    )
    return Pipeline(workspace=ws, steps=[step])
