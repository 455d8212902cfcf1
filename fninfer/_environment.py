"""`CondaDependencies` and `Environment`, as in azureml.core: what a service's entry script needs installed.

A Function App has one Python environment (built when the app is packaged), so fninfer does not install these: the
deployment compares them with the app (shared/registry/installed_packages.py: warnings by default, failures in strict
mode), and `fninfer package --from-environments` builds an app whose environment is the union of the registered ones.
Environments are registered in the app's registry as versioned records (`Environment.register/get/list`,
`ws.environments`). Docker settings are recorded with the environment; a Function App runs no container of yours.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._client import api_path
from fninfer._environment_sections import (
    ContainerRegistry,
    DatabricksSection,
    DockerBuildContext,
    DockerImagePlatform,
    RSection,
    SparkSection,
)
from fninfer._exceptions import UserErrorException
from shared.core import validators
from shared.core.errors import InvalidInput, NotFound
from shared.registry.installed_packages import check_environment

if TYPE_CHECKING:
    from fninfer._workspace import Workspace

DEFAULT_PYTHON = "python={}.{}".format(*sys.version_info[:2])
#: Azure ML's default base images (recorded only: Azure Functions runs the app's own image).
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
PYTHON_DEFAULT_VERSION = "{}.{}".format(*sys.version_info[:2])
#: The files `Environment.save_to_directory` writes, named as Azure ML names them.
DEFINITION_FILE_NAME = "azureml_environment.json"
CONDA_DEPENDENCIES_FILE_NAME = "conda_dependencies.yml"
BASE_DOCKERFILE_FILE_NAME = "BaseDockerfile"
#: Where `Environment.add_private_pip_wheel` puts wheels: Azure ML's container name, as a folder of the workspace's
#: default datastore.
PRIVATE_PACKAGES_FOLDER = "azureml-private-packages"
TENSORFLOW_DEFAULT_VERSION = "2.2.0"
CNTK_DEFAULT_VERSION = "2.7"

log = logging.getLogger("fninfer.environment")


class CondaDependencies:
    """Mirrors `azureml.core.conda_dependencies.CondaDependencies`."""

    #: How many conda and pip packages a new CondaDependencies has (the Python pin; azureml-defaults).
    DEFAULT_NUMBER_OF_CONDA_PACKAGES = 1
    DEFAULT_NUMBER_OF_PIP_PACKAGES = 1

    def __init__(
        self,
        conda_dependencies_file_path: str | os.PathLike[str] | None = None,
        _underlying_structure: dict[str, Any] | None = None,
    ) -> None:
        self.name = "project_environment"
        self.channels: list[str] = ["conda-forge"]
        self._conda: list[str] = [DEFAULT_PYTHON]
        self._pip: list[str] = ["azureml-defaults"]
        self._pip_options: list[str] = []
        self._path = Path(conda_dependencies_file_path) if conda_dependencies_file_path is not None else None
        if self._path is not None:
            self._parse(self._path.read_text())
        if _underlying_structure is not None:
            self._from_dict(_underlying_structure)

    @classmethod
    def create(
        cls,
        pip_indexurl: str | None = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """As Azure ML's: azureml-defaults, the app's Python (when `python_version` is not given), and the
        packages named. `pin_sdk_version` has no meaning: fninfer provides the azureml packages itself."""
        dependencies = cls()
        if python_version:
            dependencies.set_python_version(python_version)
        if pip_indexurl:
            dependencies.set_pip_option(f"--index-url {pip_indexurl}")
        for package in conda_packages or []:
            dependencies.add_conda_package(package)
        for package in pip_packages or []:
            dependencies.add_pip_package(package)
        return dependencies

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def pip_options(self) -> list[str]:
        return list(self._pip_options)

    def get_python_version(self) -> str | None:
        for package in self._conda:
            match = re.match(r"python\s*[=<>!~]*\s*(\S+)$", package)
            if match:
                return match.group(1)
        return None

    def set_python_version(self, version: str) -> None:
        self._conda = [p for p in self._conda if not re.match(r"python\b", p)]
        self._conda.insert(0, f"python={version}")

    def add_conda_package(self, conda_package: str) -> None:
        if conda_package not in self._conda:
            self._conda.append(conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _package_name(p) != _package_name(conda_package)]

    def add_pip_package(self, pip_package: str) -> None:
        if pip_package not in self._pip:
            self._pip.append(pip_package)

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _package_name(p) != _package_name(pip_package)]

    def set_pip_option(self, pip_option: str) -> None:
        if pip_option not in self._pip_options:
            self._pip_options.append(pip_option)

    def remove_pip_option(self, pip_option: str) -> None:
        """Remove a pip option (`--index-url`, ...) by its flag, as Azure ML's does."""
        if not pip_option.startswith("-"):
            raise UserErrorException(f"Invalid pip option {pip_option}")
        flag = pip_option.split()[0]
        self._pip_options = [option for option in self._pip_options if option.split()[0] != flag]

    def set_pip_index_url(self, index_url: str) -> None:
        """Set a pip option such as `--index-url https://...` (Azure ML's takes the whole option)."""
        self.set_pip_option(index_url)

    def set_pip_requirements(self, pip_requirements: list[str]) -> None:
        """Replace the pip list with these lines of a requirements file (options such as `--index-url` kept as
        options; blank and comment lines skipped)."""
        self._pip, self._pip_options = [], []
        for line in pip_requirements:
            spec = line.split("#", 1)[0].strip() if not line.strip().startswith("-") else line.strip()
            if not spec:
                continue
            (self._pip_options if spec.startswith("-") else self._pip).append(spec)

    @staticmethod
    def merge_requirements(requirements: list[str]) -> list[str]:
        """Join requirements of the same package into one (`['a>1', 'a<3', 'b']` -> `['a>1,<3', 'b']`)."""
        merged: dict[str, list[str]] = {}
        for requirement in requirements:
            text = requirement.strip()
            match = re.match(r"[A-Za-z0-9_.\-]+", text)
            name = match.group(0) if match and not text.endswith(".whl") else text
            merged.setdefault(name, []).append(text[len(name) :].strip())
        return [name + ",".join(part for part in parts if part) for name, parts in merged.items()]

    @staticmethod
    def sdk_origin_url() -> str:
        """Where pip finds the SDK's packages: Azure ML's default index (fninfer provides the azureml packages
        itself, see `create`)."""
        return "https://pypi.python.org/simple"

    def get_default_number_of_packages(self) -> tuple[int, int]:
        return self.DEFAULT_NUMBER_OF_CONDA_PACKAGES, self.DEFAULT_NUMBER_OF_PIP_PACKAGES

    def _replace_pip_prefix(self, prefix: str, package: str) -> None:
        self._pip = [p for p in self._pip if not _package_name(p).startswith(prefix)]
        self.add_pip_package(package)

    def add_tensorflow_pip_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        _check_core_type(core_type)
        suffix = "-gpu" if core_type.lower() == "gpu" else ""
        self._replace_pip_prefix("tensorflow", f"tensorflow{suffix}=={version or TENSORFLOW_DEFAULT_VERSION}")

    def add_tensorflow_conda_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        _check_core_type(core_type)
        suffix = "-gpu" if core_type.lower() == "gpu" else ""
        self._conda = [p for p in self._conda if not _package_name(p).startswith("tensorflow")]
        self.add_conda_package(f"tensorflow{suffix}={version or TENSORFLOW_DEFAULT_VERSION}")

    def add_cntk_package(self, core_type: str = "cpu") -> None:
        _check_core_type(core_type)
        suffix = "-gpu" if core_type.lower() == "gpu" else ""
        self._replace_pip_prefix("cntk", f"cntk{suffix}=={CNTK_DEFAULT_VERSION}")

    @property
    def conda_channels(self) -> Any:
        """An iterator over the channels (a copy, as Azure ML's)."""
        return iter(list(self.channels))

    def as_dict(self) -> dict[str, Any]:
        """The conda environment document: name, dependencies (the pip list as `{"pip": [...]}`), channels."""
        dependencies: list[Any] = list(self._conda)
        if self._pip or self._pip_options:
            dependencies.append({"pip": [*self._pip_options, *self._pip]})
        return {"name": self.name, "dependencies": dependencies, "channels": list(self.channels)}

    def add_channel(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        self.channels = [c for c in self.channels if c != channel]

    def serialize_to_string(self) -> str:
        lines = ["# Conda environment specification.", f"name: {self.name}", "dependencies:"]
        lines += [f"- {package}" for package in self._conda]
        if self._pip or self._pip_options:
            lines.append("- pip:")
            lines += [f"  - {package}" for package in [*self._pip_options, *self._pip]]
        lines.append("channels:")
        lines += [f"- {channel}" for channel in self.channels]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write the conda file to `path`, or (as Azure ML) back to the file it was read from."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise UserErrorException("save() needs a path: these dependencies were not read from a file")
        target.write_text(self.serialize_to_string())
        return str(target)

    def save_to_file(self, base_directory: str, conda_file_path: str | None = None) -> str:
        return self.save(Path(base_directory) / (conda_file_path or "conda_dependencies.yml"))

    def _parse(self, text: str) -> None:
        """Read the conda environment files this class (and conda) write: name, dependencies with a pip list,
        channels."""
        self._conda, self._pip, self.channels, self._pip_options = [], [], [], []
        section, in_pip = None, False
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].rstrip()
            if not line.strip():
                continue
            top = re.match(r"^(\w+):\s*(.*)$", line)
            if top:
                section, in_pip = top.group(1), False
                if section == "name":
                    self.name = top.group(2).strip()
                continue
            item = re.match(r"^(\s*)-\s*(.+)$", line)
            if not item:
                raise InvalidInput(f"conda file line {raw!r} is not understood")
            indent, value = len(item.group(1)), item.group(2).strip().strip("'\"")
            if section == "dependencies":
                if value == "pip:":
                    in_pip = True
                elif in_pip and indent > 0:
                    (self._pip_options if value.startswith("-") else self._pip).append(value)
                else:
                    in_pip = False
                    self._conda.append(value)
            elif section == "channels":
                self.channels.append(value)

    def _as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": list(self.channels),
            "dependencies": list(self._conda),
            "pip": list(self._pip),
            "pip_options": list(self._pip_options),
        }

    def _from_dict(self, document: dict[str, Any]) -> None:
        """Read fninfer's record form ({dependencies, pip, pip_options}) or Azure ML's conda document (the pip list
        as a `{"pip": [...]}` item of dependencies)."""
        self.name = str(document.get("name") or "project_environment")
        self.channels = [str(c) for c in document.get("channels") or []]
        self._conda, self._pip, self._pip_options = [], [], []
        for item in document.get("dependencies") or []:
            if isinstance(item, dict):
                for spec in item.get("pip") or []:
                    (self._pip_options if str(spec).startswith("-") else self._pip).append(str(spec))
            else:
                self._conda.append(str(item))
        self._pip += [str(p) for p in document.get("pip") or []]
        self._pip_options += [str(p) for p in document.get("pip_options") or []]

    def requirements(self) -> list[str]:
        """Everything the entry script asks for, conda and pip, for the deployment's environment check."""
        return [*self._conda, *self._pip]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and self._as_dict() == other._as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


def _check_core_type(core_type: str) -> None:
    if core_type.lower() not in ("cpu", "gpu"):
        raise UserErrorException(f"Invalid core type {core_type}. Only accept 'cpu' or 'gpu'")


def _package_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\-]+", spec.strip())
    return match.group(0).lower() if match else spec


class PythonSection:
    """Mirrors `azureml.core.environment.PythonSection`."""

    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies_file: str | None = None

    def _as_dict(self) -> dict[str, Any]:
        return {
            "conda_dependencies": self.conda_dependencies._as_dict(),
            "user_managed_dependencies": bool(self.user_managed_dependencies),
            "interpreter_path": self.interpreter_path,
        }


class DockerSection:
    """Mirrors `azureml.core.environment.DockerSection`: recorded with the environment (a Function App runs its own
    image). As in Azure ML, `base_image`, `base_dockerfile` and `build_context` exclude each other: setting one
    clears the others; `base_dockerfile` takes a Dockerfile's text or its path."""

    def __init__(self, **kwargs: Any) -> None:
        self.enabled = False
        self._base_image: str | None = DEFAULT_CPU_IMAGE
        self._base_dockerfile: str | None = None
        self._build_context: DockerBuildContext | None = None
        self.base_image_registry: Any = ContainerRegistry()
        self.shm_size: str | None = "2g"
        self.shared_volumes = True
        self.arguments: list[str] = []
        self.gpu_support = False
        self.platform = DockerImagePlatform()

    @property
    def base_image(self) -> str | None:
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self._base_image = value
        if value:
            self._base_dockerfile, self._build_context = None, None

    @property
    def base_dockerfile(self) -> str | None:
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: Any) -> None:
        if hasattr(value, "read"):
            value = value.read()
        elif value and os.path.isfile(str(value)):
            value = Path(str(value)).read_text()
        self._base_dockerfile = value
        if value:
            self._base_image, self._build_context = None, None

    @property
    def build_context(self) -> DockerBuildContext | None:
        return self._build_context

    @build_context.setter
    def build_context(self, value: DockerBuildContext | None) -> None:
        self._build_context = value
        if value is not None:
            self._base_image, self._base_dockerfile = None, None

    def _as_dict(self) -> dict[str, Any]:
        registry = self.base_image_registry
        return {
            "enabled": bool(self.enabled),
            "base_image": self.base_image,
            "base_dockerfile": self.base_dockerfile,
            "base_image_registry": getattr(registry, "address", registry) if registry is not None else None,
            "shm_size": self.shm_size,
            "arguments": [str(a) for a in self.arguments],
            "shared_volumes": bool(self.shared_volumes),
            "platform": self.platform._serialize() if self.platform is not None else None,
            "build_context": self.build_context._serialize() if self.build_context is not None else None,
        }

    def _load(self, docker: dict[str, Any]) -> None:
        for key in ("enabled", "shm_size", "arguments", "shared_volumes"):
            if key in docker:
                setattr(self, key, docker[key])
        self._base_image = docker.get("base_image")
        self._base_dockerfile = docker.get("base_dockerfile")
        context = docker.get("build_context")
        self._build_context = DockerBuildContext._deserialize(context) if context else None
        registry = ContainerRegistry()
        registry.address = docker.get("base_image_registry")
        self.base_image_registry = registry
        if docker.get("platform"):
            self.platform = DockerImagePlatform._deserialize(docker["platform"])


class ImageBuildDetails:
    """What `Environment.build` returns. fninfer builds no image: the environment is registered, and a Function App
    runs the app's own environment (`fninfer package --from-environments` puts the registered environments' packages
    in it), so the build has nothing to wait for."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.log_url: str | None = None

    @property
    def status(self) -> str:
        return "Succeeded"

    def get_log(self) -> str:
        return (
            f"environment {self.environment.name!r} version {self.environment.version} is registered; no image is "
            "built: a Function App runs the app's own environment (fninfer package --from-environments adds the "
            "registered environments' packages to it)"
        )

    def wait_for_completion(self, show_output: bool = True) -> ImageBuildDetails:
        if show_output:
            print(f"Image Build Status: {self.status}\n{self.get_log()}", flush=True)
        return self


class DockerImageDetails(dict[str, Any]):
    """What `Environment.get_image_details` returns (a dict with Azure ML's keys): no image exists on fninfer; the
    Python environment is the app's."""

    @property
    def image_exist(self) -> bool:
        return bool(self.get("imageExistsInRegistry"))

    @property
    def repository(self) -> str | None:
        return (self.get("dockerImage") or {}).get("name")

    @property
    def registry(self) -> Any:
        return (self.get("dockerImage") or {}).get("registry")

    @property
    def image(self) -> str | None:
        return self.repository

    @property
    def interpreter_path(self) -> str | None:
        return (self.get("pythonEnvironment") or {}).get("interpreterPath")

    @property
    def environment_path(self) -> str | None:
        return (self.get("pythonEnvironment") or {}).get("condaEnvironmentPath")

    @property
    def dockerfile(self) -> str | None:
        return self.get("ingredients", {}).get("dockerfile")


class Environment:
    """Mirrors `azureml.core.Environment`: a named, versioned description of what the code needs. Its Spark,
    Databricks and R sections and Docker settings are recorded with it (see fninfer/_environment_sections.py)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Environment name expected str, {type(name)} found")
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.spark = SparkSection()
        self.databricks = DatabricksSection()
        self.r: RSection | None = None
        self.environment_variables: dict[str, str | None] = {}
        self.inferencing_stack_version: str | None = None
        self.asset_id: str | None = None  # Azure ML's registry asset id; fninfer's registry has none
        self.created_time: str | None = None

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"

    @staticmethod
    def _from_dependencies(
        name: str, conda_specification: str | None = None, pip_requirements: str | None = None
    ) -> Environment:
        if conda_specification and pip_requirements:
            raise UserErrorException(
                "Only one of conda_specification or pip_requirements can be specified as python dependencies"
            )
        if conda_specification:
            return Environment.from_conda_specification(name, conda_specification)
        if pip_requirements:
            return Environment.from_pip_requirements(name, pip_requirements)
        environment = Environment(name)
        environment.python.user_managed_dependencies = True
        return environment

    @staticmethod
    def from_dockerfile(
        name: str, dockerfile: str, conda_specification: str | None = None, pip_requirements: str | None = None
    ) -> Environment:
        """An environment of a Dockerfile (its text or path; recorded), with these Python dependencies or, without
        them, user-managed ones."""
        environment = Environment._from_dependencies(name, conda_specification, pip_requirements)
        environment.docker.base_dockerfile = dockerfile
        return environment

    @staticmethod
    def from_docker_image(
        name: str,
        image: str,
        container_registry: Any = None,
        conda_specification: str | None = None,
        pip_requirements: str | None = None,
    ) -> Environment:
        """An environment of a base image (recorded), with these Python dependencies or user-managed ones."""
        environment = Environment._from_dependencies(name, conda_specification, pip_requirements)
        environment.docker.base_image = image
        if container_registry is not None:
            environment.docker.base_image_registry = container_registry
        return environment

    @staticmethod
    def from_docker_build_context(name: str, docker_build_context: DockerBuildContext) -> Environment:
        environment = Environment(name)
        environment.docker.build_context = docker_build_context
        return environment

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> Environment | None:
        """An environment of a local conda environment's packages (`conda env export`), as Azure ML's; None (with
        the reason printed) when conda or that environment is not there."""
        conda = shutil.which("conda")
        if conda is None:
            print("Unable to run Conda package manager. Please make sure Conda (>= 4.4.0) is installed.")
            return None
        try:
            listed = json.loads(subprocess.check_output([conda, "env", "list", "--json"]))
            names = {os.path.basename(os.path.normpath(path)) for path in listed.get("envs", [])}
            if conda_environment_name not in names:
                print(f"Could not find existing conda environment named: {conda_environment_name}")
                return None
            exported = subprocess.check_output(
                [conda, "env", "export", "--no-builds", "--name", conda_environment_name]
            )
        except (subprocess.CalledProcessError, ValueError) as exc:
            print(f"Exporting conda specifications failed: {exc}")
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "environment.yml"
            path.write_bytes(exported)
            return Environment.from_conda_specification(name, path)

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        environment = Environment(name)
        environment.python.conda_dependencies = CondaDependencies(file_path)
        environment.python.conda_dependencies_file = str(file_path)
        return environment

    @staticmethod
    def from_pip_requirements(
        name: str, file_path: str | os.PathLike[str], pip_version: str | None = None
    ) -> Environment:
        """An environment of the requirements file's packages, with pip (pinned to `pip_version`), as in Azure ML."""
        environment = Environment(name)
        dependencies = CondaDependencies()
        dependencies.set_pip_requirements(Path(file_path).read_text().splitlines())
        dependencies.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        environment.python.conda_dependencies = dependencies
        return environment

    def clone(self, new_name: str) -> Environment:
        if not new_name:
            raise UserErrorException("Name is required to instantiate an Environment object")
        twin = copy.deepcopy(self)
        twin.name, twin.version, twin.asset_id = new_name, None, None
        return twin

    def _definition(self) -> dict[str, Any]:
        """What the registry records (the app compares definitions to decide whether a register is a new version).
        Secrets (a registry password, an R package's auth token) stay on this object."""
        r_section = self.r._serialize() if self.r is not None else None
        for package in (r_section or {}).get("githubPackages") or []:
            package["authToken"] = None
        return {
            "python": self.python._as_dict(),
            "docker": self.docker._as_dict(),
            "environment_variables": validators.string_map(self.environment_variables, "environment_variables"),
            "inferencing_stack_version": self.inferencing_stack_version,
            "spark": self.spark._serialize() if self.spark is not None else None,
            "databricks": self.databricks._serialize() if self.databricks is not None else None,
            "r": r_section,
        }

    @classmethod
    def _from_record(cls, record: dict[str, Any]) -> Environment:
        definition = record["definition"]
        environment = cls(record["name"])
        environment.version = str(record["version"])
        environment.created_time = record.get("created_time")
        python = definition.get("python") or {}
        environment.python.conda_dependencies = CondaDependencies(
            _underlying_structure=python.get("conda_dependencies") or {}
        )
        environment.python.user_managed_dependencies = bool(python.get("user_managed_dependencies"))
        environment.python.interpreter_path = python.get("interpreter_path") or "python"
        environment.docker._load(definition.get("docker") or {})
        environment.environment_variables = dict(definition.get("environment_variables") or {})
        environment.inferencing_stack_version = definition.get("inferencing_stack_version")
        environment.spark = SparkSection._deserialize(definition.get("spark"))
        environment.databricks = DatabricksSection._deserialize(definition.get("databricks"))
        environment.r = RSection._deserialize(definition["r"]) if definition.get("r") else None
        return environment

    def _serialize_to_dict(self) -> dict[str, Any]:
        """The environment as Azure ML serializes it (camelCase keys, the conda document inline)."""
        docker = self.docker
        registry = docker.base_image_registry
        return {
            "name": self.name,
            "version": self.version,
            "environmentVariables": dict(self.environment_variables),
            "python": {
                "userManagedDependencies": bool(self.python.user_managed_dependencies),
                "interpreterPath": self.python.interpreter_path,
                "condaDependenciesFile": self.python.conda_dependencies_file,
                "baseCondaEnvironment": None,
                "condaDependencies": self.python.conda_dependencies.as_dict()
                if self.python.conda_dependencies is not None
                else None,
            },
            "docker": {
                "enabled": bool(docker.enabled),
                "baseImage": docker.base_image,
                "baseDockerfile": docker.base_dockerfile,
                "buildContext": docker.build_context._serialize() if docker.build_context is not None else None,
                "sharedVolumes": bool(docker.shared_volumes),
                "shmSize": docker.shm_size,
                "arguments": list(docker.arguments),
                "baseImageRegistry": registry._serialize()
                if isinstance(registry, ContainerRegistry)
                else {"address": registry},
                "platform": docker.platform._serialize() if docker.platform is not None else None,
            },
            "spark": self.spark._serialize() if self.spark is not None else None,
            "databricks": self.databricks._serialize() if self.databricks is not None else None,
            "r": self.r._serialize() if self.r is not None else None,
            "inferencingStackVersion": self.inferencing_stack_version,
            "assetId": self.asset_id,
        }

    @staticmethod
    def _deserialize_and_add_to_object(document: dict[str, Any]) -> Environment:
        """An Environment from Azure ML's serialized form (what `save_to_directory` writes)."""
        environment = Environment(document.get("name") or "")
        environment.version = document.get("version")
        environment.environment_variables = dict(document.get("environmentVariables") or {})
        environment.inferencing_stack_version = document.get("inferencingStackVersion")
        environment.asset_id = document.get("assetId")
        python = document.get("python") or {}
        environment.python.user_managed_dependencies = bool(python.get("userManagedDependencies"))
        environment.python.interpreter_path = python.get("interpreterPath") or "python"
        environment.python.conda_dependencies_file = python.get("condaDependenciesFile")
        if python.get("condaDependencies"):
            environment.python.conda_dependencies = CondaDependencies(_underlying_structure=python["condaDependencies"])
        docker = document.get("docker") or {}
        section = environment.docker
        for key, attribute in (("enabled", "enabled"), ("sharedVolumes", "shared_volumes"), ("shmSize", "shm_size")):
            if key in docker:
                setattr(section, attribute, docker[key])
        section.arguments = list(docker.get("arguments") or [])
        section._base_image = docker.get("baseImage")
        section._base_dockerfile = docker.get("baseDockerfile")
        context = docker.get("buildContext")
        section._build_context = DockerBuildContext._deserialize(context) if context else None
        section.base_image_registry = ContainerRegistry._deserialize(docker.get("baseImageRegistry"))
        section.platform = DockerImagePlatform._deserialize(docker.get("platform"))
        environment.spark = SparkSection._deserialize(document.get("spark"))
        environment.databricks = DatabricksSection._deserialize(document.get("databricks"))
        environment.r = RSection._deserialize(document["r"]) if document.get("r") else None
        return environment

    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Write the definition as Azure ML does: azureml_environment.json, conda_dependencies.yml and (when set)
        BaseDockerfile; the real SDK's load_from_directory reads them too."""
        os.makedirs(path, exist_ok=overwrite)
        document = self._serialize_to_dict()
        if self.python.conda_dependencies is not None:
            self.python.conda_dependencies.save(Path(path) / CONDA_DEPENDENCIES_FILE_NAME)
            del document["python"]["condaDependencies"]
        if self.docker.base_dockerfile:
            (Path(path) / BASE_DOCKERFILE_FILE_NAME).write_text(self.docker.base_dockerfile)
            del document["docker"]["baseDockerfile"]
        (Path(path) / DEFINITION_FILE_NAME).write_text(json.dumps(document, indent=4))

    @staticmethod
    def load_from_directory(path: str | os.PathLike[str]) -> Environment:
        definition = Path(path) / DEFINITION_FILE_NAME
        if not definition.is_file():
            raise FileNotFoundError(str(definition))
        environment = Environment._deserialize_and_add_to_object(json.loads(definition.read_text()))
        conda_file = Path(path) / CONDA_DEPENDENCIES_FILE_NAME
        if conda_file.is_file():
            environment.python.conda_dependencies = CondaDependencies(conda_file)
        dockerfile = Path(path) / BASE_DOCKERFILE_FILE_NAME
        if dockerfile.is_file():
            environment.docker.base_dockerfile = dockerfile.read_text()
        return environment

    def register(self, workspace: Workspace) -> Environment:
        """Register this definition under its name: a new version, or the latest one when nothing changed."""
        record = workspace.client.request("POST", api_path("environments", self.name), json=self._definition())
        registered = Environment._from_record(record)
        self.version = registered.version
        return registered

    def _registered(self, workspace: Workspace) -> Environment:
        """This environment's registered version; UserErrorException when it is not registered, as Azure ML's."""
        try:
            return Environment.get(workspace, self.name, self.version)
        except NotFound as exc:
            raise UserErrorException(f"Environment '{self.name}' is not registered", environment=self.name) from exc

    def build(self, workspace: Workspace, image_build_compute: str | None = None) -> ImageBuildDetails:
        """Register the environment (as Azure ML's build does first); no image is built (see ImageBuildDetails)."""
        registered = self.register(workspace)
        log.info("environment %s:%s registered; no image is built on fninfer", registered.name, registered.version)
        return ImageBuildDetails(registered)

    def build_local(self, workspace: Workspace, platform: str | None = None, **kwargs: Any) -> None:
        """Azure ML builds the environment on this machine (conda or Docker). fninfer runs scripts in the local
        host's Python, so this compares the registered environment with the Python running here and prints each
        difference (what `fninfer start` would report at deployment)."""
        registered = self._registered(workspace)
        report = check_environment(registered.python.conda_dependencies.requirements(), "warn")
        print(f"Environment {registered.name}:{registered.version} against {sys.executable}:")
        for line in [*report.warnings, *report.notes] or ["every package it asks for is installed"]:
            print(f"  {line}")

    def get_image_details(self, workspace: Workspace) -> DockerImageDetails:
        registered = self._registered(workspace)
        return DockerImageDetails(
            {
                "imageExistsInRegistry": False,
                "dockerImage": None,
                "pythonEnvironment": {"interpreterPath": sys.executable, "condaEnvironmentPath": sys.prefix},
                "ingredients": {"dockerfile": registered.docker.base_dockerfile},
            }
        )

    @staticmethod
    def add_private_pip_wheel(workspace: Workspace, file_path: str | os.PathLike[str], exist_ok: bool = False) -> str:
        """Upload a wheel to the workspace's default datastore and give its URL, as Azure ML's does. A Function App
        does not install it at deployment: add it to the app's environment (`fninfer package` installs what pip can
        reach)."""
        path = Path(file_path)
        if not path.is_file():
            raise UserErrorException(f"Please make sure the wheel file exists at: {file_path}")
        datastore = workspace.get_default_datastore()
        blob = workspace.storage.container(datastore.container_name).get_blob_client(
            f"{PRIVATE_PACKAGES_FOLDER}/{path.name}"
        )
        if blob.exists():
            if not exist_ok:
                raise UserErrorException(
                    f"A wheel with the name {path.name} already exists. Please make sure {path.name} is the private "
                    "wheel you would like to add to the workspace. If you would like to have it be a no-op instead of "
                    "throwing an exception for duplicate entries, please set exist_ok=True"
                )
            return str(blob.url)
        with path.open("rb") as handle:
            blob.upload_blob(handle)
        return str(blob.url)

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | int | None = None, label: str | None = None) -> Environment:
        if label is not None:
            if version is not None:
                raise UserErrorException("Only one of version or label can be specified")
            raise UserErrorException("environment labels are not supported by fninfer: give a version", field="label")
        parts: tuple[str | int, ...] = ("environments", name)
        if version is not None:
            if not str(version).isdigit():
                raise UserErrorException(f"environment version {version!r} must be a number", field="version")
            parts += (int(version),)
        return Environment._from_record(workspace.client.request("GET", api_path(*parts)))

    @staticmethod
    def label(workspace: Workspace, name: str, version: str, labels: list[str]) -> None:
        """Refused: fninfer's registry finds environments by name and version; labels are not kept."""
        raise UserErrorException(
            f"environment labels are not supported by fninfer: refer to {name!r} by its version ({version})",
            field="labels",
        )

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        records = workspace.client.request("GET", "environments")
        return {record["name"]: Environment._from_record(record) for record in records}
