"""Registered environments: versioned records `environments/<name>/<version:010d>.json` in the registry.

As in Azure ML, registering a definition under a name gives a new version, unless it is the same as the latest one,
which is then answered as it is. A record keeps the definition as the SDK sent it (Python and conda/pip packages,
Docker settings recorded only, environment variables, inferencing stack version) and the requirements it amounts to,
which `fninfer package --from-environments` unions into the app's dependencies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from shared.core import layout, validators, versioned
from shared.core.errors import InvalidInput
from shared.core.storage import Storage


class CondaDependencies(TypedDict):
    name: str
    channels: list[str]
    dependencies: list[str]  # conda packages
    pip: list[str]
    pip_options: list[str]


class PythonSection(TypedDict):
    conda_dependencies: CondaDependencies
    user_managed_dependencies: bool  # the user installs everything: the environment asks for nothing
    interpreter_path: str


class EnvironmentDefinition(TypedDict):
    """An environment as the SDK sent it, checked (equal definitions are the same version)."""

    python: PythonSection
    docker: dict[str, Any]  # Azure ML's Docker settings, recorded only: the app runs no Docker
    environment_variables: dict[str, str | None]  # never None: parse_definition refuses a variable without a value
    inferencing_stack_version: str | None
    spark: dict[str, Any] | None  # recorded as given, used by nothing
    databricks: dict[str, Any] | None
    r: dict[str, Any] | None


class EnvironmentRecord(versioned.Versioned):
    """An environment version (`layout.environment_record`)."""

    definition: EnvironmentDefinition
    created_time: str  # ISO 8601, UTC
    requirements: list[str]  # requirements_of(the record): what `fninfer package --from-environments` installs


def parse_definition(document: dict[str, Any]) -> EnvironmentDefinition:
    """The definition as it will be recorded; a 400 naming the field that is wrong."""
    python = document.get("python") or {}
    if not isinstance(python, dict):
        raise InvalidInput("'python' must be an object", field="python")
    conda = python.get("conda_dependencies") or {}
    if not isinstance(conda, dict):
        raise InvalidInput("'python.conda_dependencies' must be an object", field="conda_dependencies")
    name = conda.get("name") or "project_environment"
    if not isinstance(name, str):
        raise InvalidInput("'conda_dependencies.name' must be a string", field="conda_dependencies")
    docker = document.get("docker") or {}
    if not isinstance(docker, dict):
        raise InvalidInput("'docker' must be an object", field="docker")
    variables = validators.string_map(document.get("environment_variables"), "environment_variables")
    if any(value is None for value in variables.values()):
        raise InvalidInput("each of 'environment_variables' needs a value", field="environment_variables")
    stack = document.get("inferencing_stack_version")
    validators.optional_text(stack, "inferencing_stack_version")
    interpreter = python.get("interpreter_path") or "python"
    if not isinstance(interpreter, str):
        raise InvalidInput("'python.interpreter_path' must be a string", field="interpreter_path")
    docker_strings = ("base_image", "base_dockerfile", "base_image_registry", "shm_size")
    for key in docker_strings:
        if docker.get(key) is not None and not isinstance(docker[key], str):
            raise InvalidInput(f"'docker.{key}' must be a string", field=key)
    # Recorded as given (Azure ML's keys), used by nothing: the app runs no Docker, Spark, Databricks or R.
    recorded = {"platform": docker.get("platform"), "build_context": docker.get("build_context")}
    sections = {key: document.get(key) for key in ("spark", "databricks", "r")}
    for key, value in {**recorded, **sections}.items():
        if value is not None and not isinstance(value, dict):
            raise InvalidInput(f"'{key}' must be an object", field=key)
    # conda's lists (channels, packages, pip options): each item a non-empty string
    package_lists = {
        key: validators.string_list(conda.get(key), key, described="non-empty strings", blank_items=False)
        for key in ("channels", "dependencies", "pip", "pip_options")
    }
    return {
        "python": {
            "conda_dependencies": {
                "name": name,
                **package_lists,
            },
            "user_managed_dependencies": bool(python.get("user_managed_dependencies", False)),
            "interpreter_path": interpreter,
        },
        "docker": {
            "enabled": bool(docker.get("enabled", False)),
            **{key: docker.get(key) for key in docker_strings},
            "arguments": validators.string_list(
                docker.get("arguments"), "arguments", described="non-empty strings", blank_items=False
            ),
            "shared_volumes": bool(docker.get("shared_volumes", True)),
            **recorded,
        },
        "environment_variables": dict(variables),
        "inferencing_stack_version": stack,
        "spark": sections["spark"],
        "databricks": sections["databricks"],
        "r": sections["r"],
    }


def requirements_of(record: EnvironmentRecord) -> list[str]:
    """The conda and pip packages an environment asks for (a user-managed one asks for nothing: Azure ML installs
    nothing for it either)."""
    python = record["definition"]["python"]
    if python["user_managed_dependencies"]:
        return []
    conda = python["conda_dependencies"]
    return [*conda["dependencies"], *conda["pip"]]


def _prefix(name: str) -> str:
    return layout.environment_versions_prefix(name)


def get_environment(storage: Storage, name: str, version: int | None = None) -> EnvironmentRecord:
    """The record of environment `name` at `version` (the latest when None); NotFound names the versions."""
    record: EnvironmentRecord = versioned.read_version(
        storage, "environment", name, _prefix(name), lambda v: layout.environment_record(name, v), version
    )
    return record


def register_environment(storage: Storage, name: str, document: dict[str, Any]) -> tuple[EnvironmentRecord, bool]:
    """Record `document` as the next version of `name`, unless it equals the latest; (record, created)."""
    validators.validate_name("environment", name)
    definition = parse_definition(document)
    versions = versioned.list_versions(storage, _prefix(name))
    if versions:
        latest = get_environment(storage, name, versions[-1])
        if latest["definition"] == definition:
            return latest, False
    record: EnvironmentRecord = {
        "name": name,
        "definition": definition,
        "created_time": datetime.now(UTC).isoformat(),
        "requirements": [],  # below, from the definition
        "version": 0,  # create_next_version numbers it
    }
    record["requirements"] = requirements_of(record)
    created = versioned.create_next_version(
        storage, record, versions[-1] if versions else 0, lambda v: layout.environment_record(name, v)
    )
    return created, True


def list_environments(storage: Storage) -> list[EnvironmentRecord]:
    """The latest version of every registered environment, by name."""
    found = []
    for path in layout.latest_records(storage.list_names(layout.REGISTRY_CONTAINER, layout.ENVIRONMENTS_PREFIX)):
        record: EnvironmentRecord | None
        record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
        if record is not None:
            found.append(record)
    return found
