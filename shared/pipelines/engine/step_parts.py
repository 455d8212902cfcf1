"""What every step type declares alike, checked: its environment, its inputs (a dataset, or another step's output), its
outputs and `run_after`. definition.py (ParallelRunStep) and script_definition.py (PythonScriptStep) build on it.
"""

from __future__ import annotations

from typing import Any

from shared.core import layout, validators
from shared.core.errors import InvalidInput
from shared.core.settings import ENVIRONMENT_CHECK
from shared.registry import tabular
from shared.registry.datasets import parse_definition
from shared.registry.installed_packages import check_environment, check_mode

INPUT_MODES = ("direct", "mount", "download")
#: A DataReference input's modes (a PythonScriptStep's): "mount" downloads the path and uploads back what the script
#: wrote there, "download" only downloads, "upload" starts empty and uploads.
DATA_REFERENCE_MODES = ("mount", "download", "upload")


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
        "name": validators.validate_name("output", output.get("name")),
        "datastore": validators.validate_name("datastore", output.get("datastore") or layout.DEFAULT_DATASTORE_NAME),
    }
    destination = output.get("destination")
    if destination is not None:
        filled = str(destination)
        for placeholder in DESTINATION_PLACEHOLDERS:
            filled = filled.replace(placeholder, "x")
        validators.validate_datastore_path(filled, "destination")
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
        tags = validators.string_values(
            register.get("tags"),
            "register",
            absent="falsy",
            message="register_on_complete tags must be an object of strings",
        )
        checked["register"] = {
            "name": validators.validate_name("dataset", register.get("name")),
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
        path_on_compute = validators.validate_datastore_path(path_on_compute, "path_on_compute")
    checked: dict[str, Any] = {
        "name": validators.validate_name("input", source.get("name")),
        "data": validators.validate_name("output", source.get("data")),
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
        path_on_compute = validators.validate_datastore_path(path_on_compute, "path_on_compute")
    defined = parse_definition(source)
    if defined["kind"] == "tabular" and mode != "direct":
        raise InvalidInput(
            "a TabularDataset input is consumed directly (as_mount/as_download are for FileDatasets), as in Azure ML",
            field="inputs",
        )
    checked = {
        "name": validators.validate_name("input", source.get("name")),
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


def validate_run_after(step: dict[str, Any]) -> list[str]:
    run_after = step.get("run_after") or []
    if not isinstance(run_after, list):
        raise InvalidInput("'run_after' must be a list of step names", field="run_after")
    return [validators.validate_display_name("step", name) for name in run_after]
