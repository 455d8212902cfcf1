"""Script runs: what `Experiment.submit(ScriptRunConfig(...))` starts, Azure ML's `azureml.scriptrun`.

A script run is one script run on its own, with no pipeline around it: its record sits beside the pipeline and step
runs' (runs.py), with no `parent` and `run_type` "azureml.scriptrun", and holds the same `step` a PythonScriptStep's
step run holds (script_definition.py), so the script step's engine runs it unchanged: the script queue, its lease
and sweeper, a fresh working folder with the snapshot, inputs downloaded and outputs uploaded, `./outputs` kept in
the run's files, `Run.get_context()` in the script being this run, the log per try, the timeout and cancel
(script_step.py), and the watchdog. What differs from a step run:

- no pipeline run advances when it ends, and its outputs are never offered to a later step's allow_reuse (Azure ML
  reuses pipeline steps only: every submitted script runs);
- its inputs are datasets and data references only (there is no earlier step to read from);
- its id is Azure ML's shape for a script run, `<experiment>_<seconds since the epoch>_<8 hex digits>`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, Conflict, InvalidInput
from shared.core.storage import Storage
from shared.pipelines.engine.script_definition import validate_script_step
from shared.pipelines.engine.step_start import SCRIPT_ITEM, locate_output
from shared.registry.datastores import find_datastore
from shared.registry.snapshots import verify_uploaded
from shared.runs import work_leases
from shared.runs.run_history import SCRIPT_RUN_TYPE
from shared.runs.run_records import RunRecord, RunStatus, create_run


def new_run_id(experiment: str) -> str:
    """Azure ML's id for a script run (or a random one when the experiment's name would make it too long)."""
    run_id = f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
    return run_id if len(run_id) <= 255 else uuid.uuid4().hex


def start_script_run(
    storage: Storage, experiment: object, script: object, tags: object = None, run_id: object = None
) -> RunRecord:
    """RunRecord the script run (NotStarted) and put it on the script queue. `script` is a PythonScriptStep's
    definition (its `name` defaults to the script's); Conflict when `run_id` is taken."""
    experiment = validators.validate_name("experiment", experiment)
    checked_tags = validators.string_values(tags, "tags", absent="falsy")
    if not isinstance(script, dict):
        raise InvalidInput("'script' must be an object: a script step's definition", field="script")
    spec = validate_script_step({**script, "name": script.get("name") or script.get("script_name")})
    fed = [source["name"] for source in spec["inputs"] if "data" in source]
    if fed:
        raise InvalidInput(
            f"inputs {fed} are another step's output, and a script run has no other step: give datasets or data "
            "references (a pipeline's PythonScriptStep reads other steps' outputs)",
            field="inputs",
        )
    verify_uploaded(storage, spec["snapshot"])
    new_id = new_run_id(experiment) if run_id is None else validators.validate_name("run", run_id)
    taken, _ = storage.try_read_json(layout.RUN_HISTORY_CONTAINER, layout.run_info(new_id))
    if taken is not None:
        raise Conflict(f"run {new_id!r} already exists", run=new_id)
    for output in spec["outputs"]:
        find_datastore(storage, output["datastore"])  # NotFound names the datastores there are
    step = {
        **spec,
        "outputs": [locate_output(storage, new_id, output) for output in spec["outputs"]],
        "id": new_id,
        "fingerprint": None,  # never offered for reuse (script_step.py remembers fingerprinted runs only)
        "reused_from": None,
    }
    record: RunRecord = {
        "id": new_id,
        "parent": None,
        "run_type": SCRIPT_RUN_TYPE,
        "experiment": experiment,
        "name": spec["name"],
        "type": spec["type"],
        "tags": {**checked_tags},
        "created_time": clock.stamp(),
        "start_time": None,
        "end_time": None,
        "status": RunStatus.NOT_STARTED.value,
        "error": None,
        "plan": None,
        "counts": None,
        "step": step,
    }
    try:
        create_run(storage, record)
    except ConcurrencyConflict as exc:
        raise Conflict(f"run {new_id!r} already exists", run=new_id) from exc
    work_leases.dispatch(storage, new_id, SCRIPT_ITEM, layout.SCRIPT_STEPS_QUEUE, {"run": new_id})
    return record


def run_definition(record: RunRecord) -> dict[str, Any]:
    """What the script run was asked to run, in the shape of Azure ML's `runDefinition` (get_details())."""
    step = record["step"]
    return {
        "script": step["script_name"],
        "arguments": step["arguments"],
        "target": step.get("compute_target") or "local",
        "environment": step.get("environment"),
        "environmentVariables": step.get("environment_variables") or {},
        "maxRunDurationSeconds": step.get("timeout"),
        "nodeCount": 1,
        "inputs": [source["name"] for source in step["inputs"]],
        "outputs": [output["name"] for output in step["outputs"]],
    }
