"""`PythonScriptStep`, with `azureml.pipeline.steps`' signature and meaning: a script from `source_directory` run as
`python <script_name> <arguments>` in a step of its own (shared/pipelines/scripts/script_step.py runs it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fninfer._dataset import DatasetConsumptionConfig
from fninfer._datastore import DataReference
from fninfer._pipeline import REFERENCE, PipelineParameter
from fninfer._runconfig import RunConfiguration
from fninfer._snapshot import snapshot
from fninfer._step import PipelineStep
from fninfer._step_data import consumption, input_spec, is_step_data, output_spec, produced_by
from fninfer._workspace import Workspace
from shared.core.errors import InvalidInput

DATA_REFERENCE = "$data"


class PythonScriptStep(PipelineStep):
    """Mirrors `azureml.pipeline.steps.PythonScriptStep`.

    `arguments` may hold strings, numbers, PipelineParameters, and the step's inputs and outputs (PipelineData,
    OutputFileDatasetConfig, `dataset.as_named_input(name).as_mount()`, ...): each becomes its local folder when
    the script runs. An output given only in the arguments is an output of this step, an input given only there an
    input, as in Azure ML. `params` become `AML_PARAMETER_<name>` environment variables. `runconfig` gives the
    environment (checked against the app's packages), its environment variables and `max_run_duration_seconds`
    (the script's timeout). `compute_target`, `version` and `hash_paths` are kept: the compute is the Function App,
    and the whole source_directory is hashed for allow_reuse."""

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: RunConfiguration | None = None,
        runconfig_pipeline_params: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: list[str] | None = None,
    ) -> None:
        self._init_step()
        if runconfig_pipeline_params:
            raise InvalidInput("runconfig_pipeline_params are not supported: pass PipelineParameters as arguments")
        self.name = name or script_name
        self.script_name = script_name
        self.source_directory = str(Path(source_directory).resolve()) if source_directory is not None else None
        if not (Path(self.source_directory or ".") / script_name).is_file():
            where = f"in {self.source_directory}" if self.source_directory else "a file"
            raise InvalidInput(f"script {script_name!r} is not {where}", field="script_name")
        self.arguments = list(arguments or [])
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.inputs = [consumption(source) for source in inputs or []]
        self.outputs = list(outputs or [])
        self._take_data_from_arguments()
        for output in self.outputs:
            output_spec(output)
            produced_by(output, self)
        self.params = dict(params or {})
        self.allow_reuse = allow_reuse
        self.version = version
        self.hash_paths = hash_paths

    def _take_data_from_arguments(self) -> None:
        """Inputs and outputs named only in the arguments join `inputs` / `outputs`."""
        known_inputs = {source.name for source in self.inputs}
        known_outputs = {output.name for output in self.outputs}
        for value in self.arguments:
            if isinstance(value, DataReference):
                value = consumption(value)
            if isinstance(value, DatasetConsumptionConfig) and value.name not in known_inputs:
                self.inputs.append(value)
                known_inputs.add(value.name)
            elif is_step_data(value) and value.name not in known_inputs | known_outputs:
                if value._origin.producer is not None:  # written by an earlier step: read here
                    self.inputs.append(consumption(value))
                    known_inputs.add(value.name)
                else:
                    self.outputs.append(value)
                    known_outputs.add(value.name)

    def _step_inputs(self) -> list[Any]:
        return list(self.inputs)

    def _argument(self, value: Any) -> Any:
        if isinstance(value, PipelineParameter):
            return value
        if isinstance(value, DatasetConsumptionConfig):
            return {DATA_REFERENCE: value.name}
        if isinstance(value, DataReference):
            return {DATA_REFERENCE: value.data_reference_name}
        if is_step_data(value):
            return {DATA_REFERENCE: value.name}
        if isinstance(value, str | int | float | bool):
            return str(value)
        raise InvalidInput(
            f"argument {value!r} must be a string, a number, a PipelineParameter, or an input or output of the step",
            field="arguments",
        )

    def _environment(self) -> Any:
        return self.runconfig.environment if self.runconfig is not None else None

    def _runconfig(self) -> dict[str, Any]:
        runconfig = self.runconfig
        if runconfig is None:
            return {"environment": None, "environment_variables": {}, "timeout": None}
        environment = runconfig.environment
        return {
            "environment": {
                "name": environment.name,
                "requirements": environment.python.conda_dependencies.requirements(),
            },
            "environment_variables": dict(environment.environment_variables),
            "timeout": runconfig.max_run_duration_seconds,
        }

    def _spec(self, workspace: Workspace) -> dict[str, Any]:
        code = snapshot(workspace, self.source_directory, self.script_name)
        return {
            "type": "PythonScriptStep",
            "name": self.name,
            "snapshot": code.manifest,
            "script_name": code.entry_script,
            "arguments": [self._argument(value) for value in self.arguments],
            "inputs": [input_spec(source, REFERENCE) for source in self.inputs],
            "outputs": [output_spec(output) for output in self.outputs],
            "params": {
                key: value if isinstance(value, PipelineParameter) else str(value) for key, value in self.params.items()
            },
            **self._runconfig(),
            "compute_target": _compute_name(self.compute_target),
            "allow_reuse": self.allow_reuse,
        }

    def __repr__(self) -> str:
        return f"PythonScriptStep(name={self.name!r}, script_name={self.script_name!r})"


def _compute_name(target: Any) -> str | None:
    """A compute target object, its name, or Azure ML's ('name', 'type') tuple, as its name."""
    if isinstance(target, tuple):
        return str(target[0])
    return getattr(target, "name", target)
