"""Pipeline parameters: the values a published pipeline or a schedule may change without publishing again.

A definition declares them, and its step refers to them where a value would be:

    {"parameters": {"batch_size": {"kind": "value", "default": 5},
                    "input_data": {"kind": "dataset", "default": {"dataset": {...} | null, "paths": [...]}}},
     "steps": [{..., "config": {"mini_batch_size": {"$parameter": "batch_size"}, ...},
                "arguments": ["--threshold", {"$parameter": "threshold"}],
                "input": {"name": "batch_data", "$parameter": "input_data"}}]}

`bind` replaces every reference with the assigned value (or the default), so what runs is a plain definition. A
value for a dataset parameter is a registered dataset, `"name"` or `"name:version"`, or a datastore path
`{"datastore": ..., "path": ...}` (Azure ML's DataPath).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from shared.core import validators
from shared.core.errors import InvalidInput
from shared.core.storage import Storage
from shared.pipelines.engine.definition import mini_batch_size
from shared.registry.datasets import definition_of, get_dataset, parse_paths

REFERENCE = "$parameter"
KINDS = ("value", "dataset")


def _keys(value: Any) -> list[str]:
    """partition_keys as a parameter: a JSON list of names, as Azure ML takes it ('["user", "genres"]')."""
    keys = json.loads(value) if isinstance(value, str) else value
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(value)
    return keys


#: ParallelRunConfig settings a parameter may set, and the type a value (often sent as a string) is read as.
CONFIG_TYPES: dict[str, Any] = {
    "partition_keys": _keys,
    "mini_batch_size": mini_batch_size,
    "error_threshold": int,
    "node_count": int,
    "process_count_per_node": int,
    "run_invocation_timeout": int,
    "run_max_try": int,
    "allowed_failed_count": int,
    "allowed_failed_percent": float,
    "logging_level": str,
}


def _reference(value: object) -> str | None:
    if isinstance(value, dict) and REFERENCE in value:
        return str(value[REFERENCE])
    return None


def declared(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The definition's parameters, checked: names, kinds, and a default for each."""
    parameters = definition.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("'parameters' must be an object of {kind, default}", field="parameters")
    checked: dict[str, dict[str, Any]] = {}
    for name, declaration in parameters.items():
        validators.validate_name("pipeline parameter", name)
        if not isinstance(declaration, dict) or "default" not in declaration:
            raise InvalidInput(f"pipeline parameter {name!r} needs a default value", field="parameters")
        kind = declaration.get("kind", "value")
        if kind not in KINDS:
            raise InvalidInput(f"pipeline parameter {name!r}: kind must be one of {list(KINDS)}", field="parameters")
        default = declaration["default"]
        if kind == "value" and not isinstance(default, str | int | float | bool):
            raise InvalidInput(f"pipeline parameter {name!r}: the default must be a string or a number")
        checked[name] = {"kind": kind, "default": default}
    return checked


def references(step: Mapping[str, Any]) -> dict[str, str]:
    """Where the step refers to parameters: {parameter name: its kind of use ('config', 'argument', 'dataset')}."""
    found: dict[str, str] = {}
    for value in (step.get("config") or {}).values():
        if (name := _reference(value)) is not None:
            found[name] = "config"
    for value in step.get("arguments") or []:
        if (name := _reference(value)) is not None:
            found[name] = "argument"
    for value in (step.get("params") or {}).values():
        if (name := _reference(value)) is not None:
            found[name] = "argument"
    for source in [step.get("input"), *(step.get("inputs") or [])]:
        if (name := _reference(source)) is not None:
            found[name] = "dataset"
    return found


def check(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The declared parameters, after checking that every reference names one of the right kind."""
    parameters = declared(definition)
    for step in definition.get("steps") or []:
        if not isinstance(step, dict):
            continue
        for name, use in references(step).items():
            if name not in parameters:
                raise InvalidInput(f"step {step.get('name')!r} uses pipeline parameter {name!r}, which is not declared")
            if (use == "dataset") != (parameters[name]["kind"] == "dataset"):
                kind = parameters[name]["kind"]
                raise InvalidInput(f"pipeline parameter {name!r} is a {kind} parameter; it cannot be used as a {use}")
    return parameters


def _value(storage: Storage, name: str, kind: str, value: Any) -> Any:
    if kind == "value":
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(f"pipeline parameter {name!r} takes a string or a number", field=name)
        return value
    if isinstance(value, dict) and "dataset" in value and "paths" in value:  # a default, as the SDK stored it
        return value
    if isinstance(value, str):
        dataset_name, _, version = value.partition(":")
        if version and not version.isdigit():
            raise InvalidInput(f"pipeline parameter {name!r}: {value!r} is not 'name' or 'name:version'", field=name)
        record = get_dataset(storage, dataset_name, int(version) if version else None)
        return {"dataset": {"name": record["name"], "version": record["version"]}, **definition_of(record)}
    if isinstance(value, dict) and "datastore" in value and "path" in value:
        return {"dataset": None, "kind": "file", "paths": parse_paths([value]), "partition_format": None}
    raise InvalidInput(
        f"pipeline parameter {name!r} takes a registered dataset ('name' or 'name:version') or a datastore path "
        "{'datastore': ..., 'path': ...}",
        field=name,
    )


def _typed(name: str, setting: str, value: Any) -> Any:
    wanted = CONFIG_TYPES.get(setting)
    if wanted is None:
        raise InvalidInput(f"the ParallelRunConfig setting {setting!r} cannot be a pipeline parameter", field=name)
    exact = not isinstance(value, bool) and not (wanted is int and isinstance(value, float) and not value.is_integer())
    if exact:
        try:
            return wanted(value)
        except (TypeError, ValueError, InvalidInput):  # json.JSONDecodeError is a ValueError
            pass
    kinds = {"mini_batch_size": "an int (files) or a size such as '1MB'", "partition_keys": "a JSON list of names"}
    kind = kinds.get(setting, f"a {getattr(wanted, '__name__', 'value')}")
    raise InvalidInput(f"pipeline parameter {name!r} sets {setting}, which needs {kind}", field=name)


def bind(
    storage: Storage, definition: Mapping[str, Any], assignments: object = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The definition with every parameter reference replaced, and the values used. Unknown names are refused."""
    parameters = check(definition)
    if assignments is None:
        assignments = {}
    if not isinstance(assignments, dict):
        raise InvalidInput("'ParameterAssignments' must be an object of parameter names to values")
    unknown = sorted(set(assignments) - set(parameters))
    if unknown:
        known = sorted(parameters) or "none"
        raise InvalidInput(f"unknown pipeline parameters {unknown}; the pipeline declares {known}", field=unknown[0])
    values = {
        name: _value(storage, name, declaration["kind"], assignments.get(name, declaration["default"]))
        for name, declaration in parameters.items()
    }
    bound = copy.deepcopy(dict(definition))
    bound.pop("parameters", None)
    for step in bound.get("steps") or []:
        if not isinstance(step, dict):
            continue
        config = step.get("config") or {}
        for setting, value in config.items():
            if (name := _reference(value)) is not None:
                config[setting] = _typed(name, setting, values[name])
        step["arguments"] = [
            str(values[name]) if (name := _reference(value)) is not None else value
            for value in step.get("arguments") or []
        ]
        params = step.get("params") or {}
        for key, value in params.items():
            if (name := _reference(value)) is not None:
                params[key] = str(values[name])
        if (name := _reference(step.get("input"))) is not None:
            step["input"] = _bound_input(step["input"], values[name])
        if isinstance(step.get("inputs"), list):
            step["inputs"] = [
                _bound_input(source, values[name]) if (name := _reference(source)) is not None else source
                for source in step["inputs"]
            ]
    return bound, values


def _bound_input(source: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """A step input whose dataset is a parameter, with the parameter's dataset in it."""
    consumption = {key: source[key] for key in ("name", "mode", "path_on_compute") if key in source}
    return {**consumption, **value}
