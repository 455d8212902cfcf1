"""The pipeline definition: what the SDK posts, what a run keeps, and what a later publish can store and start again.

A definition is plain JSON, so it can be stored, published and submitted from an HTTP endpoint or a timer without the
SDK objects that built it: a list of steps, each a ParallelRunStep or a PythonScriptStep (script_definition.py),
and `continue_on_step_failure`. Steps pass data by name: a step's output (PipelineData, OutputFileDatasetConfig) is
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
from typing import Any

from shared import layout, tabular
from shared.datasets import parse_definition
from shared.errors import InvalidInput
from shared.services.environment import check_environment, check_mode
from shared.services.snapshots import validate_manifest
from shared.settings import ENVIRONMENT_CHECK

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
INPUT_MODES = ("direct", "mount", "download")
#: A DataReference input's modes (a PythonScriptStep's): "mount" downloads the path and uploads back what the script
#: wrote there, "download" only downloads, "upload" starts empty and uploads.
DATA_REFERENCE_MODES = ("mount", "download", "upload")


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
        name = layout.validate_relative_path(merged["append_row_file_name"])
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
    variables = merged["environment_variables"]
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise InvalidInput("environment_variables must be an object of strings", field="environment_variables")
    return merged


def validate_environment(environment: object) -> dict[str, Any] | None:
    if environment is None:
        return None
    if not isinstance(environment, dict) or not isinstance(environment.get("requirements", []), list):
        raise InvalidInput("'environment' must be {name, requirements: [...]}", field="environment")
    requirements = [str(r) for r in environment.get("requirements", [])]
    if check_mode() == "strict":  # else ("warn") the step runs and its log lists the differences (environment_log)
        problems = check_environment(requirements, "strict").problems
        if problems:
            raise InvalidInput(
                f"environment {environment.get('name')!r} cannot run in this Function App: {'; '.join(problems)} "
                f"(the app setting {ENVIRONMENT_CHECK}=strict refuses it; with 'warn', the default, the step runs on "
                "the app's environment and its log lists each difference)",
                field="environment",
            )
    return {"name": str(environment.get("name") or ""), "requirements": requirements}


def environment_log(environment: dict[str, Any] | None) -> list[str]:
    """A step's log lines on its environment (what the app does not meet of it, as a service's log has them)."""
    if environment is None or not environment["requirements"]:
        return []
    return check_environment(environment["requirements"], check_mode(), for_step=True).log_lines()


#: How a step's output folder is written (OutputFileDatasetConfig's as_mount / as_upload): on Functions both mean a
#: local folder uploaded when the step ends.
OUTPUT_MODES = ("mount", "upload")
#: The placeholders Azure ML fills in an OutputFileDatasetConfig destination path.
DESTINATION_PLACEHOLDERS = ("{run-id}", "{output-name}")


def validate_output(output: object, field: str = "output") -> dict[str, Any]:
    """A step output: PipelineData(name, datastore) or OutputFileDatasetConfig(name, destination=(datastore, path)),
    optionally registered as a file dataset when the step finishes (`register_on_complete`).

        {"name", "datastore", "destination": "path/{run-id}" | absent (azureml/<step run id>/<name>/),
         "mode": "mount" | "upload" (absent: mount), "register": {"name", "description", "tags"} | absent}
    """
    if not isinstance(output, dict):
        raise InvalidInput(f"'{field}' must be an object: PipelineData(name, datastore)", field=field)
    checked: dict[str, Any] = {
        "name": layout.validate_name("output", output.get("name")),
        "datastore": layout.validate_name("datastore", output.get("datastore") or layout.DEFAULT_DATASTORE_NAME),
    }
    destination = output.get("destination")
    if destination is not None:
        filled = str(destination)
        for placeholder in DESTINATION_PLACEHOLDERS:
            filled = filled.replace(placeholder, "x")
        layout.validate_datastore_path(filled, "destination")
        if any(c in filled for c in "*?{}"):
            raise InvalidInput(f"destination {destination!r} is a folder, not a pattern", field="destination")
        checked["destination"] = str(destination).strip("/")
    mode = output.get("mode") or "mount"
    if mode not in OUTPUT_MODES:
        raise InvalidInput(f"output mode must be one of {list(OUTPUT_MODES)}, not {mode!r}", field=field)
    if mode != "mount":
        checked["mode"] = mode
    register = output.get("register")
    if register is not None:
        if not isinstance(register, dict):
            raise InvalidInput("'register' must be {name, description, tags}", field="register")
        tags = register.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise InvalidInput("register_on_complete tags must be an object of strings", field="register")
        checked["register"] = {
            "name": layout.validate_name("dataset", register.get("name")),
            "description": None if register.get("description") is None else str(register["description"]),
            "tags": tags,
        }
    return checked


def validate_data_input(source: dict[str, Any]) -> dict[str, Any]:
    """An input that is another step's output (`{"name", "data": <output name>, ...}`): how this step reads it."""
    mode = source.get("mode") or "mount"
    if mode not in INPUT_MODES:
        raise InvalidInput(f"input mode must be one of {list(INPUT_MODES)}, not {mode!r}", field="inputs")
    kind = source.get("kind") or "file"
    if kind not in ("file", "tabular"):
        raise InvalidInput(f"input kind must be 'file' or 'tabular', not {kind!r}", field="inputs")
    path_on_compute = source.get("path_on_compute")
    if path_on_compute is not None:
        path_on_compute = layout.validate_datastore_path(path_on_compute, "path_on_compute")
    checked: dict[str, Any] = {
        "name": layout.validate_name("input", source.get("name")),
        "data": layout.validate_name("output", source.get("data")),
        "kind": kind,
        "mode": mode,
        "path_on_compute": path_on_compute,
    }
    if kind == "tabular":
        checked["tabular"] = tabular.parse_spec(source.get("tabular"))
    return checked


def validate_dataset_input(source: dict[str, Any]) -> dict[str, Any]:
    """An input that is a dataset (`dataset.as_named_input(name)`, optionally `.as_mount()` / `.as_download()`)."""
    dataset = source.get("dataset")
    if dataset is not None and not (
        isinstance(dataset, dict) and isinstance(dataset.get("name"), str) and isinstance(dataset.get("version"), int)
    ):
        raise InvalidInput("input 'dataset' must be {name, version} or null", field="inputs")
    mode = source.get("mode") or "direct"
    if mode not in INPUT_MODES:
        raise InvalidInput(f"input mode must be one of {list(INPUT_MODES)}, not {mode!r}", field="inputs")
    path_on_compute = source.get("path_on_compute")
    if path_on_compute is not None:
        path_on_compute = layout.validate_datastore_path(path_on_compute, "path_on_compute")
    defined = parse_definition(source)
    if defined["kind"] == "tabular" and mode != "direct":
        raise InvalidInput(
            "a TabularDataset input is consumed directly (as_mount/as_download are for FileDatasets), as in Azure ML",
            field="inputs",
        )
    checked = {
        "name": layout.validate_name("input", source.get("name")),
        "dataset": dataset,
        **defined,
        "mode": mode,
        "path_on_compute": path_on_compute,
    }
    reference_mode = source.get("data_reference_mode")
    if reference_mode is not None:  # a DataReference (see data_flow.py for what each mode does)
        if reference_mode not in DATA_REFERENCE_MODES or defined["kind"] != "file" or len(defined["paths"]) != 1:
            raise InvalidInput(
                f"a data reference input has one path and a mode of {list(DATA_REFERENCE_MODES)}", field="inputs"
            )
        checked["data_reference_mode"] = reference_mode
    return checked


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
        layout.validate_name("model", name)
        if not version.isdigit():
            raise InvalidInput(f"model id {model!r} needs a numeric version", field="models")
    return list(models)


def validate_run_after(step: dict[str, Any]) -> list[str]:
    run_after = step.get("run_after") or []
    if not isinstance(run_after, list):
        raise InvalidInput("'run_after' must be a list of step names", field="run_after")
    return [layout.validate_display_name("step", name) for name in run_after]


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
    entry_script = layout.validate_relative_path(step.get("entry_script"))
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
        "name": layout.validate_display_name("step", step.get("name")),
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


def validate_step(step: object) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise InvalidInput("each step must be an object", field="steps")
    kind = step.get("type", "ParallelRunStep")
    if kind == "PythonScriptStep":
        from shared.pipelines.script_definition import validate_script_step

        return validate_script_step(step)
    if kind != "ParallelRunStep":
        raise InvalidInput(f"step type {kind!r} is not supported; fninfer runs {' and '.join(STEP_TYPES)}")
    return _parallel_run_step(step)


def validate(definition: object) -> dict[str, Any]:
    """The definition, checked and with every default filled in, each step with the steps it depends on
    (`depends_on`); InvalidInput names the first problem."""
    from shared.pipelines import graph

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
