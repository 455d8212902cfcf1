"""The sections of an Environment besides Python and Docker, as `azureml.core.environment` has them: Spark, Databricks
and R, and Docker's platform, build context and registry.

A Function App runs Python only, in its own environment, so these are recorded with the environment (registered,
saved with `save_to_directory`, read back) and used by nothing: code that sets `env.spark.packages = [...]` or
`env.r = RSection()` runs, and the values come back as set. Each section serializes with Azure ML's camelCase keys,
so the files `Environment.save_to_directory` writes read the same in both SDKs.
"""

from __future__ import annotations

import logging
import os
import re
from enum import Enum
from typing import Any, ClassVar, Self

log = logging.getLogger("fninfer.environment")


def camel(name: str) -> str:
    """Azure ML's JSON key for an attribute: `precache_packages` -> `precachePackages`."""
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), name)


class Section:
    """A settings section: `_FIELDS` lists (attribute, element) pairs, where element is None for a plain value (or
    a list of plain values), a Section class for a nested section, or a one-item list `[SectionClass]` for a list
    of them. Serialized with Azure ML's keys; equal when their serializations are."""

    _FIELDS: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def _serialize(self) -> dict[str, Any]:
        document = {}
        for attribute, element in self._FIELDS:
            value = getattr(self, attribute)
            if isinstance(element, list) and value is not None:
                value = [item._serialize() if isinstance(item, Section) else item for item in value]
            elif isinstance(value, Section):
                value = value._serialize()
            elif isinstance(value, list):
                value = list(value)
            document[camel(attribute)] = value
        return document

    @classmethod
    def _deserialize(cls, document: dict[str, Any] | None) -> Self:
        section = cls()
        for attribute, element in cls._FIELDS:
            key = camel(attribute)
            if not document or key not in document:
                continue
            value = document[key]
            if isinstance(element, list) and value is not None:
                value = [element[0]._deserialize(item) if isinstance(item, dict) else item for item in value]
            elif isinstance(element, type) and isinstance(value, dict):
                value = element._deserialize(value)
            setattr(section, attribute, value)
        return section

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._serialize() == other._serialize()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        fields = ", ".join(f"{attribute}={getattr(self, attribute)!r}" for attribute, _ in self._FIELDS)
        return f"{type(self).__name__}({fields})"


class SparkPackage(Section):
    _FIELDS = (("group", None), ("artifact", None), ("version", None))

    def __init__(self, group: str | None = None, artifact: str | None = None, version: str | None = None) -> None:
        self.group = group
        self.artifact = artifact
        self.version = version


class SparkSection(Section):
    """Mirrors `azureml.core.environment.SparkSection` (recorded only: the app runs no Spark)."""

    _FIELDS = (("repositories", None), ("packages", [SparkPackage]), ("precache_packages", None))

    def __init__(self, **kwargs: Any) -> None:
        self.repositories: list[str] = []
        self.packages: list[SparkPackage] = []
        self.precache_packages = True


class MavenLibrary(Section):
    _FIELDS = (("coordinates", None), ("repo", None), ("exclusions", None))

    def __init__(self, coordinates: str | None = None, repo: str | None = None, exclusions: Any = None) -> None:
        self.coordinates = coordinates
        self.repo = repo
        self.exclusions = exclusions


class PyPiLibrary(Section):
    _FIELDS = (("package", None), ("repo", None))

    def __init__(self, package: str | None = None, repo: str | None = None) -> None:
        self.package = package
        self.repo = repo


class RCranLibrary(Section):
    _FIELDS = (("package", None), ("repo", None))

    def __init__(self, package: str | None = None, repo: str | None = None) -> None:
        self.package = package
        self.repo = repo


class JarLibrary(Section):
    _FIELDS = (("library", None),)

    def __init__(self, library: str | None = None) -> None:
        self.library = library


class EggLibrary(Section):
    _FIELDS = (("library", None),)

    def __init__(self, library: str | None = None) -> None:
        self.library = library


class DatabricksSection(Section):
    """Mirrors `azureml.core.databricks.DatabricksSection` (recorded only: the app runs on no Databricks cluster)."""

    _FIELDS = (
        ("maven_libraries", [MavenLibrary]),
        ("pypi_libraries", [PyPiLibrary]),
        ("rcran_libraries", [RCranLibrary]),
        ("jar_libraries", [JarLibrary]),
        ("egg_libraries", [EggLibrary]),
    )

    def __init__(self, **kwargs: Any) -> None:
        self.maven_libraries: list[MavenLibrary] = []
        self.pypi_libraries: list[PyPiLibrary] = []
        self.rcran_libraries: list[RCranLibrary] = []
        self.jar_libraries: list[JarLibrary] = []
        self.egg_libraries: list[EggLibrary] = []
        self._cluster: Any = None

    @property
    def cluster(self) -> Any:
        """The Databricks cluster settings (recorded only)."""
        return self._cluster

    @cluster.setter
    def cluster(self, value: Any) -> None:
        self._cluster = value


class RCranPackage(Section):
    _FIELDS = (("name", None), ("version", None), ("repository", None))

    def __init__(self) -> None:
        self.name: str | None = None
        self.version: str | None = None
        self.repository: str | None = None


class RGitHubPackage(Section):
    _FIELDS = (("repository", None), ("auth_token", None))

    def __init__(self) -> None:
        self.repository: str | None = None
        self.auth_token: str | None = None


class RSection(Section):
    """Mirrors `azureml.core.environment.RSection` (recorded only: the app runs Python)."""

    _FIELDS = (
        ("r_version", None),
        ("user_managed", None),
        ("rscript_path", None),
        ("snapshot_date", None),
        ("cran_packages", [RCranPackage]),
        ("github_packages", [RGitHubPackage]),
        ("custom_url_packages", None),
        ("bioconductor_packages", None),
    )

    def __init__(self) -> None:
        self.r_version: str | None = None
        self.user_managed = False
        self.rscript_path: str | None = None
        self.snapshot_date: str | None = None
        self.cran_packages: list[RCranPackage] | None = None
        self.github_packages: list[RGitHubPackage] | None = None
        self.custom_url_packages: list[str] | None = None
        self.bioconductor_packages: list[str] | None = None


class DockerImagePlatform(Section):
    _FIELDS = (("os", None), ("architecture", None))

    def __init__(self) -> None:
        self.os = "Linux"
        self.architecture = "amd64"


class DockerBuildContext(Section):
    """Mirrors `azureml.core.environment.DockerBuildContext` (recorded only: no image is built)."""

    _FIELDS = (("location_type", None), ("location", None), ("dockerfile_path", None))

    class LocationType(Enum):
        Git = "git"
        StorageAccount = "storageAccount"

    def __init__(
        self, location_type: Any = None, location: str | None = None, dockerfile_path: str = "Dockerfile"
    ) -> None:
        self.location_type = location_type.value if isinstance(location_type, Enum) else location_type
        self.location = location
        self.dockerfile_path = dockerfile_path or "Dockerfile"

    @staticmethod
    def from_local_directory(workspace: Any, path: str, dockerfile_path: str = "Dockerfile") -> DockerBuildContext:
        """Azure ML uploads the folder for an image build; fninfer builds no image, so the folder is recorded
        where it is."""
        if not os.path.isdir(path):
            raise ValueError(f"{path} is not a directory")
        log.info("Docker build context %s recorded, not uploaded: a Function App runs no image of yours", path)
        return DockerBuildContext("localDirectory", os.path.abspath(path), dockerfile_path)


class RegistryIdentity(Section):
    _FIELDS = (("resource_id", None), ("client_id", None))

    def __init__(self) -> None:
        self.resource_id: str | None = None
        self.client_id: str | None = None


class ContainerRegistry(Section):
    """Mirrors `azureml.core.container_registry.ContainerRegistry` (recorded only: no image is pulled). Its
    password is kept on this object, never registered."""

    _FIELDS = (("address", None), ("username", None), ("password", None), ("registry_identity", RegistryIdentity))

    def __init__(self) -> None:
        self.address: str | None = None
        self.username: str | None = None
        self.password: str | None = None
        self.registry_identity: RegistryIdentity | None = None
