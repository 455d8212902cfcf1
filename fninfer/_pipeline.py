"""`Pipeline`, `PipelineData` and a step output's `PortDataReference`, as `azureml.pipeline.core` has them."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._dataset import DatasetConsumptionConfig, FileDataset
from fninfer._datastore import Datastore
from fninfer._exceptions import UserErrorException
from fninfer._step import PipelineStep, flatten
from fninfer._step_data import _DataOrigin
from fninfer._workspace import Workspace
from shared.core import validators
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from fninfer._pipeline_run import PipelineRun
    from fninfer._published import PublishedPipeline

log = logging.getLogger("fninfer.pipeline")

#: How a step's spec refers to a parameter (see shared/pipelines/engine/parameters.py).
REFERENCE = "$parameter"


class PipelineParameter:
    """Mirrors `azureml.pipeline.core.PipelineParameter`: a value a published pipeline's caller (its REST endpoint's
    `ParameterAssignments`, a schedule's `pipeline_parameters`) may set for each run. It can stand for a
    ParallelRunConfig setting (`mini_batch_size`, `error_threshold`, ...), an argument of the step, or, as the
    dataset of `DatasetConsumptionConfig(name, PipelineParameter(name, default_value=dataset))`, the step's input."""

    def __init__(self, name: str, default_value: Any) -> None:
        self.name = validators.validate_name("pipeline parameter", name)
        self.default_value = default_value

    def _declaration(self) -> dict[str, Any]:
        default = self.default_value
        if hasattr(default, "_step_input"):  # a FileDataset or a TabularDataset
            return {"kind": "dataset", "default": default._step_input()}
        if not isinstance(default, str | int | float | bool):
            raise InvalidInput(
                f"PipelineParameter {self.name!r}: default_value must be a string, a number or a dataset",
                field="default_value",
            )
        return {"kind": "value", "default": default}

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


def _resolve_parameters(value: Any, declared: dict[str, dict[str, Any]]) -> Any:
    """`value` (a step spec) with each PipelineParameter replaced by a reference, its declaration collected."""
    if isinstance(value, PipelineParameter):
        declaration = value._declaration()
        if declared.setdefault(value.name, declaration) != declaration:
            raise InvalidInput(f"two PipelineParameters are named {value.name!r} with different defaults")
        return {REFERENCE: value.name}
    if isinstance(value, dict):
        resolved = {key: _resolve_parameters(item, declared) for key, item in value.items()}
        if isinstance(resolved.get(REFERENCE), dict):  # {"name": ..., "$parameter": <parameter>}: the step's input
            resolved[REFERENCE] = resolved[REFERENCE][REFERENCE]
        return resolved
    if isinstance(value, list):
        return [_resolve_parameters(item, declared) for item in value]
    return value


class PipelineData:
    """Mirrors `azureml.pipeline.core.PipelineData`: a step's output folder on a datastore, and later steps' input.
    It lives at `azureml/<step run id>/<name>/` there, as in Azure ML; `output_path_on_compute`, `output_mode` and
    `output_overwrite` describe how an Azure ML node writes it and have no meaning on Functions (a script step
    writes a local folder that is uploaded when it ends; a ParallelRunStep's output is written by the app, and
    EntryScript().output_dir is uploaded after each mini-batch)."""

    def __init__(
        self,
        name: str,
        datastore: Datastore | None = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ) -> None:
        self.name = name
        self.datastore = datastore
        self.output_name = output_name or name
        self.output_path_on_compute = output_path_on_compute
        self.output_mode = output_mode
        self.output_overwrite = output_overwrite
        self.data_type = data_type
        self.is_directory = is_directory
        self.pipeline_output_name = pipeline_output_name
        self.training_output = training_output
        self._origin = _DataOrigin()

    def as_input(self, input_name: str) -> DatasetConsumptionConfig:
        """This data as a later step's input named `input_name` (a folder)."""
        return DatasetConsumptionConfig(input_name, self, "mount")

    def as_mount(self, input_name: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(input_name or self.name, self, "mount")

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(input_name or self.name, self, "download", path_on_compute)

    def create_input_binding(
        self,
        input_name: str | None = None,
        mode: str | None = None,
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
    ) -> DatasetConsumptionConfig:
        """This data as a later step's input (Azure ML's InputPortBinding: a name, a mode, a local path)."""
        return DatasetConsumptionConfig(input_name or self.name, self, mode or "mount", path_on_compute)

    def as_dataset(self) -> PipelineData:
        """Azure ML's PipelineOutputFileDataset: here the same data, which `as_named_input(name)`,
        `as_mount()` and `as_download()` make a step input."""
        return self

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self, "mount")

    def get_env_variable_name(self) -> str:
        """The variable that holds this data's local folder in a script step, as in Azure ML."""
        return f"AZUREML_DATAREFERENCE_{self.name}"

    def _output_spec(self) -> dict[str, Any]:
        return {"name": self.name, "datastore": self.datastore.name if self.datastore else None}

    def _read_as(self) -> dict[str, Any]:
        return {"kind": "file"}

    def __repr__(self) -> str:
        return f"PipelineData(name={self.name!r}, datastore={getattr(self.datastore, 'name', None)!r})"


class Pipeline:
    """Mirrors `azureml.pipeline.core.Pipeline`: steps (ParallelRunSteps, PythonScriptSteps, StepSequences) whose
    order follows their data (a step that reads another's output runs after it) and `run_after`. With
    `resolve_closure` (the default, as in Azure ML) the steps that write the given steps' inputs are added."""

    def __init__(
        self,
        workspace: Workspace,
        steps: Any,
        description: str | None = None,
        default_datastore: Datastore | None = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        **kwargs: Any,
    ) -> None:
        self.workspace = workspace
        self.steps = _with_closure(flatten(steps)) if resolve_closure else flatten(steps)
        if not self.steps:
            raise InvalidInput("a pipeline needs at least one step", field="steps")
        self.description = description
        self.default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        unknown = sorted(set(kwargs) - {"enable_email_notification"})
        if unknown:
            raise ValueError(f"parameter {unknown[0]} is not recognized for Pipeline ")
        self._enable_email_notification = kwargs.get("enable_email_notification")
        # What Azure ML's Pipeline keeps, which real code reads: its name (the description until an experiment
        # names it) and the experiment it was last submitted to.
        self._name = description
        self._experiment_name: str | None = None

    def _set_experiment_name(self, name: str) -> None:
        """Azure ML's: the experiment the pipeline is submitted to names it when it has no description."""
        self._experiment_name = name
        if self._name is None:
            self._name = name

    @property
    def graph(self) -> PipelineGraph:
        """The pipeline's steps and parameters, as fninfer builds its definition (Azure ML's Graph of module
        nodes has no counterpart: the app runs the JSON definition)."""
        return PipelineGraph(self)

    def service_endpoint(self) -> str:
        """Where the pipeline is submitted: the app's API."""
        return str(self.workspace.config.api_url)

    @staticmethod
    def load_yaml(
        workspace: Workspace, filename: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> Pipeline:
        """Azure ML's pipeline YAML describes ModuleSteps (modules published in the workspace); fninfer runs
        PythonScriptSteps and ParallelRunSteps built in Python, so there is no module to load."""
        raise UserErrorException(
            "Pipeline.load_yaml is not supported: its YAML describes ModuleSteps, which fninfer does not have; build "
            "the steps as PythonScriptStep / ParallelRunStep objects"
        )

    def _definition(
        self, continue_on_step_failure: bool | None = None, register_environments: bool = True
    ) -> dict[str, Any]:
        """The JSON definition the app runs (uploading each step's source_directory snapshot), its
        PipelineParameters declared once and referred to where they are used. Submitting or publishing registers
        the steps' environments, as Azure ML does (`register_environments`)."""
        declared: dict[str, dict[str, Any]] = {}
        steps = []
        for step in self.steps:
            spec = _resolve_parameters(step._spec(self.workspace), declared)
            spec["run_after"] = [other.name for other in step._run_after]
            steps.append(spec)
        definition: dict[str, Any] = {"parameters": declared, "steps": steps}
        if continue_on_step_failure is not None:
            definition["continue_on_step_failure"] = bool(continue_on_step_failure)
        if register_environments:
            self._register_environments()
        return definition

    def _register_environments(self) -> None:
        """Register each step's environment that asks for packages (the same definition again is the same version),
        as Azure ML registers an environment when a run uses it: `fninfer package --from-environments` and `fninfer
        install --from-environments` then bring its packages to the app. Curated `AzureML-` ones are Azure ML's."""
        seen: list[Any] = []
        for step in self.steps:
            environment = step._environment()
            if environment is None or any(environment is other for other in seen):
                continue
            seen.append(environment)
            name = getattr(environment, "name", None)
            if name and not name.startswith("AzureML-") and environment.python.conda_dependencies.requirements():
                try:
                    environment.register(self.workspace)
                except InvalidInput as exc:  # a name the registry refuses: the step still runs, unregistered
                    log.warning("environment %r of step %r is not registered: %s", name, step.name, exc.message)

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool = False,
        regenerate_outputs: bool = False,
        parent_run_id: str | None = None,
        credential_passthrough: bool | None = None,
        **kwargs: Any,
    ) -> PipelineRun:
        """Start a run in experiment `experiment_name`: `Experiment(ws, experiment_name).submit(pipeline, ...)`."""
        from fninfer._experiment import Experiment

        self._set_experiment_name(experiment_name)
        experiment = Experiment(self.workspace, experiment_name)
        return experiment.submit(
            self,
            regenerate_outputs=regenerate_outputs,
            pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure,
            **kwargs,
        )

    def validate(self) -> list[str]:
        """The problems the app would refuse this pipeline for (none: an empty list), checked with its parameters'
        defaults, as publishing checks it (Azure ML's validate() returns its graph's errors the same way)."""
        from shared.pipelines.engine.submit import check_template

        try:
            check_template(self.workspace.storage, self._definition(register_environments=False))
        except InvalidInput as exc:
            return [exc.message]
        return []

    def publish(
        self,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PublishedPipeline:
        """Publish the pipeline: a REST endpoint that runs it (see PublishedPipeline)."""
        from fninfer._published import PublishedPipeline

        body = {
            "pipeline": self._definition(),
            "name": name or f"pipeline-{self.steps[-1].name}",
            "description": description or self.description,
            "version": version,
            "continue_on_step_failure": continue_on_step_failure,
        }
        return PublishedPipeline(
            self.workspace, self.workspace.client.request("POST", "pipelines/published", json=body)
        )

    def __repr__(self) -> str:
        return f"Pipeline(steps={[step.name for step in self.steps]})"


class PipelineGraph:
    """What `pipeline.graph` shows: the steps (in the order they are listed, upstream ones first), the pipeline
    parameters they use, and `validate()`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    @property
    def name(self) -> str | None:
        return self._pipeline._name

    @property
    def nodes(self) -> list[PipelineStep]:
        return list(self._pipeline.steps)

    @property
    def module_nodes(self) -> list[PipelineStep]:
        return self.nodes

    @property
    def params(self) -> dict[str, PipelineParameter]:
        found: dict[str, PipelineParameter] = {}
        visited: set[int] = set()

        def collect(value: Any) -> None:
            if id(value) in visited:
                return
            visited.add(id(value))
            if isinstance(value, PipelineParameter):
                found.setdefault(value.name, value)
            elif isinstance(value, dict):
                for item in value.values():
                    collect(item)
            elif isinstance(value, list | tuple):
                for item in value:
                    collect(item)
            elif isinstance(value, DatasetConsumptionConfig):
                collect(value.dataset)
            elif hasattr(value, "__dict__") and not isinstance(value, type):
                for key, item in vars(value).items():
                    if not key.startswith("_") and key not in ("workspace", "datastore"):
                        collect(item)

        for step in self._pipeline.steps:
            collect(step)
        return found

    def validate(self) -> list[str]:
        return self._pipeline.validate()

    def __repr__(self) -> str:
        return f"PipelineGraph(nodes={[step.name for step in self.nodes]})"


def _with_closure(steps: list[PipelineStep]) -> list[PipelineStep]:
    """The steps, with those upstream of them (writers of their inputs, run_after) added before them."""
    found: list[PipelineStep] = []
    visiting: list[PipelineStep] = []  # a cycle is left for the app's check to name

    def add(step: PipelineStep) -> None:
        if step in found or step in visiting:
            return
        visiting.append(step)
        for before in step._upstream():
            add(before)
        if step not in found:
            found.append(step)

    for step in steps:
        add(step)
    return found


class PortDataReference:
    """Mirrors `azureml.pipeline.core.PortDataReference`: a step run's output on its datastore, which a later
    pipeline's step can take as an input (`as_input`, `as_mount`, `as_download`: its folder)."""

    def __init__(self, workspace: Workspace, output: dict[str, Any], pipeline_run_id: str | None = None) -> None:
        self.workspace = workspace
        self._output = output
        self.name: str = output["name"]
        self.data_reference_name: str = output["name"]
        self.datastore_name: str = output["datastore"]
        self.path_on_datastore: str = output["prefix"]
        self.pipeline_run_id = pipeline_run_id
        self._container: str = output["container"]

    def _dataset(self) -> FileDataset:
        folder = {"datastore": self.datastore_name, "path": self.path_on_datastore.rstrip("/")}
        return FileDataset(self.workspace, {"kind": "file", "paths": [folder], "partition_format": None}, {})

    def create_input_binding(
        self,
        input_name: str | None = None,
        mode: str | None = None,
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
    ) -> DatasetConsumptionConfig:
        """The output folder as a step's input (its files, downloaded before the step runs)."""
        named = input_name or self.data_reference_name
        return DatasetConsumptionConfig(named, self._dataset(), mode or "mount", path_on_compute)

    def as_input(self, input_name: str) -> DatasetConsumptionConfig:
        return self.create_input_binding(input_name)

    def as_mount(self, input_name: str | None = None) -> DatasetConsumptionConfig:
        return self.create_input_binding(input_name, "mount")

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> DatasetConsumptionConfig:
        return self.create_input_binding(input_name, "download", path_on_compute)

    def download(self, local_path: str | os.PathLike[str], overwrite: bool = False, show_progress: bool = True) -> str:
        """Download the output folder under `local_path` (keeping `azureml/<step run id>/<name>/`); returns it."""
        datastore = Datastore(self.workspace, self.datastore_name, container_name=self._container)
        datastore.download(local_path, prefix=self.path_on_datastore, overwrite=overwrite, show_progress=show_progress)
        return str(Path(local_path) / self.path_on_datastore)

    @property
    def datastore(self) -> Datastore:
        return Datastore(self.workspace, self.datastore_name, container_name=self._container)

    def __repr__(self) -> str:
        return f"PortDataReference(name={self.name!r}, path_on_datastore={self.path_on_datastore!r})"
