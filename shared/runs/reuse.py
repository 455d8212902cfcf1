"""allow_reuse, per step as in Azure ML: a step that would compute the same thing again takes the outputs of the
earlier Finished step run.

The fingerprint covers what the step computes from: the script content (the snapshot id), the entry script, the
arguments, the configuration (less description, logging level and compute target, which do not change results), the
environment, the inputs (a dataset's name and version when registered, else its paths; another step's output is its
folder, which is the same only when that step was reused too) and the models. As in Azure ML, a registered dataset's
version stands for its content: new files under the same version do not prevent reuse. The latest Finished step run
of each fingerprint is recorded at `reuse/<fingerprint>`, so finding it is one read.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NotRequired, TypedDict

from shared.core import layout
from shared.core.storage import Storage
from shared.runs.run_records import RunRecord

NOT_FINGERPRINTED = frozenset({"description", "logging_level", "compute_target"})


class ReusedStep(TypedDict):
    """What a later run of the same step takes from the one it reuses: which step run it was, and its outputs."""

    id: str
    name: str
    output: NotRequired[dict[str, Any]]  # a ParallelRunStep's, located (step_start.locate_output)
    outputs: NotRequired[list[dict[str, Any]]]  # a script step's, located


class ReuseEntry(TypedDict):
    """The latest Finished step run of a fingerprint (`layout.reuse_record`)."""

    run: str  # its id
    step: ReusedStep


def fingerprint(step: dict[str, Any]) -> str:
    if step.get("type") == "PythonScriptStep":
        return _script_fingerprint(step)
    source = step["input"]
    identity = {
        "snapshot": step["snapshot"]["id"],
        "entry_script": step["entry_script"],
        "arguments": step["arguments"],
        # (partition_keys only when set: fingerprints of runs from before partitions stay as they were)
        "config": {
            k: v
            for k, v in step["config"].items()
            if k not in NOT_FINGERPRINTED and not (k == "partition_keys" and v is None)
        },
        "environment": step["environment"],
        "input": source["dataset"] if source["dataset"] is not None else _definition(source),
        "output": step["output"],
        "models": sorted(step["models"]),
    }
    if source.get("mode", "direct") != "direct":  # the files' local layout is part of what run() sees
        identity["input_mode"] = [source["mode"], source.get("path_on_compute")]
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _script_fingerprint(step: dict[str, Any]) -> str:
    identity = {
        "type": step["type"],
        "snapshot": step["snapshot"]["id"],
        "script_name": step["script_name"],
        "arguments": step["arguments"],
        "params": step["params"],
        "environment": step["environment"],
        "environment_variables": step["environment_variables"],
        "inputs": [_input_identity(source) for source in step["inputs"]],
        "outputs": step["outputs"],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _input_identity(source: dict[str, Any]) -> Any:
    identity = source["dataset"] if source.get("dataset") is not None else _definition(source)
    return [source["name"], identity, source.get("mode"), source.get("path_on_compute")]


def _definition(source: dict[str, Any]) -> Any:
    """An unregistered input's definition (its paths alone, for a plain file dataset, as runs before tabular inputs
    fingerprinted it)."""
    if source.get("kind", "file") == "file" and not source.get("partition_format"):
        return source["paths"]
    return {key: source.get(key) for key in ("kind", "paths", "partition_format", "tabular")}


def find(storage: Storage, step_fingerprint: str) -> ReuseEntry | None:
    """The reuse entry of the latest Finished run with this fingerprint."""
    entry: ReuseEntry | None
    entry, _ = storage.try_read_json(layout.RUNS_CONTAINER, layout.reuse_record(step_fingerprint))
    return entry


def remember(storage: Storage, run: RunRecord) -> None:
    """Offer a Finished step run's outputs to later runs of the same step."""
    step = run["step"]
    reused = ReusedStep(id=step["id"], name=step["name"])
    if "output" in step:
        reused["output"] = step["output"]
    if "outputs" in step:
        reused["outputs"] = step["outputs"]
    entry = ReuseEntry(run=run["id"], step=reused)
    storage.put_json(layout.RUNS_CONTAINER, layout.reuse_record(step["fingerprint"]), entry)
