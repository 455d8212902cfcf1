"""`ParallelRunConfig` and `ParallelRunStep`, with `azureml.pipeline.steps`' signatures and meaning."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from fninfer._dataset import DatasetConsumptionConfig
from fninfer._environment import Environment
from fninfer._model import Model
from fninfer._pipeline import PipelineData, PipelineParameter
from fninfer._snapshot import snapshot
from fninfer._workspace import Workspace
from shared.errors import InvalidInput
from shared.pipelines.definition import CONFIG_DEFAULTS, OUTPUT_ACTIONS


def _mini_batch_size(value: object) -> int | PipelineParameter:
    """For a FileDataset, a number of files ('5' or 5); Azure ML's default is 10. A PipelineParameter is kept (its
    default is checked)."""
    if isinstance(value, PipelineParameter):
        _mini_batch_size(value.default_value)
        return value
    if value is None:
        return int(CONFIG_DEFAULTS["mini_batch_size"])
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise InvalidInput(
            f"mini_batch_size {value!r}: for a FileDataset it is a number of files, like '5'", field="mini_batch_size"
        )
    return int(text)


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
        partition_keys: list[str] | None = None,
        environment_variables: dict[str, str] | None = None,
    ) -> None:
        if output_action not in OUTPUT_ACTIONS:
            raise InvalidInput(f"output_action must be one of {list(OUTPUT_ACTIONS)}", field="output_action")
        if partition_keys:
            raise InvalidInput("partition_keys applies to tabular datasets, which fninfer does not run yet")
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
        if not (Path(self.source_directory or ".") / entry_script).is_file():
            where = f"in {self.source_directory}" if self.source_directory else "a file"
            raise InvalidInput(f"entry script {entry_script!r} is not {where}", field="entry_script")

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
        }

    def _environment(self) -> dict[str, Any] | None:
        if self.environment is None:
            return None
        return {
            "name": self.environment.name,
            "requirements": self.environment.python.conda_dependencies.requirements(),
        }


class ParallelRunStep:
    """Mirrors `azureml.pipeline.steps.ParallelRunStep` (also importable from `fninfer.contrib.pipeline.steps`)."""

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[DatasetConsumptionConfig],
        output: PipelineData | None = None,
        side_inputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
        models: list[Model] | None = None,
    ) -> None:
        if len(inputs) != 1 or not isinstance(inputs[0], DatasetConsumptionConfig):
            raise InvalidInput("a ParallelRunStep takes one input: dataset.as_named_input(name)", field="inputs")
        if side_inputs:
            raise InvalidInput("side_inputs are not supported yet; read extra files from the source_directory")
        self.name = name
        self.parallel_run_config = parallel_run_config
        self.inputs = list(inputs)
        self.output = output or PipelineData(f"{name}_output")
        self.arguments = list(arguments or [])
        self.allow_reuse = allow_reuse
        self.models = list(models or [])

    def _spec(self, workspace: Workspace) -> dict[str, Any]:
        config = self.parallel_run_config
        named = self.inputs[0]
        dataset = named.dataset
        if isinstance(dataset, PipelineParameter):
            step_input: dict[str, Any] = {"name": named.name, "$parameter": dataset}
        else:
            reference = {"name": dataset.name, "version": dataset.version} if dataset.name else None
            step_input = {"name": named.name, "dataset": reference, "paths": dataset._paths}
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
            "output": {
                "name": self.output.name,
                "datastore": self.output.datastore.name if self.output.datastore else None,
            },
            "models": [model.id for model in self.models],
            "allow_reuse": self.allow_reuse,
        }

    def __repr__(self) -> str:
        return f"ParallelRunStep(name={self.name!r})"
