"""The pipeline definition: what the SDK posts, what a run keeps, and what a later publish can store and start again.

A definition is plain JSON, so it can be stored, published and submitted from an HTTP endpoint or a timer without the
SDK objects that built it: a list of steps, each a ParallelRunStep or a PythonScriptStep (script_definition.py),
and `continue_on_step_failure`; what both step types declare alike (environment, inputs, outputs, run_after) is
checked in step_parts.py. Steps pass data by name: a step's output (PipelineData, OutputFileDatasetConfig) is
an input of later steps, which is how the order is inferred (graph.py), with `run_after` for order without data.

    {"continue_on_step_failure": false,
     "steps": [{"type": "ParallelRunStep", "name": "batch-score",
                "snapshot": {"id": <sha256>, "files": [{path, size, sha256}]},   source_directory, content-addressed
                "entry_script": "batch_scoring_script.py", "arguments": ["--x", "1"],
                "config": {ParallelRunConfig settings, see CONFIG_DEFAULTS},
                "environment": {"name": "batch_environment", "requirements": ["scikit-learn", ...]},
                "input": {"name": "batch_data", "dataset": {"name": "batch-data", "version": 1} | null,
                          "kind": "file" | "tabular", "paths": [{"datastore": "workspaceblobstore",
                          "path": "batch-data/*.csv"}], "partition_format": null, "tabular": {...} (tabular only),
                          "mode": "direct" | "mount" | "download", "path_on_compute": null}
                         | {"name": "prepared", "data": <another step's output name>, "kind": "file" | "tabular",
                            "tabular": {...} (tabular only), "mode": ..., "path_on_compute": null},
                "output": {"name": "inferences", "datastore": "workspaceblobstore"},      (see validate_output)
                "models": ["classification_model:1"], "allow_reuse": true, "run_after": []}]}

`mini_batch_size` is a number of files for a file input and a number of bytes for a tabular one (Azure ML's "1MB"
is 1048576 here; its default, 1 MB, applies when it is null).
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from shared.core import validators
from shared.core.errors import InvalidInput
from shared.pipelines.engine import graph
from shared.pipelines.engine.script_definition import validate_script_step
from shared.pipelines.engine.step_parts import (
    validate_data_input,
    validate_dataset_input,
    validate_environment,
    validate_output,
    validate_run_after,
)
from shared.registry import tabular
from shared.registry.snapshots import validate_manifest

OUTPUT_ACTIONS = ("append_row", "summary_only")
DEFAULT_OUTPUT_FILE = "parallel_run_step.txt"

#: ParallelRunConfig's settings and Azure ML's defaults for them. process_count_per_node None means "one per core
#: of the node", resolved when the run is planned, on a host instance.
CONFIG_DEFAULTS: dict[str, Any] = {
    "mini_batch_size": None,
    "error_threshold": -1,
    "output_action": "append_row",
    "node_count": 1,
    "process_count_per_node": None,
    "run_invocation_timeout": 60,
    "run_max_try": 3,
    "append_row_file_name": None,
    "allowed_failed_count": None,
    "allowed_failed_percent": None,
    "environment_variables": {},
    "description": None,
    "logging_level": "INFO",
    "compute_target": None,
    "partition_keys": None,
}
#: Azure ML's defaults for mini_batch_size: 10 files of a FileDataset, 1 MB of a TabularDataset.
DEFAULT_FILES_PER_BATCH = 10
DEFAULT_BYTES_PER_BATCH = 1024 * 1024


_SIZE = re.compile(r"^(\d+)\s*([kKmMgG][bB])?$")
_UNITS = {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def mini_batch_size(value: object) -> int:
    """ParallelRunConfig's mini_batch_size as Azure ML reads it: 5, "5", or a size such as "1KB", "10MB", "1GB"."""
    match = (
        _SIZE.fullmatch(str(value).strip()) if isinstance(value, int | str) and not isinstance(value, bool) else None
    )
    if match is None or int(match.group(1)) < 1:
        raise InvalidInput(
            f"mini_batch_size {value!r} must be a positive number (files of a FileDataset) or a size such as '1MB' "
            "(bytes of a TabularDataset)",
            field="mini_batch_size",
        )
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


def _int(config: dict[str, Any], key: str, minimum: int, optional: bool = False) -> None:
    value = config[key]
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{key} must be an integer of at least {minimum}, not {value!r}", field=key)


def validate_config(config: object) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidInput("'config' must be an object", field="config")
    unknown = sorted(set(config) - set(CONFIG_DEFAULTS))
    if unknown:
        raise InvalidInput(f"unknown ParallelRunConfig settings {unknown}", field="config")
    merged = {**CONFIG_DEFAULTS, **config}
    if merged["mini_batch_size"] is not None:
        merged["mini_batch_size"] = mini_batch_size(merged["mini_batch_size"])
    _int(merged, "mini_batch_size", 1, optional=True)
    _int(merged, "error_threshold", -1)
    _int(merged, "node_count", 1)
    _int(merged, "process_count_per_node", 1, optional=True)
    _int(merged, "run_invocation_timeout", 1)
    _int(merged, "run_max_try", 1)
    _int(merged, "allowed_failed_count", -1, optional=True)
    percent = merged["allowed_failed_percent"]
    if percent is not None and (not isinstance(percent, int | float) or not (percent == -1 or 0 <= percent <= 100)):
        raise InvalidInput("allowed_failed_percent must be -1 or between 0 and 100", field="allowed_failed_percent")
    if merged["output_action"] not in OUTPUT_ACTIONS:
        raise InvalidInput(f"output_action must be one of {list(OUTPUT_ACTIONS)}", field="output_action")
    if merged["append_row_file_name"] is not None:
        name = validators.validate_relative_path(merged["append_row_file_name"])
        if "/" in name:
            raise InvalidInput("append_row_file_name is a file name, not a path", field="append_row_file_name")
    keys = merged["partition_keys"]
    if keys is not None and (not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys)):
        raise InvalidInput("partition_keys must be a non-empty list of strings", field="partition_keys")
    if keys is not None and config.get("mini_batch_size") is not None:
        raise InvalidInput(
            "mini_batch_size and partition_keys are mutually exclusive: they are two ways to cut the input into "
            "mini-batches",
            field="partition_keys",
        )
    validators.string_values(
        merged["environment_variables"],
        "environment_variables",
        absent="refused",
        message="environment_variables must be an object of strings",
    )
    return merged


def _input(source: object) -> dict[str, Any]:
    if not isinstance(source, dict):
        raise InvalidInput("the step needs one input: dataset.as_named_input(name)", field="inputs")
    if "data" in source:  # another step's output, made concrete when this step starts (see step_start.py)
        checked = validate_data_input(source)
        if checked["kind"] == "tabular":
            checked["mode"] = "direct"  # read_delimited_files() of an output: a table, as any tabular input
        return checked
    checked = validate_dataset_input(source)
    if checked["kind"] == "tabular":
        row_transforms = tabular.row_transforms(checked["tabular"])
        if row_transforms:
            raise InvalidInput(
                f"a dataset transformed with {row_transforms} cannot be cut into mini-batches (they count rows of "
                "the whole dataset); register the rows you want as files, e.g. with partition_by",
                field="inputs",
            )
    return checked


def validate_models(models: object) -> list[str]:
    if not isinstance(models, list) or not all(isinstance(m, str) and m.count(":") == 1 for m in models):
        raise InvalidInput("'models' must be a list of model ids 'name:version'", field="models")
    for model in models:
        name, version = model.split(":")
        validators.validate_name("model", name)
        if not version.isdigit():
            raise InvalidInput(f"model id {model!r} needs a numeric version", field="models")
    return list(models)


def validate_partitions(step_input: dict[str, Any], config: dict[str, Any]) -> None:
    """partition_keys need a partitioned input, and keys it has."""
    if not step_input.get("partition_format"):
        raise InvalidInput(
            "partition_keys need a partitioned input dataset (Dataset.File.from_files(..., partition_format=...) "
            "or TabularDataset.partition_by)",
            field="partition_keys",
        )
    _, keys = tabular.partition_pattern(step_input["partition_format"])
    unknown = [key for key in config["partition_keys"] if key not in keys]
    if unknown:
        raise InvalidInput(
            f"partition_keys {unknown} are not keys of the input dataset: {keys}", field="partition_keys"
        )


def _parallel_run_step(step: dict[str, Any]) -> dict[str, Any]:
    snapshot = validate_manifest(step.get("snapshot"))
    entry_script = validators.validate_relative_path(step.get("entry_script"))
    if entry_script not in {f["path"] for f in snapshot["files"]}:
        raise InvalidInput(f"entry script {entry_script!r} is not in source_directory", field="entry_script")
    arguments = step.get("arguments") or []
    if not isinstance(arguments, list):
        raise InvalidInput("'arguments' must be a list", field="arguments")
    if not isinstance(step.get("output"), dict):
        raise InvalidInput("the step needs an output: PipelineData(name, datastore)", field="output")
    step_input = _input(step.get("input"))
    config = validate_config(step.get("config", {}))
    if config["partition_keys"] is not None:
        if "data" in step_input:
            raise InvalidInput("partition_keys need a partitioned dataset, not another step's output")
        validate_partitions(step_input, config)
    elif config["mini_batch_size"] is None:
        tabular_input = step_input["kind"] == "tabular"
        config["mini_batch_size"] = DEFAULT_BYTES_PER_BATCH if tabular_input else DEFAULT_FILES_PER_BATCH
    return {
        "type": "ParallelRunStep",
        "name": validators.validate_display_name("step", step.get("name")),
        "snapshot": snapshot,
        "entry_script": entry_script,
        "arguments": [str(a) for a in arguments],
        "config": config,
        "environment": validate_environment(step.get("environment")),
        "input": step_input,
        "output": validate_output(step.get("output")),
        "models": validate_models(step.get("models", [])),
        "allow_reuse": bool(step.get("allow_reuse", True)),
        "run_after": validate_run_after(step),
    }


STEP_TYPES = ("ParallelRunStep", "PythonScriptStep")


class Graph(TypedDict):
    """A checked definition (a pipeline run's `graph`): every default filled in, parameters bound, steps in order."""

    steps: list[dict[str, Any]]  # each with `depends_on`, the steps it waits for (graph.ordered)
    continue_on_step_failure: bool


def validate_step(step: object) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise InvalidInput("each step must be an object", field="steps")
    kind = step.get("type", "ParallelRunStep")
    if kind == "PythonScriptStep":
        return validate_script_step(step)
    if kind != "ParallelRunStep":
        raise InvalidInput(f"step type {kind!r} is not supported; fninfer runs {' and '.join(STEP_TYPES)}")
    return _parallel_run_step(step)


def validate(definition: object) -> Graph:
    """The definition, checked and with every default filled in, each step with the steps it depends on
    (`depends_on`); InvalidInput names the first problem."""
    if not isinstance(definition, dict):
        raise InvalidInput("'pipeline' must be an object with 'steps'", field="pipeline")
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InvalidInput("a pipeline needs at least one step", field="steps")
    checked = []
    for step in steps:
        try:
            checked.append(validate_step(step))
        except InvalidInput as exc:
            name = step.get("name") if isinstance(step, dict) else None
            if name is None or f"step {name!r}" in exc.message:
                raise
            raise InvalidInput(f"step {name!r}: {exc.message}", **exc.details) from exc
    continue_on_failure = definition.get("continue_on_step_failure") or False
    if not isinstance(continue_on_failure, bool):
        raise InvalidInput("continue_on_step_failure must be true or false", field="continue_on_step_failure")
    return {"steps": graph.ordered(checked), "continue_on_step_failure": continue_on_failure}


def output_file_name(config: dict[str, Any]) -> str:
    return str(config.get("append_row_file_name") or DEFAULT_OUTPUT_FILE)
