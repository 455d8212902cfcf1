"""`ScriptRunConfig`, with `azureml.core.ScriptRunConfig`'s signature and meaning: a script (or `python <script>`
command) from `source_directory`, with its arguments, run configuration, compute target and environment, which
`Experiment.submit` runs as a script run (shared/pipelines/scripts/script_run.py) and answers with a ScriptRun.

On fninfer the script runs as a PythonScriptStep's script does (its engine, with no pipeline around it): `python
<script> <arguments>` in a fresh folder with the source directory's files, in the Function App's environment (the
run's environment is checked against it, as a step's), with `Run.get_context()` being the run. Distributed training
cannot run there: a distributed_job_config that asks for more than one node or process is refused at submit, with
RunConfigurationException saying why.
"""

from __future__ import annotations

import copy
import logging
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._dataset import AbstractDataset, DatasetConsumptionConfig
from fninfer._datastore import DataPath, DataPathComputeBinding, DataReference
from fninfer._environment import Environment
from fninfer._exceptions import RunConfigurationException, UserErrorException
from fninfer._pipeline import PipelineParameter
from fninfer._python_script_step import PythonScriptStep
from fninfer._runconfig import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    TensorflowConfiguration,
)
from fninfer._script_run import ScriptRun
from fninfer._step_data import is_step_data

if TYPE_CHECKING:
    from fninfer._experiment import Experiment

log = logging.getLogger("fninfer.script_run")

#: How a data reference appears in arguments as text (str(DataReference)), as Azure ML writes it.
DATA_REFERENCE_PREFIX = "$AZUREML_DATAREFERENCE_"
#: What `command` may run: a Python script, as `python [-u] <script>.py <arguments>`.
PYTHON_COMMANDS = ("python", "python3", "python.exe")


class ScriptRunConfig:
    """Mirrors `azureml.core.ScriptRunConfig` (see the module docstring for how fninfer runs it).

    `arguments` may hold strings, numbers (any value: passed as its text, as in Azure ML), datasets' consumption
    configs (`dataset.as_named_input(name)`, `.as_mount()`, `.as_download()`), DataReferences and
    OutputFileDatasetConfigs: each becomes its local path when the script runs. With `run_config`, its script,
    arguments and command are taken where these are not given, and compute_target, environment,
    distributed_job_config, max_run_duration_seconds and docker_runtime_config are ignored (as Azure ML warns)."""

    MAX_DURATION_SECONDS_DEFAULT = 2592000
    DELIM = "#"

    def __init__(
        self,
        source_directory: str,
        script: str | None = None,
        arguments: list[Any] | str | None = None,
        run_config: RunConfiguration | None = None,
        _telemetry_values: dict[str, Any] | None = None,
        compute_target: Any = None,
        environment: Environment | None = None,
        distributed_job_config: Any = None,
        resume_from: DataPath | None = None,
        max_run_duration_seconds: int | None = MAX_DURATION_SECONDS_DEFAULT,
        command: list[str] | str | None = None,
        docker_runtime_config: DockerConfiguration | None = None,
    ) -> None:
        self.source_directory = source_directory
        self.script = script
        self.command = command
        self.arguments = arguments
        self._default_environment: Environment | None = None

        if run_config:
            ignored = [compute_target, environment, distributed_job_config, docker_runtime_config]
            if max_run_duration_seconds != ScriptRunConfig.MAX_DURATION_SECONDS_DEFAULT or any(ignored):
                log.warning(
                    "If 'run_config' is specified, the following parameters will be ignored: 'compute_target', "
                    "'environment', 'distributed_job_config', 'max_run_duration_seconds', and "
                    "'docker_runtime_config'."
                )
            if run_config.script and self.script:
                log.warning("'script' given here takes precedence over the script named in 'run_config'.")
            elif run_config.script:
                self.script = run_config.script
            if run_config.arguments and self.arguments:
                log.warning("'arguments' given here take precedence over the arguments in 'run_config'.")
            elif run_config.arguments:
                self.arguments = run_config.arguments
            if run_config.command and self.command:
                log.warning("'command' given here takes precedence over the command in 'run_config'.")
            elif run_config.command:
                self.command = run_config.command
            self.run_config = run_config
        else:
            self.run_config = RunConfiguration()
            self.run_config.target = compute_target if compute_target else "local"
            if environment is None:
                self._default_environment = Environment("default-environment")
            self.run_config.environment = environment or self._default_environment
            self.run_config.max_run_duration_seconds = max_run_duration_seconds
            if distributed_job_config:
                _record_distribution(self.run_config, distributed_job_config)
            if docker_runtime_config:
                if not isinstance(docker_runtime_config, DockerConfiguration):
                    raise RunConfigurationException("'docker_runtime_config' must be a 'DockerConfiguration' object.")
                self.run_config.docker = docker_runtime_config
            elif environment is not None and environment.docker is not None:
                docker = environment.docker
                self.run_config.docker = DockerConfiguration(
                    use_docker=docker.enabled,
                    shm_size=docker.shm_size,
                    shared_volumes=docker.shared_volumes,
                    arguments=docker.arguments,
                )

        if resume_from:
            if not isinstance(resume_from, DataPath):
                raise UserErrorException(
                    f"resume_from parameter should be of type DataPath. Found {type(resume_from)}."
                )
            reference = resume_from.create_data_reference(
                data_reference_name="MODEL_LOCATION", datapath_compute_binding=DataPathComputeBinding(mode="mount")
            )
            if self.arguments is None:
                self.arguments = []
            self.arguments.extend(["--resume-from", str(reference)])  # type: ignore[union-attr]
            self.run_config.data_references[reference.data_reference_name] = reference

        self._telemetry_values = _telemetry_values

    @property
    def identity(self) -> str:
        """Azure ML's logging identity of the object."""
        return f"{type(self).__name__}{self.DELIM}{id(self)}"

    # -- submitting -----------------------------------------------------------------------------------------------

    def _entry(self) -> tuple[str, list[Any]]:
        """The script and its arguments: `script` and `arguments`, or what `command` runs."""
        if self.command and self.script:
            raise UserErrorException(
                "Both command and script/arguments were given: a ScriptRunConfig runs one or the other, as in Azure ML"
            )
        if self.command:
            return _python_command(self.command)
        if not self.script:
            raise UserErrorException("A ScriptRunConfig needs a 'script' (or a 'command') to run")
        arguments = self.arguments
        if isinstance(arguments, str):
            arguments = shlex.split(arguments)
        return self.script, list(arguments or [])

    def _inputs(self) -> list[Any]:
        """The run configuration's data: its datasets (`data`) and data references (`data_references`)."""
        data = list(self.run_config.data.values()) + list(self.run_config.data_references.values())
        return [value for value in data if isinstance(value, DatasetConsumptionConfig | DataReference)]

    def _argument(self, value: Any) -> Any:
        """An argument as the script step takes it: data as itself (its local path when the script runs), a data
        reference's text as that reference, a number as it is, anything else as its text (Azure ML passes str())."""
        if isinstance(value, AbstractDataset):
            raise UserErrorException(
                "Dataset cannot be used directly in a run. If you are using a FileDataset and would like to mount or "
                "download the dataset, please call the as_mount or the as_download methods on the dataset object. "
                "If you would like to use the direct mode, please call the as_named_input method on the dataset "
                "object to convert the dataset into a DatasetConsumptionConfig."
            )
        if isinstance(value, PipelineParameter):
            raise UserErrorException(
                f"PipelineParameter {value.name!r} is a pipeline's parameter: a script run takes the value itself"
            )
        if isinstance(value, DatasetConsumptionConfig | DataReference) or is_step_data(value):
            return value
        if isinstance(value, str):
            reference = self.run_config.data_references.get(value[len(DATA_REFERENCE_PREFIX) :])
            if value.startswith(DATA_REFERENCE_PREFIX) and isinstance(reference, DataReference):
                return reference
            return value
        if isinstance(value, bool | int | float):
            return value
        return str(value)

    def _check_single_node(self) -> None:
        """Refuse a distributed run (RunConfigurationException, naming why): the app runs the script once."""
        config = self.run_config
        nodes = int(config.node_count or 1)
        processes = 1
        if config.communicator == "IntelMpi":
            processes = int(config.mpi.process_count_per_node or 1)
        elif config.framework == "PyTorch":
            processes = int(config.pytorch.process_count or nodes)
        if nodes > 1 or processes > 1:
            asked = f"{nodes} nodes" if nodes > 1 else f"{processes} processes"
            raise RunConfigurationException(
                f"this run's distributed_job_config ({config.framework}, communicator {config.communicator}) asks "
                f"for {asked}: Azure ML starts that many nodes or processes on the compute target and launches the "
                "script on each (MPI, torch.distributed or a TensorFlow cluster), while fninfer runs a script run "
                "once, as one process on one Function App instance. Use node_count=1 and one process, or spread "
                "the work over instances with a ParallelRunStep."
            )

    def _spec(self, workspace: Any) -> dict[str, Any]:
        """The script run's definition as the app takes it: the script step's (snapshot uploaded)."""
        self._check_single_node()
        script, arguments = self._entry()
        source = Path(self.source_directory or ".")
        if not (source / script).is_file():
            raise UserErrorException(f"script {script!r} is not a file in source_directory {str(source.resolve())!r}")
        step = PythonScriptStep(
            script_name=script,
            name=script,
            arguments=[self._argument(value) for value in arguments],
            compute_target=self.run_config.target,
            runconfig=self.run_config,
            inputs=self._inputs(),
            source_directory=str(source),
            allow_reuse=False,
        )
        spec = step._spec(workspace)
        if self.run_config.environment is self._default_environment:
            spec["environment"] = None  # Azure ML's default image: the app's environment as it is
        return spec

    def _submit(
        self, experiment: Experiment, tags: dict[str, str | None] | None = None, run_id: str | None = None
    ) -> ScriptRun:
        """Start the script run in `experiment` (what Experiment.submit does with a ScriptRunConfig)."""
        body = {"script": self._spec(experiment.workspace), "tags": tags or {}, "run_id": run_id}
        record = experiment.workspace.client.request("POST", f"experiments/{experiment.name}/startrun", json=body)
        return ScriptRun(experiment, record["id"], directory=self.source_directory, _run_config=self.run_config)

    def __repr__(self) -> str:
        return f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r})"


def _record_distribution(run_config: RunConfiguration, config: Any) -> None:
    """Keep a distributed job's configuration in the run configuration, as Azure ML does (refused at submit when it
    asks for more than one node or process)."""
    if not isinstance(config, TensorflowConfiguration | MpiConfiguration | PyTorchConfiguration):
        raise RunConfigurationException(
            "'distributed_job_config' must be an 'azureml.core.runconfig.TensorflowConfiguration', "
            "'azureml.core.runconfig.MpiConfiguration', or 'azureml.core.runconfig.PyTorchConfiguration' object."
        )
    if isinstance(config, TensorflowConfiguration):
        run_config.node_count = config.worker_count
        run_config.tensorflow = config
        run_config.framework, run_config.communicator = "TensorFlow", "ParameterServer"
    elif isinstance(config, MpiConfiguration):
        run_config.node_count = config.node_count
        run_config.mpi = config
        run_config.framework, run_config.communicator = "Python", "IntelMpi"
    else:
        run_config.node_count = config.node_count
        run_config.pytorch = config
        run_config.framework, run_config.communicator = "PyTorch", config.communication_backend


def _python_command(command: list[Any] | str) -> tuple[str, list[Any]]:
    """`python [-u] <script>.py <arguments>` as (script, arguments); any other command is refused, naming why."""
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    words = [str(part) for part in parts]
    if words and Path(words[0]).name in PYTHON_COMMANDS:
        position = 1
        while position < len(words) and words[position] in ("-u", "-B", "-O", "-OO", "-s", "-E"):
            position += 1
        if position < len(words) and words[position].endswith(".py"):
            return words[position], parts[position + 1 :]
    raise UserErrorException(
        f"command {command!r} is not 'python <script>.py <arguments>': a script run on fninfer runs a Python script "
        "in the Function App's interpreter, where Azure ML would run any command in the run's container, which "
        "fninfer does not have. Give the script (script= and arguments=, or command=['python', 'train.py', ...])."
    )


def get_run_config_from_script_run(script_run_config: ScriptRunConfig) -> RunConfiguration:
    """A copy of the ScriptRunConfig's RunConfiguration with its script, arguments and command set."""
    run_config = copy.copy(script_run_config.run_config)
    if script_run_config.arguments:
        run_config.arguments = list(script_run_config.arguments)
    if script_run_config.script:
        run_config.script = script_run_config.script
    if script_run_config.command:
        run_config.command = script_run_config.command
    return run_config
