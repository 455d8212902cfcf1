"""`RunConfiguration`, as `azureml.core.runconfig` has it: what v1 pipeline and training code builds to say which
environment a step runs in. A Function App runs every step in its own Python environment (see
fninfer/_environment.py): the step reads the configuration's environment (its packages are checked, its
environment variables set) and `max_run_duration_seconds` (the step's timeout). Its other sections (Docker, MPI,
PyTorch, TensorFlow, Spark, HDInsight, AmlCompute, Kubernetes...) are kept as Azure ML has them, so code that sets
them runs and `save` / `load` round-trip them in Azure ML's `.runconfig` format, but nothing reads them: the app
decides how a step runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

from fninfer._environment import CondaDependencies, Environment
from fninfer._environment_sections import Section
from fninfer._exceptions import RunConfigurationException, UserErrorException

log = logging.getLogger("fninfer.runconfig")

#: Where a project's run configurations live, as Azure ML keeps them (the older folder is read too).
AZUREML_DIR = ".azureml"
AML_CONFIG_DIR = "aml_config"
RUNCONFIGURATION_EXTENSION = ".runconfig"
CONDA_DEPENDENCIES_FILE = "conda_dependencies.yml"


class DockerConfiguration(Section):
    """Mirrors azureml's (recorded: the app runs no container of yours)."""

    _FIELDS = (("use_docker", None), ("shared_volumes", None), ("arguments", None), ("shm_size", None))

    def __init__(
        self,
        use_docker: bool = False,
        shared_volumes: bool = True,
        arguments: list[str] | None = None,
        shm_size: str | None = "2g",
    ) -> None:
        self.use_docker = use_docker
        self.shared_volumes = shared_volumes
        self.arguments = list(arguments or [])
        self.shm_size = shm_size


class HistoryConfiguration(Section):
    _FIELDS = (("output_collection", None), ("snapshot_project", None), ("directories_to_watch", None))

    def __init__(self) -> None:
        self.output_collection = True
        self.snapshot_project = True
        self.directories_to_watch = ["logs"]


class SparkConfiguration(Section):
    _FIELDS = (("configuration", None),)

    def __init__(self) -> None:
        self.configuration = {"spark.app.name": "Azure ML Experiment", "spark.yarn.maxAppAttempts": 1}


class HdiConfiguration(Section):
    _FIELDS = (("yarn_deploy_mode", None),)

    def __init__(self) -> None:
        self.yarn_deploy_mode = "cluster"


class TensorflowConfiguration(Section):
    _FIELDS = (("worker_count", None), ("parameter_server_count", None))

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


class MpiConfiguration(Section):
    _FIELDS = (("process_count_per_node", None), ("node_count", None))

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count


#: PyTorchConfiguration's communication backends (Azure ML's SUPPORTED_PYTORCH_BACKENDS).
PYTORCH_BACKENDS = ("nccl", "gloo")


class PyTorchConfiguration(Section):
    _FIELDS = (("communication_backend", None), ("process_count", None), ("node_count", None))

    def __init__(
        self, communication_backend: str = "Nccl", process_count: int | None = None, node_count: int = 1
    ) -> None:
        if communication_backend.lower() not in PYTORCH_BACKENDS:
            raise RunConfigurationException(
                f"{communication_backend} is not a supported backend. 'communication_backend' must be 'Nccl' or 'Gloo'."
            )
        self.communication_backend = communication_backend.lower()  # as Azure ML keeps it
        self.process_count = process_count
        self.node_count = node_count


class ParallelTaskConfiguration(Section):
    _FIELDS = (("max_retries_per_worker", None), ("worker_count_per_node", None), ("terminal_exit_codes", None))

    def __init__(self) -> None:
        self.max_retries_per_worker = 0
        self.worker_count_per_node = 1
        self.terminal_exit_codes: list[int] | None = None


class AmlComputeConfiguration(Section):
    """Mirrors azureml's: a run-created cluster's settings (recorded: the compute is the Function App)."""

    _FIELDS = (
        ("vm_size", None),
        ("vm_priority", None),
        ("retain_cluster", None),
        ("name", None),
        ("cluster_max_node_count", None),
    )

    def __init__(self) -> None:
        self.vm_size: str | None = None
        self.vm_priority: str | None = None
        self.retain_cluster = False
        self.name: str | None = None
        self.cluster_max_node_count: int | None = None


class KubernetesComputeConfiguration(Section):
    _FIELDS = (("instance_type", None),)

    def __init__(self) -> None:
        self.instance_type: str | None = None


#: The sections a RunConfiguration keeps, with their classes, in the order Azure ML writes them.
SECTIONS: tuple[tuple[str, type[Section]], ...] = (
    ("history", HistoryConfiguration),
    ("spark", SparkConfiguration),
    ("docker", DockerConfiguration),
    ("hdi", HdiConfiguration),
    ("tensorflow", TensorflowConfiguration),
    ("mpi", MpiConfiguration),
    ("pytorch", PyTorchConfiguration),
    ("paralleltask", ParallelTaskConfiguration),
    ("amlcompute", AmlComputeConfiguration),
    ("kubernetescompute", KubernetesComputeConfiguration),
)
#: Data settings kept as given (dicts of Azure ML's data configuration objects; plain values are saved).
DATA_FIELDS = ("data_references", "data", "output_data", "datacaches")


def _plain(value: Any) -> Any:
    """A value as the saved file can hold it: sections serialized, other objects left out."""
    if isinstance(value, Section):
        return value._serialize()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items() if _plain(item) is not _SKIP}
    if isinstance(value, list | tuple):
        return [item for item in map(_plain, value) if item is not _SKIP]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return _SKIP


_SKIP = object()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


class RunConfiguration:
    """Mirrors `azureml.core.runconfig.RunConfiguration` (see the module docstring for what fninfer reads)."""

    def __init__(
        self,
        script: str | None = None,
        arguments: list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: CondaDependencies | None = None,
        _history_enabled: bool | None = None,
        _path: str | None = None,
        _name: str | None = None,
        command: str | list[str] | None = None,
    ) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command or ""
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.target = "local"
        self.node_count = 1
        self.priority: int | None = None
        self.max_run_duration_seconds: int | None = None
        self.environment = Environment("default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.history = HistoryConfiguration()
        if _history_enabled is False:
            self.history.output_collection = False
        self.spark = SparkConfiguration()
        self.docker = DockerConfiguration()
        self.hdi = HdiConfiguration()
        self.tensorflow = TensorflowConfiguration()
        self.mpi = MpiConfiguration()
        self.pytorch = PyTorchConfiguration()
        self.paralleltask = ParallelTaskConfiguration()
        self.amlcompute = AmlComputeConfiguration()
        self.kubernetescompute = KubernetesComputeConfiguration()
        self.auto_cluster_compute_specification: Any = None
        self.data_references: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.datacaches: list[Any] = []
        self.source_directory_data_store: str | None = None
        self.credential_passthrough = False
        self.services: dict[str, Any] = {}
        self._path = _path
        self._name = _name

    @property
    def environment_variables(self) -> dict[str, str | None]:
        """The run's environment variables: the environment's, which the step sets when it runs."""
        return self.environment.environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str | None]) -> None:
        self.environment.environment_variables = dict(value)

    @property
    def auto_prepare_environment(self) -> bool:
        """Deprecated and unused in Azure ML too."""
        log.warning("'auto_prepare_environment' is deprecated and unused. It will be removed in a future release.")
        return True

    @auto_prepare_environment.setter
    def auto_prepare_environment(self, _: bool) -> None:
        log.warning("'auto_prepare_environment' is deprecated and unused. It will be removed in a future release.")

    def __repr__(self) -> str:
        return f"RunConfiguration(environment={self.environment.name!r}, target={self.target!r})"

    def _to_dict(self, conda_file: str | None) -> dict[str, Any]:
        environment = self.environment._serialize_to_dict()
        if conda_file is not None:
            environment["python"].pop("condaDependencies", None)
            environment["python"]["condaDependenciesFile"] = conda_file
        document: dict[str, Any] = {
            "script": self.script,
            "arguments": _plain(self.arguments),
            "target": self.target if isinstance(self.target, str) else getattr(self.target, "name", None),
            "framework": self.framework,
            "communicator": self.communicator,
            "maxRunDurationSeconds": self.max_run_duration_seconds,
            "nodeCount": self.node_count,
            "priority": self.priority,
            "environment": environment,
        }
        for attribute, _ in SECTIONS:
            document[attribute] = getattr(self, attribute)._serialize()
        for attribute in DATA_FIELDS:
            document[_camel(attribute)] = _plain(getattr(self, attribute))
        document.update(
            sourceDirectoryDataStore=self.source_directory_data_store,
            autoClusterComputeSpecification=_plain(self.auto_cluster_compute_specification),
            credentialPassthrough=bool(self.credential_passthrough),
            command=self.command if isinstance(self.command, str) else list(self.command),
            environmentVariables=dict(self.environment_variables),
            applicationEndpoints=_plain(self.services),
        )
        return document

    def save(
        self,
        path: str | os.PathLike[str] | None = None,
        name: str | None = None,
        separate_environment_yaml: bool = False,
    ) -> None:
        """Write the configuration as Azure ML does: into `<project>/.azureml/<name>` when `path` is a project
        folder (or the current one), else to the file `path`; the conda dependencies go beside it, in
        conda_dependencies.yml (environment.yml with `separate_environment_yaml`)."""
        folder = Path(path) if path is not None else Path(self._path or os.getcwd())
        name = name or self._name
        if folder.is_dir():
            if not name:
                raise UserErrorException("save() needs a name for a run configuration saved in a project folder")
            project, target = folder, folder / AZUREML_DIR / name
        elif folder.parent.is_dir():
            project, target = folder.parent, folder
        else:
            raise UserErrorException(f"{folder} is neither a folder nor a file in an existing folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        conda_name = "environment.yml" if separate_environment_yaml else CONDA_DEPENDENCIES_FILE
        conda_relative = None
        if self.environment.python.conda_dependencies is not None:
            conda_path = target.parent / conda_name
            self.environment.python.conda_dependencies.save(conda_path)
            conda_relative = conda_path.relative_to(project).as_posix()
        target.write_text(yaml.safe_dump(self._to_dict(conda_relative), sort_keys=False))
        self._path, self._name = str(project), name

    @staticmethod
    def _file(path: Path, name: str | None) -> Path:
        if path.is_file():
            return path
        if not name:
            raise UserErrorException(f"{path} is a folder: give the name of the run configuration to load")
        for folder in (AZUREML_DIR, AML_CONFIG_DIR):
            for candidate in (name, name + RUNCONFIGURATION_EXTENSION):
                if (path / folder / candidate).is_file():
                    return path / folder / candidate
        raise UserErrorException(f"no run configuration {name!r} in {path / AZUREML_DIR} or {path / AML_CONFIG_DIR}")

    @staticmethod
    def load(path: str | os.PathLike[str], name: str | None = None) -> RunConfiguration:
        """Read a configuration `save` wrote (or Azure ML's SDK or CLI did): a file, or `name` in a project folder."""
        path = Path(path or os.getcwd())
        source = RunConfiguration._file(path, name)
        document = yaml.safe_load(source.read_text()) or {}
        if not isinstance(document, dict):
            raise UserErrorException(f"{source} is not a run configuration")
        project = path if path.is_dir() else source.parent
        config = RunConfiguration(
            script=document.get("script"),
            arguments=document.get("arguments"),
            framework=document.get("framework"),
            communicator=document.get("communicator"),
            command=document.get("command"),
            _path=str(project),
            _name=name,
        )
        config.target = document.get("target") or "local"
        config.node_count = document.get("nodeCount") or 1
        config.priority = document.get("priority")
        config.max_run_duration_seconds = document.get("maxRunDurationSeconds")
        environment = document.get("environment") or {}
        config.environment = Environment._deserialize_and_add_to_object(environment)
        conda_file = (environment.get("python") or {}).get("condaDependenciesFile")
        if conda_file and (project / conda_file).is_file():
            config.environment.python.conda_dependencies = CondaDependencies(project / conda_file)
        for attribute, section in SECTIONS:
            if document.get(attribute) is not None:
                setattr(config, attribute, section._deserialize(document[attribute]))
        for attribute in DATA_FIELDS:
            if document.get(_camel(attribute)) is not None:
                setattr(config, attribute, document[_camel(attribute)])
        config.source_directory_data_store = document.get("sourceDirectoryDataStore")
        config.auto_cluster_compute_specification = document.get("autoClusterComputeSpecification")
        config.credential_passthrough = bool(document.get("credentialPassthrough"))
        config.services = document.get("applicationEndpoints") or {}
        config.environment_variables = {
            **config.environment.environment_variables,
            **(document.get("environmentVariables") or {}),
        }
        return config

    @staticmethod
    def delete(path: str | os.PathLike[str], name: str) -> None:
        """Remove a saved configuration from a project folder (UserErrorException when there is none)."""
        removed = False
        for folder in (AZUREML_DIR, AML_CONFIG_DIR):
            for candidate in (name, name + RUNCONFIGURATION_EXTENSION):
                file = Path(path) / folder / candidate
                if file.is_file():
                    file.unlink()
                    removed = True
        if not removed:
            raise UserErrorException(f"Run config {name} not found in {path}")
