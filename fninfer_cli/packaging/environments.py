"""`fninfer package --from-environments`: the app's requirements as the union of its own and the registered
environments'.

A Function App has one Python environment, so every service's environment must fit in it. Each registered
environment (its latest version) contributes its conda and pip packages, as pip requirements (conda specs converted,
conda's own tools and the Azure ML serving packages left out: fninfer provides those). Requirements on the same
package are merged; when two cannot both hold (`scikit-learn==0.22.1` and `scikit-learn>=1.4`), the build fails
naming both and where each comes from. A Python version pin cannot be met by packages: each one the target Python
does not satisfy is reported as a note, not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from fninfer_cli.packaging.dependencies import PackagingError, project_dependencies
from shared.core.storage import Storage
from shared.registry.environments import list_environments, requirements_of
from shared.registry.installed_packages import is_provided, normalize, to_pip_requirement

APP = "the app (pyproject.toml)"


@dataclass
class EnvironmentRequirements:
    requirements: list[str]  # the app's own first, then what the environments add, one line per package
    notes: list[str] = field(default_factory=list)


@dataclass
class _Wanted:
    requirement: Requirement
    sources: list[str]


def _candidates(specifier: SpecifierSet) -> list[Version]:
    """Versions that could satisfy a merged specifier: each bound, and a little above and below it."""
    found = []
    for spec in specifier:
        text = spec.version.removesuffix(".*")
        try:
            base = Version(text)
        except InvalidVersion:
            continue
        release = list(base.release) + [0] * (3 - len(base.release))
        found += [
            base,
            Version(f"{release[0]}.{release[1]}.{release[2] + 1}"),
            Version(f"{release[0]}.{release[1] + 1}"),
        ]
        if release[2] > 0:
            found.append(Version(f"{release[0]}.{release[1]}.{release[2] - 1}"))
        if release[1] > 0:
            found.append(Version(f"{release[0]}.{release[1] - 1}.999"))
    return found


def satisfiable(specifier: SpecifierSet) -> bool:
    """Whether some version meets every part of `specifier` (checked on the versions its bounds name and their
    neighbours, which is where two pins can meet)."""
    if not str(specifier):
        return True
    return any(specifier.contains(candidate, prereleases=True) for candidate in _candidates(specifier))


def union(
    app_requirements: list[str], environments: dict[str, list[str]], python_version: str
) -> EnvironmentRequirements:
    """Merge the app's requirements with each environment's ({name: requirements}); PackagingError names a
    conflict's two sides."""
    wanted: dict[str, _Wanted] = {}
    notes: list[str] = []
    order: list[str] = []

    def add(raw: str, source: str) -> None:
        try:
            requirement = Requirement(to_pip_requirement(raw))
        except InvalidRequirement as exc:
            raise PackagingError(f"{source} asks for {raw!r}, which is not a requirement pip can read: {exc}") from exc
        key = normalize(requirement.name)
        if key == "python":
            if requirement.specifier and not requirement.specifier.contains(python_version, prereleases=True):
                notes.append(
                    f"{source} asks for python {requirement.specifier}; the package is for Python {python_version}"
                )
            return
        if source != APP and is_provided(requirement.name):
            return
        current = wanted.get(key)
        if current is None:
            wanted[key] = _Wanted(requirement, [f"{source}: {raw}"])
            order.append(key)
            return
        merged = current.requirement.specifier & requirement.specifier
        if not satisfiable(merged):
            raise PackagingError(
                f"{requirement.name}: {'; '.join(current.sources)} conflicts with {source}: {raw} "
                "(no version satisfies both). Change one of them, or keep the environment out of this app",
                package=requirement.name,
            )
        extras = current.requirement.extras | requirement.extras
        combined = Requirement(
            f"{current.requirement.name}{'[' + ','.join(sorted(extras)) + ']' if extras else ''}{merged}"
        )
        wanted[key] = _Wanted(combined, [*current.sources, f"{source}: {raw}"])

    for raw in app_requirements:
        add(raw, APP)
    for name, requirements in sorted(environments.items()):
        for raw in requirements:
            add(raw, f"environment {name!r}")
    return EnvironmentRequirements([str(wanted[key].requirement) for key in order], notes)


def registered_environments(storage: Storage) -> dict[str, list[str]]:
    """{name: requirements} of the latest version of every registered environment."""
    return {record["name"]: requirements_of(record) for record in list_environments(storage)}


def environment_requirements(
    app_dir: Path, storage: Storage | None, python_version: str, echo: Callable[[str], None]
) -> tuple[str, ...]:
    """The requirements `--from-environments` builds with (notes go to `echo`)."""
    if storage is None:
        raise PackagingError("--from-environments needs the registry: give --storage or a workspace config")
    merged = union(project_dependencies(app_dir), registered_environments(storage), python_version)
    for note in merged.notes:
        echo(f"note: {note}")
    return tuple(merged.requirements)
