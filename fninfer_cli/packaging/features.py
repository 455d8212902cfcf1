"""Optional parts of the app's dependencies: what `fninfer package` leaves out of the zip unless something needs it.

An optional feature is an extra of the app's pyproject.toml (`[project.optional-dependencies]`) that fninfer knows
the use of, and so can tell whether the registry needs:

    parquet   pyarrow: Parquet files of tabular datasets (Dataset.Tabular.from_parquet_files). About 55 MB of a
              134 MB zip, for a feature most apps do not use.

The zip has a feature when `--with <extra>` asks for it (any extra of the app's), or when the registry (`--storage`,
or the workspace's) has something that needs it: for parquet, a registered dataset or a published pipeline reading
Parquet files, or a registered environment asking for pyarrow. Otherwise it is left out, and `fninfer package` says
so, why, and how to put it in; a Parquet read in an app packaged without it fails naming the same option.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from fninfer_cli.packaging.dependencies import PackagingError
from shared.core import layout
from shared.core.errors import FninferError
from shared.core.storage import Storage
from shared.registry.environments import list_environments, requirements_of
from shared.registry.installed_packages import normalize, to_pip_requirement


@dataclass(frozen=True)
class Feature:
    extra: str
    purpose: str
    needed_by: Callable[[Storage, list[str]], list[str]]  # (registry, the extra's packages) -> what needs it


def _reads_parquet(document: Any) -> bool:
    """Whether a definition holds a tabular spec of Parquet files, anywhere in it."""
    if isinstance(document, dict):
        if document.get("format") == "parquet":
            return True
        return any(_reads_parquet(value) for value in document.values())
    if isinstance(document, list):
        return any(_reads_parquet(value) for value in document)
    return False


def _asking_environments(storage: Storage, packages: list[str]) -> list[str]:
    wanted = {normalize(package) for package in packages}
    found = []
    for record in list_environments(storage):
        for raw in requirements_of(record):
            try:
                name = normalize(Requirement(to_pip_requirement(raw)).name)
            except InvalidRequirement:
                continue
            if name in wanted:
                found.append(f"environment {record['name']!r} asks for {raw!r}")
    return found


def _parquet_users(storage: Storage, packages: list[str]) -> list[str]:
    found = [  # every version: a pipeline may name an older one
        f"dataset {record['name']!r} (version {record.get('version')}) reads Parquet files"
        for record in storage.read_all_json(layout.REGISTRY_CONTAINER, layout.DATASETS_PREFIX)
        if record.get("kind") == "tabular" and _reads_parquet(record.get("tabular"))
    ]
    for record in storage.read_all_json(layout.REGISTRY_CONTAINER, layout.PUBLISHED_PIPELINES_PREFIX):
        if _reads_parquet(record.get("definition")):
            found.append(f"published pipeline {record.get('name')!r} reads Parquet files")
    return found + _asking_environments(storage, packages)


FEATURES = {"parquet": Feature("parquet", "Parquet files of tabular datasets", _parquet_users)}


@dataclass
class Choice:
    requirements: list[str] = field(default_factory=list)  # what the chosen extras add to the app's dependencies
    lines: list[str] = field(default_factory=list)  # what was included or left out, and why


def optional_dependencies(app_dir: Path) -> dict[str, list[str]]:
    """The app's extras ({name: requirements}); none for an app without a pyproject.toml."""
    pyproject = app_dir / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        extras = tomllib.loads(pyproject.read_text()).get("project", {}).get("optional-dependencies") or {}
    except tomllib.TOMLDecodeError as exc:
        raise PackagingError(f"{pyproject} is not valid TOML: {exc}") from exc
    return {str(name): [str(r) for r in requirements] for name, requirements in extras.items()}


def choose(app_dir: Path, asked: tuple[str, ...], registry: Storage | None) -> Choice:
    """Which extras go into the zip: those `asked` for, and the optional features the registry needs."""
    extras = optional_dependencies(app_dir)
    unknown = [name for name in asked if name not in extras]
    if unknown:
        offered = ", ".join(sorted(extras)) or "none"
        raise PackagingError(f"--with {unknown[0]}: the app has no such extra (its extras: {offered})", field="with")
    choice = Choice()
    for name in asked:
        choice.requirements += extras[name]
        choice.lines.append(f"with {name}: {', '.join(extras[name])} (asked for)")
    for name, feature in FEATURES.items():
        if name not in extras or name in asked:
            continue
        packages = [Requirement(r).name for r in extras[name]]
        needed, unread = [], ""
        if registry is not None:
            try:
                needed = feature.needed_by(registry, packages)
            except FninferError as exc:  # a stale workspace config, storage not running: the zip can still be built
                unread = f"the registry could not be read ({exc.message})"
        if needed:
            choice.requirements += extras[name]
            choice.lines.append(f"with {name}: {', '.join(extras[name])}, because {'; '.join(needed)}")
            continue
        why = unread or (
            "nothing registered needs it"
            if registry is not None
            else "the registry was not checked (no --storage and no workspace config)"
        )
        choice.lines.append(
            f"left out {name}: {', '.join(packages)} ({feature.purpose}): {why}; `--with {name}` puts it in"
        )
    return choice
