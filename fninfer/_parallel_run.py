"""`ParallelRunConfig` and `ParallelRunStep`, with `azureml.pipeline.steps`' signatures and meaning."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from fninfer._compute import AmlCompute
from fninfer._environment import Environment
from fninfer._exceptions import UserErrorException
from fninfer._model import Model
from fninfer._pipeline import REFERENCE, PipelineData, PipelineParameter
from fninfer._snapshot import snapshot
from fninfer._step import PipelineStep
from fninfer._step_data import consumption, input_spec, output_spec, produced_by
from fninfer._workspace import Workspace
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.pipelines.engine.definition import OUTPUT_ACTIONS, mini_batch_size

#: ParallelRunStep's own command-line arguments, which an entry script's arguments may not reuse (as in Azure ML).
RESERVED_ARGUMENTS = (
    "mini_batch_size",
    "error_threshold",
    "allowed_failed_count",
    "allowed_failed_percent",
    "output",
    "output_action",
    "logging_level",
    "process_count_per_node",
    "run_invocation_timeout",
    "run_max_try",
    "append_row_file_name",
    "partition_keys",
)


def _mini_batch_size(value: object) -> int | PipelineParameter | None:
    """A number of files (FileDataset: '5' or 5) or a size (TabularDataset: '1KB', '10MB', '1GB'), in bytes; None
    takes Azure ML's default for the input's kind (10 files, 1 MB). A PipelineParameter is kept (its default is
    checked)."""
    if isinstance(value, PipelineParameter):
        _mini_batch_size(value.default_value)
        return value
    return None if value is None else mini_batch_size(value)


def _check_arguments(arguments: list[Any]) -> None:
    for item in arguments:
        if isinstance(item, str) and item.startswith("--") and item[2:].split("=")[0] in RESERVED_ARGUMENTS:
            raise InvalidInput(
                f"'{item[2:].split('=')[0]}' is a reserved argument in ParallelRunStep, please use another argument "
                "name instead",
                field="arguments",
            )


class ParallelRunConfig:
    """Mirrors `azureml.pipeline.steps.ParallelRunConfig`."""

    def __init__(
        self,
        environment: Environment | None,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: int,
        process_count_per_node: int | None = None,
        mini_batch_size: str | int | PipelineParameter | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        description: str | None = None,
        logging_level: str = "INFO",
        run_invocation_timeout: int = 60,
        run_max_try: int = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: list[str] | PipelineParameter | None = None,
        environment_variables: dict[str, str] | None = None,
    ) -> None:
        if output_action not in OUTPUT_ACTIONS:
            raise InvalidInput(f"output_action must be one of {list(OUTPUT_ACTIONS)}", field="output_action")
        if mini_batch_size is not None and partition_keys is not None:
            raise InvalidInput(
                "Parameters mini_batch_size and partition_keys are mutually exclusive, because they specify "
                "different ways to partition the input datasets into mini-batches",
                field="partition_keys",
            )
        keys = partition_keys.default_value if isinstance(partition_keys, PipelineParameter) else partition_keys
        if isinstance(partition_keys, PipelineParameter):  # its default is a JSON list, as in Azure ML
            try:
                keys = json.loads(str(keys))
            except json.JSONDecodeError as exc:
                raise InvalidInput("a partition_keys PipelineParameter's default must be a JSON list") from exc
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            raise InvalidInput("partition_keys must be a list of column names", field="partition_keys")
        if isinstance(compute_target, AmlCompute) and isinstance(node_count, int):
            maximum = compute_target.scale_settings.maximum_node_count
            if not 0 < node_count <= maximum:
                raise InvalidInput(f"node_count '{node_count}' is not between 1 and max_nodes {maximum}.")
        self.environment = environment
        self.entry_script = entry_script
        self.error_threshold = error_threshold
        self.output_action = output_action
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.mini_batch_size = _mini_batch_size(mini_batch_size)
        # Without a source_directory, the entry script alone is snapshotted (see fninfer/_snapshot.py).
        self.source_directory = str(Path(source_directory).resolve()) if source_directory is not None else None
        self.description = description
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.environment_variables = dict(environment_variables or {})
        self.partition_keys = partition_keys
        if not (Path(self.source_directory or ".") / entry_script).is_file():
            where = f"in {self.source_directory}" if self.source_directory else "a file"
            raise InvalidInput(f"entry script {entry_script!r} is not {where}", field="entry_script")

    def save_to_yaml(self, path: str | os.PathLike[str]) -> None:
        """Write the configuration as Azure ML's YAML (`parallel_run_config:` with the same keys), which
        `ParallelRunConfig.load_yaml` reads back."""
        environment = self.environment
        config = {
            "mini_batch_size": _default(self.mini_batch_size),
            "partition_keys": _partition_keys(self.partition_keys),
            "error_threshold": self.error_threshold,
            "output_action": self.output_action,
            "logging_level": _default(self.logging_level),
            "compute_target_name": _compute_name(self.compute_target),
            "node_count": _default(self.node_count),
            "process_count_per_node": _default(self.process_count_per_node),
            "entry_script": self.entry_script,
            "source_directory": self.source_directory,
            "description": self.description,
            "run_invocation_timeout": _default(self.run_invocation_timeout),
            "run_max_try": _default(self.run_max_try),
            "append_row_file_name": self.append_row_file_name,
            "allowed_failed_count": self.allowed_failed_count,
            "allowed_failed_percent": self.allowed_failed_percent,
            "environment": None if environment is None else {"name": environment.name, **environment._definition()},
            "environment_variables": self.environment_variables,
        }
        with open(path, "w") as handle:
            yaml.safe_dump({"parallel_run_config": config}, handle, sort_keys=False)

    @staticmethod
    def load_yaml(workspace: Workspace, path: str | os.PathLike[str]) -> ParallelRunConfig:
        """A ParallelRunConfig from a YAML file `save_to_yaml` (fninfer's or Azure ML's) wrote; its environment is
        the one written in it, or the registered one it names (`environment_name`)."""
        with open(path) as handle:
            document = yaml.safe_load(handle)
        config = document.get("parallel_run_config") if isinstance(document, dict) else None
        if not isinstance(config, dict):
            raise UserErrorException(f"{path} has no 'parallel_run_config' section")
        mini_batch_size = config.get("mini_batch_size")
        return ParallelRunConfig(
            environment=_environment_of(config, workspace),
            entry_script=config.get("entry_script"),
            error_threshold=config.get("error_threshold"),
            output_action=config.get("output_action"),
            compute_target=config.get("compute_target_name"),
            node_count=config.get("node_count"),
            process_count_per_node=config.get("process_count_per_node"),
            mini_batch_size=None if mini_batch_size is None else str(mini_batch_size),
            source_directory=config.get("source_directory"),
            description=config.get("description"),
            logging_level=config.get("logging_level") or "INFO",
            run_invocation_timeout=config.get("run_invocation_timeout") or 60,
            run_max_try=config.get("run_max_try") or 3,
            append_row_file_name=config.get("append_row_file_name"),
            allowed_failed_count=config.get("allowed_failed_count"),
            allowed_failed_percent=config.get("allowed_failed_percent"),
            partition_keys=config.get("partition_keys"),
            environment_variables=config.get("environment_variables"),
        )

    def _config(self) -> dict[str, Any]:
        variables = {**(self.environment.environment_variables if self.environment else {})}
        variables.update(self.environment_variables)
        return {
            "mini_batch_size": self.mini_batch_size,
            "error_threshold": self.error_threshold,
            "output_action": self.output_action,
            "node_count": self.node_count,
            "process_count_per_node": self.process_count_per_node,
            "run_invocation_timeout": self.run_invocation_timeout,
            "run_max_try": self.run_max_try,
            "append_row_file_name": self.append_row_file_name,
            "allowed_failed_count": self.allowed_failed_count,
            "allowed_failed_percent": self.allowed_failed_percent,
            "environment_variables": variables,
            "description": self.description,
            "logging_level": self.logging_level,
            "compute_target": getattr(self.compute_target, "name", self.compute_target),
            "partition_keys": self.partition_keys,
        }

    def _environment(self) -> dict[str, Any] | None:
        if self.environment is None:
            return None
        return {
            "name": self.environment.name,
            "requirements": self.environment.python.conda_dependencies.requirements(),
        }


def _default(value: Any) -> Any:
    """A setting as YAML keeps it: a PipelineParameter's default value."""
    return value.default_value if isinstance(value, PipelineParameter) else value


def _partition_keys(value: Any) -> Any:
    return json.loads(str(value.default_value)) if isinstance(value, PipelineParameter) else value


def _compute_name(target: Any) -> str | None:
    return target if target is None or isinstance(target, str) else str(getattr(target, "name", target))


def _environment_of(config: dict[str, Any], workspace: Workspace) -> Environment | None:
    serialized = config.get("environment")
    if isinstance(serialized, str):  # a path to the environment's own YAML, as Azure ML allows
        with open(serialized) as handle:
            serialized = yaml.safe_load(handle)
    if isinstance(serialized, dict):
        name = str(serialized.get("name") or "environment")
        definition = {key: value for key, value in serialized.items() if key not in ("name", "version")}
        return Environment._from_record({"name": name, "version": serialized.get("version"), "definition": definition})
    if config.get("environment_name"):
        return Environment.get(workspace, name=config["environment_name"])
    raise ValueError("Parameter error: an environment must be provided")


class ParallelRunStep(PipelineStep):
    """Mirrors `azureml.pipeline.steps.ParallelRunStep` (also importable from `fninfer.contrib.pipeline.steps`). Its
    input is a dataset, or another step's output (a PipelineData, an OutputFileDatasetConfig, or its
    `read_delimited_files()` table), read as a dataset over that output's folder."""

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[Any],
        output: Any = None,
        side_inputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
        models: list[Model] | None = None,
    ) -> None:
        self._init_step()
        if len(inputs) != 1:
            raise InvalidInput("a ParallelRunStep takes one input: dataset.as_named_input(name)", field="inputs")
        inputs = [consumption(inputs[0])]
        _check_arguments(list(arguments or []))
        if side_inputs:
            raise InvalidInput("side_inputs are not supported yet; read extra files from the source_directory")
        self.name = name
        self.parallel_run_config = parallel_run_config
        self.inputs = list(inputs)
        self.output = output or PipelineData(layout.derived_name(f"{name}_output"))
        self.arguments = list(arguments or [])
        self.allow_reuse = allow_reuse
        self.models = list(models or [])
        output_spec(self.output)  # a PipelineData or an OutputFileDatasetConfig
        produced_by(self.output, self)

    def _step_inputs(self) -> list[Any]:
        return list(self.inputs)

    @property
    def running_on_windows(self) -> bool:
        """Azure ML runs a Windows environment's step on Windows nodes; a Function App runs Linux, always."""
        return False

    def _environment(self) -> Any:
        return self.parallel_run_config.environment

    def _spec(self, workspace: Workspace) -> dict[str, Any]:
        config = self.parallel_run_config
        step_input = input_spec(self.inputs[0], REFERENCE)
        code = snapshot(workspace, config.source_directory, config.entry_script)
        return {
            "type": "ParallelRunStep",
            "name": self.name,
            "snapshot": code.manifest,
            "entry_script": code.entry_script,
            "arguments": [a if isinstance(a, PipelineParameter) else str(a) for a in self.arguments],
            "config": config._config(),
            "environment": config._environment(),
            "input": step_input,
            "output": output_spec(self.output),
            "models": [model.id for model in self.models],
            "allow_reuse": self.allow_reuse,
        }

    def __repr__(self) -> str:
        return f"ParallelRunStep(name={self.name!r})"


class ContribParallelRunConfig(ParallelRunConfig):
    """`azureml.contrib.pipeline.steps.ParallelRunConfig`: the earlier signature (with `input_format`, and None
    meaning Azure ML's defaults for logging_level and run_invocation_timeout)."""

    def __init__(
        self,
        environment: Environment | None,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: int,
        process_count_per_node: int | None = None,
        mini_batch_size: str | int | PipelineParameter | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        description: str | None = None,
        logging_level: str | None = None,
        run_invocation_timeout: int | None = None,
        input_format: str | None = None,
        append_row_file_name: str | None = None,
    ) -> None:
        # input_format ("file" or "delimited") was how the first release told the input's kind; fninfer reads it
        # from the dataset itself
        super().__init__(
            environment,
            entry_script,
            error_threshold,
            output_action,
            compute_target,
            node_count,
            process_count_per_node=process_count_per_node,
            mini_batch_size=mini_batch_size,
            source_directory=source_directory,
            description=description,
            logging_level=logging_level or "INFO",
            run_invocation_timeout=run_invocation_timeout or 60,
            append_row_file_name=append_row_file_name,
        )
        self.input_format = input_format


class ContribParallelRunStep(ParallelRunStep):
    """`azureml.contrib.pipeline.steps.ParallelRunStep`: the earlier signature, with `models` (the models the step's
    Model.get_model_path(name) loads), `tags` and `properties`."""

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[Any],
        output: PipelineData | None = None,
        side_inputs: list[Any] | None = None,
        models: list[Model] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        add_parallel_run_step_dependencies: bool = True,
    ) -> None:
        super().__init__(name, parallel_run_config, inputs, output, side_inputs, arguments, allow_reuse, models)
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
