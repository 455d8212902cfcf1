"""A PythonScriptStep in a pipeline definition (Azure ML's `PythonScriptStep(script_name, name, arguments, inputs,
outputs, params, source_directory, allow_reuse, ...)`):

    {"type": "PythonScriptStep", "name": "prepare", "snapshot": {...}, "script_name": "prepare.py",
     "arguments": ["--rows", "10", {"$data": "prepared"}, {"$data": "raw"}],   $data: an input's or output's folder
     "inputs": [{"name": "raw", "dataset": ..., "kind", "paths", ..., "mode": "mount"},     a dataset
                {"name": "scores", "data": "scores", "mode": "mount"}],                     another step's output
     "outputs": [{"name": "prepared", "datastore": "workspaceblobstore", ...}],     see step_parts.validate_output
     "params": {"threshold": "0.5"},                                      AML_PARAMETER_<name> variables
     "environment": {...} | null, "environment_variables": {...}, "timeout": 3600 | null,
     "allow_reuse": true, "run_after": ["other-step"]}

`timeout` is RunConfiguration's `max_run_duration_seconds`: the script is stopped after that many seconds (at most
the function timeout; see script_step.py).
"""

from __future__ import annotations

from typing import Any

from shared.core import validators
from shared.core.errors import InvalidInput
from shared.pipelines.engine.step_parts import (
    validate_data_input,
    validate_dataset_input,
    validate_environment,
    validate_output,
    validate_run_after,
)
from shared.registry.snapshots import validate_manifest

DATA_REFERENCE = "$data"


def _inputs(inputs: object) -> list[dict[str, Any]]:
    if not isinstance(inputs, list):
        raise InvalidInput("'inputs' must be a list", field="inputs")
    checked = []
    for source in inputs:
        if not isinstance(source, dict):
            raise InvalidInput("each input must be an object", field="inputs")
        checked.append(validate_data_input(source) if "data" in source else validate_dataset_input(source))
    return checked


def _argument(value: object, known: set[str]) -> str | dict[str, str]:
    if isinstance(value, dict):
        name = value.get(DATA_REFERENCE)
        if not isinstance(name, str) or set(value) != {DATA_REFERENCE}:
            raise InvalidInput(f"argument {value!r} is not a string or a data reference", field="arguments")
        if name not in known:
            raise InvalidInput(
                f"argument refers to {name!r}, which is not an input or output of the step (add it to inputs= or "
                "outputs=)",
                field="arguments",
            )
        return {DATA_REFERENCE: name}
    if isinstance(value, list | tuple) or value is None:
        raise InvalidInput(f"argument {value!r} must be a string, a number or a data reference", field="arguments")
    return str(value)


def _timeout(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"timeout must be a number of seconds of at least 1, not {value!r}", field="timeout")
    return value


def validate_script_step(step: dict[str, Any]) -> dict[str, Any]:
    snapshot = validate_manifest(step.get("snapshot"))
    script_name = validators.validate_relative_path(step.get("script_name"))
    if script_name not in {f["path"] for f in snapshot["files"]}:
        raise InvalidInput(f"script {script_name!r} is not in source_directory", field="script_name")
    inputs = _inputs(step.get("inputs") or [])
    outputs_given = step.get("outputs") or []
    if not isinstance(outputs_given, list):
        raise InvalidInput("'outputs' must be a list", field="outputs")
    outputs = [validate_output(output, "outputs") for output in outputs_given]
    names = [source["name"] for source in inputs] + [output["name"] for output in outputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(f"input and output names must be unique in a step; repeated: {repeated}", field="inputs")
    arguments = step.get("arguments") or []
    if not isinstance(arguments, list):
        raise InvalidInput("'arguments' must be a list", field="arguments")
    return {
        "type": "PythonScriptStep",
        "name": validators.validate_display_name("step", step.get("name")),
        "snapshot": snapshot,
        "script_name": script_name,
        "arguments": [_argument(a, set(names)) for a in arguments],
        "inputs": inputs,
        "outputs": outputs,
        "params": validators.named_strings(step.get("params"), "params"),
        "environment": validate_environment(step.get("environment")),
        "environment_variables": validators.named_strings(step.get("environment_variables"), "environment_variables"),
        "timeout": _timeout(step.get("timeout")),
        "compute_target": None if step.get("compute_target") is None else str(step["compute_target"]),
        "allow_reuse": bool(step.get("allow_reuse", True)),
        "run_after": validate_run_after(step),
    }
