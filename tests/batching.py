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

from fninfer._snapshot import snapshot
from fninfer._workspace import Workspace
from shared import layout
from shared.pipelines import dag, fanin, minibatch, planning, runs, submit, sweeper
from shared.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "fixtures" / "batch"
HANDLERS: dict[str, Callable[[Storage, dict[str, Any]], None]] = {
    layout.PLANNING_QUEUE: lambda s, m: planning.plan(s, m["run"], uuid.uuid4().hex),
    # one mini-batch per message, so the tests see every hand-off on the queue
    layout.MINIBATCH_QUEUE: lambda s, m: minibatch.process(s, m["run"], int(m["index"]), uuid.uuid4().hex, 0),
    layout.FANIN_QUEUE: lambda s, m: fanin.finalize(s, m["run"], uuid.uuid4().hex),
    layout.PIPELINE_STEPS_QUEUE: lambda s, m: dag.watch(s, m["run"]),
}


def receive(storage: Storage, queue: str) -> list[dict[str, Any]]:
    """Take every visible message off `queue` (deleting them) and return their bodies."""
    client = storage.queue(queue)
    bodies = []
    for message in client.receive_messages(max_messages=32, visibility_timeout=60):
        bodies.append(json.loads(base64.b64decode(message.content)))
        client.delete_message(message)
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
        run = runs.get_run(storage, run_id)
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
    return runs.get_run(storage, state["id"])


def launch(storage: Storage, pipeline: dict[str, Any]) -> str:
    """Start a one-step pipeline; the id of its ParallelRunStep's step run."""
    return str(step_of(storage, submit.start_run(storage, "tests", pipeline))["id"])


def start(storage: Storage, contents: dict[str, str], **config: Any) -> str:
    folder = put_inputs(storage, contents)
    return launch(storage, definition(storage, folder, **config))


def sweep_step(storage: Storage, run_id: str) -> int:
    """The sweeper on the step run only: its pipeline run's watch message, never delivered here, expires too."""
    return sweeper.sweep_run(storage, runs.get_run(storage, run_id))


def output_lines(storage: Storage, run: dict[str, Any]) -> list[str]:
    output = run["step"]["output"]
    name = output["prefix"] + "parallel_run_step.txt"
    data = storage.container(output["container"]).download_blob(name).readall()
    return data.decode().splitlines()


def names(count: int, word: str = "ok", prefix: str = "f") -> dict[str, str]:
    return {f"{prefix}{i:03d}.txt": word for i in range(count)}
