"""The pipeline definition: what the SDK posts, what a run keeps, and what a later publish can store and start again.

A definition is plain JSON, so it can be stored, published and submitted from an HTTP endpoint or a timer without the
SDK objects that built it:

    {"steps": [{"type": "ParallelRunStep", "name": "batch-score",
                "snapshot": {"id": <sha256>, "files": [{path, size, sha256}]},   source_directory, content-addressed
                "entry_script": "batch_scoring_script.py", "arguments": ["--x", "1"],
                "config": {ParallelRunConfig settings, see CONFIG_DEFAULTS},
                "environment": {"name": "batch_environment", "requirements": ["scikit-learn", ...]},
                "input": {"name": "batch_data", "dataset": {"name": "batch-data", "version": 1} | null,
                          "paths": [{"datastore": "workspaceblobstore", "path": "batch-data/*.csv"}]},
                "output": {"name": "inferences", "datastore": "workspaceblobstore"},
                "models": ["classification_model:1"], "allow_reuse": true}]}

fninfer runs pipelines of one ParallelRunStep, the seeds' shape; `validate` refuses anything else by name.
"""

from __future__ import annotations

from typing import Any

from shared import layout
from shared.datasets import parse_paths
from shared.errors import InvalidInput
from shared.services.environment import check_requirements
from shared.services.snapshots import validate_manifest

OUTPUT_ACTIONS = ("append_row", "summary_only")
DEFAULT_OUTPUT_FILE = "parallel_run_step.txt"

#: ParallelRunConfig's settings and Azure ML's defaults for them. process_count_per_node None means "one per core
#: of the node", resolved when the run is planned, on a host instance.
CONFIG_DEFAULTS: dict[str, Any] = {
    "mini_batch_size": 10,
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
}


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
    _int(merged, "mini_batch_size", 1)
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
        name = layout.validate_relative_path(merged["append_row_file_name"])
        if "/" in name:
            raise InvalidInput("append_row_file_name is a file name, not a path", field="append_row_file_name")
    variables = merged["environment_variables"]
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise InvalidInput("environment_variables must be an object of strings", field="environment_variables")
    return merged


def _environment(environment: object) -> dict[str, Any] | None:
    if environment is None:
        return None
    if not isinstance(environment, dict) or not isinstance(environment.get("requirements", []), list):
        raise InvalidInput("'environment' must be {name, requirements: [...]}", field="environment")
    requirements = [str(r) for r in environment.get("requirements", [])]
    problems = check_requirements(requirements)
    if problems:
        raise InvalidInput(
            f"environment {environment.get('name')!r} cannot run in this Function App: {'; '.join(problems)}",
            field="environment",
        )
    return {"name": str(environment.get("name") or ""), "requirements": requirements}


def _input(source: object) -> dict[str, Any]:
    if not isinstance(source, dict):
        raise InvalidInput("the step needs one input: dataset.as_named_input(name)", field="inputs")
    dataset = source.get("dataset")
    if dataset is not None and not (
        isinstance(dataset, dict) and isinstance(dataset.get("name"), str) and isinstance(dataset.get("version"), int)
    ):
        raise InvalidInput("input 'dataset' must be {name, version} or null", field="inputs")
    return {
        "name": layout.validate_name("input", source.get("name")),
        "dataset": dataset,
        "paths": parse_paths(source.get("paths")),
    }


def _models(models: object) -> list[str]:
    if not isinstance(models, list) or not all(isinstance(m, str) and m.count(":") == 1 for m in models):
        raise InvalidInput("'models' must be a list of model ids 'name:version'", field="models")
    for model in models:
        name, version = model.split(":")
        layout.validate_name("model", name)
        if not version.isdigit():
            raise InvalidInput(f"model id {model!r} needs a numeric version", field="models")
    return list(models)


def validate_step(step: object) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise InvalidInput("each step must be an object", field="steps")
    if step.get("type", "ParallelRunStep") != "ParallelRunStep":
        raise InvalidInput(f"step type {step.get('type')!r} is not supported; fninfer runs ParallelRunStep")
    snapshot = validate_manifest(step.get("snapshot"))
    entry_script = layout.validate_relative_path(step.get("entry_script"))
    if entry_script not in {f["path"] for f in snapshot["files"]}:
        raise InvalidInput(f"entry script {entry_script!r} is not in source_directory", field="entry_script")
    arguments = step.get("arguments") or []
    if not isinstance(arguments, list):
        raise InvalidInput("'arguments' must be a list", field="arguments")
    output = step.get("output")
    if not isinstance(output, dict):
        raise InvalidInput("the step needs an output: PipelineData(name, datastore)", field="output")
    return {
        "type": "ParallelRunStep",
        "name": layout.validate_name("step", step.get("name")),
        "snapshot": snapshot,
        "entry_script": entry_script,
        "arguments": [str(a) for a in arguments],
        "config": validate_config(step.get("config", {})),
        "environment": _environment(step.get("environment")),
        "input": _input(step.get("input")),
        "output": {
            "name": layout.validate_name("output", output.get("name")),
            "datastore": layout.validate_name("datastore", output.get("datastore") or layout.DEFAULT_DATASTORE_NAME),
        },
        "models": _models(step.get("models", [])),
        "allow_reuse": bool(step.get("allow_reuse", True)),
    }


def validate(definition: object) -> dict[str, Any]:
    """The definition, checked and with every default filled in; InvalidInput names the first problem."""
    if not isinstance(definition, dict):
        raise InvalidInput("'pipeline' must be an object with 'steps'", field="pipeline")
    steps = definition.get("steps")
    if not isinstance(steps, list) or len(steps) != 1:
        raise InvalidInput("fninfer runs pipelines of exactly one ParallelRunStep", field="steps")
    return {"steps": [validate_step(steps[0])]}


def output_file_name(config: dict[str, Any]) -> str:
    return str(config.get("append_row_file_name") or DEFAULT_OUTPUT_FILE)
