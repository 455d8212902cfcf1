"""`CondaDependencies` and `Environment`, as in azureml.core: what a service's entry script needs installed.

A Function App has one Python environment (built when the app is packaged), so fninfer does not install these: the
deployment compares them with the app (shared/services/environment.py: warnings by default, failures in strict
mode), and `fninfer package --from-environments` builds an app whose environment is the union of the registered ones.
Environments are registered in the app's registry as versioned records (`Environment.register/get/list`,
`ws.environments`). Docker settings are recorded with the environment; a Function App runs no container of yours.
"""

from __future__ import annotations

import copy
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._client import api_path
from fninfer._exceptions import UserErrorException
from shared.errors import InvalidInput

if TYPE_CHECKING:
    from fninfer._workspace import Workspace

DEFAULT_PYTHON = "python={}.{}".format(*sys.version_info[:2])
#: Azure ML's default base images (recorded only: Azure Functions runs the app's own image).
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"


class CondaDependencies:
    """Mirrors `azureml.core.conda_dependencies.CondaDependencies`."""

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
        self.name = str(document.get("name") or "project_environment")
        self.channels = [str(c) for c in document.get("channels") or []]
        self._conda = [str(p) for p in document.get("dependencies") or []]
        self._pip = [str(p) for p in document.get("pip") or []]
        self._pip_options = [str(p) for p in document.get("pip_options") or []]

    def requirements(self) -> list[str]:
        """Everything the entry script asks for, conda and pip, for the deployment's environment check."""
        return [*self._conda, *self._pip]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and self._as_dict() == other._as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


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
    """Mirrors `azureml.core.environment.DockerSection`: accepted and recorded (a Function App runs its own image)."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = DEFAULT_CPU_IMAGE
        self.base_dockerfile: str | None = None
        self.base_image_registry: Any = None
        self.shm_size: str | None = None
        self.shared_volumes = True
        self.arguments: list[str] = []
        self.gpu_support = False

    def _as_dict(self) -> dict[str, Any]:
        registry = self.base_image_registry
        return {
            "enabled": bool(self.enabled),
            "base_image": self.base_image,
            "base_dockerfile": self.base_dockerfile,
            "base_image_registry": getattr(registry, "address", registry) if registry is not None else None,
            "shm_size": self.shm_size,
            "arguments": [str(a) for a in self.arguments],
        }


class Environment:
    """Mirrors `azureml.core.Environment`: a named, versioned description of what the code needs."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None
        self.created_time: str | None = None

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"

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
        """An environment of the requirements file's packages (`pip_version` pins pip, as in Azure ML)."""
        environment = Environment(name)
        dependencies = CondaDependencies()
        if pip_version:
            dependencies.add_conda_package(f"pip={pip_version}")
        for line in Path(file_path).read_text().splitlines():
            spec = line.split("#", 1)[0].strip()
            if not spec:
                continue
            if spec.startswith("-"):
                dependencies.set_pip_option(spec)  # --index-url, --extra-index-url, -f ...
            else:
                dependencies.add_pip_package(spec)
        environment.python.conda_dependencies = dependencies
        return environment

    def clone(self, new_name: str) -> Environment:
        twin = copy.deepcopy(self)
        twin.name, twin.version = new_name, None
        return twin

    def _definition(self) -> dict[str, Any]:
        """What the registry records (the app compares definitions to decide whether a register is a new version)."""
        return {
            "python": self.python._as_dict(),
            "docker": self.docker._as_dict(),
            "environment_variables": {str(k): str(v) for k, v in self.environment_variables.items()},
            "inferencing_stack_version": self.inferencing_stack_version,
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
        docker = definition.get("docker") or {}
        for key in ("enabled", "base_image", "base_dockerfile", "base_image_registry", "shm_size", "arguments"):
            if key in docker:
                setattr(environment.docker, key, docker[key])
        environment.environment_variables = dict(definition.get("environment_variables") or {})
        environment.inferencing_stack_version = definition.get("inferencing_stack_version")
        return environment

    def register(self, workspace: Workspace) -> Environment:
        """Register this definition under its name: a new version, or the latest one when nothing changed."""
        record = workspace.client.request("POST", api_path("environments", self.name), json=self._definition())
        registered = Environment._from_record(record)
        self.version = registered.version
        return registered

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | int | None = None, label: str | None = None) -> Environment:
        if label is not None:
            raise UserErrorException("environment labels are not supported by fninfer: give a version", field="label")
        parts: tuple[str | int, ...] = ("environments", name)
        if version is not None:
            if not str(version).isdigit():
                raise UserErrorException(f"environment version {version!r} must be a number", field="version")
            parts += (int(version),)
        return Environment._from_record(workspace.client.request("GET", api_path(*parts)))

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        records = workspace.client.request("GET", "environments")
        return {record["name"]: Environment._from_record(record) for record in records}
