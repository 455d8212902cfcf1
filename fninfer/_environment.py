"""`CondaDependencies` and `Environment`, as in azureml.core: what a service's entry script needs installed.

A Function App has one Python environment (built when the app is packaged), so fninfer does not install these: the
deployment checks them against the app and fails naming any missing or incompatible package.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from shared.errors import InvalidInput

DEFAULT_PYTHON = "python={}.{}".format(*sys.version_info[:2])


class CondaDependencies:
    """Mirrors `azureml.core.conda_dependencies.CondaDependencies`."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None) -> None:
        self.name = "project_environment"
        self.channels: list[str] = ["conda-forge"]
        self._conda: list[str] = [DEFAULT_PYTHON]
        self._pip: list[str] = ["azureml-defaults"]
        if conda_dependencies_file_path is not None:
            self._parse(Path(conda_dependencies_file_path).read_text())

    @classmethod
    def create(
        cls,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
    ) -> CondaDependencies:
        dependencies = cls()
        if python_version:
            dependencies.set_python_version(python_version)
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

    def set_python_version(self, version: str) -> None:
        self._conda = [p for p in self._conda if not re.match(r"python\b", p)]
        self._conda.insert(0, f"python={version}")

    def add_conda_package(self, conda_package: str) -> None:
        if conda_package not in self._conda:
            self._conda.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        if pip_package not in self._pip:
            self._pip.append(pip_package)

    def add_channel(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.append(channel)

    def serialize_to_string(self) -> str:
        lines = ["# Conda environment specification.", f"name: {self.name}", "dependencies:"]
        lines += [f"- {package}" for package in self._conda]
        if self._pip:
            lines.append("- pip:")
            lines += [f"  - {package}" for package in self._pip]
        lines.append("channels:")
        lines += [f"- {channel}" for channel in self.channels]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> str:
        Path(path).write_text(self.serialize_to_string())
        return str(path)

    def _parse(self, text: str) -> None:
        """Read the conda environment files this class (and conda) write: name, dependencies with a pip list,
        channels."""
        self._conda, self._pip, self.channels = [], [], []
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
                    self._pip.append(value)
                else:
                    in_pip = False
                    self._conda.append(value)
            elif section == "channels":
                self.channels.append(value)

    def requirements(self) -> list[str]:
        """Everything the entry script asks for, conda and pip, for the deployment's environment check."""
        return [*self._conda, *self._pip]


class PythonSection:
    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False


class Environment:
    """Mirrors `azureml.core.Environment` (the Python part; Docker settings have no Functions meaning)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.python = PythonSection()
        self.environment_variables: dict[str, str] = {}

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        environment = Environment(name)
        environment.python.conda_dependencies = CondaDependencies(file_path)
        return environment

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str]) -> Environment:
        environment = Environment(name)
        dependencies = CondaDependencies()
        for line in Path(file_path).read_text().splitlines():
            if line.split("#", 1)[0].strip():
                dependencies.add_pip_package(line.split("#", 1)[0].strip())
        environment.python.conda_dependencies = dependencies
        return environment

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"
