"""`fninfer install --from-environments`: the registered environments' packages, installed into the local Python
environment that `fninfer start` runs (the interpreter of the `fninfer` command), so scripts that import them run
locally as they will on Azure. `fninfer package --from-environments` is the same union for the deployed app.

The requirements are the app's own (its pyproject.toml) and every registered environment's latest version, merged
as the package command merges them (fninfer_cli.packaging.environments): conda specs become pip requirements, the Azure
ML serving packages and Python pins are left out (a Python pin this interpreter does not meet is a note), and two
pins no version satisfies stop the install, naming both sides. Environments a pipeline step or a deployment used
are registered when they are submitted (as in Azure ML), so they are in the union. pip installs them all in one
resolve, so the app's own pins hold.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fninfer_cli.packaging.dependencies import PackagingError, project_dependencies
from fninfer_cli.packaging.environments import registered_environments, union
from shared.core.storage import Storage


@dataclass
class InstallPlan:
    """What `fninfer install` runs: pip with the merged requirements, and the notes the merge made."""

    requirements: list[str]
    command: list[str]
    notes: list[str] = field(default_factory=list)


def _python_version(python: str) -> str:
    """The `major.minor` of the interpreter that gets the packages."""
    if python == sys.executable:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        answer = subprocess.run(
            [python, "-c", "import sys; print(f'{sys.version_info.major}.{sys.version_info.minor}')"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PackagingError(f"cannot run the interpreter {python!r}: {exc}") from exc
    return answer.stdout.strip()


def install_plan(
    app_dir: Path,
    storage: Storage,
    python: str | None = None,
    find_links: tuple[str, ...] = (),
    no_index: bool = False,
) -> InstallPlan:
    """The pip command that installs the app's and the registered environments' requirements into `python`'s
    environment (default: this interpreter's). PackagingError names a conflict."""
    target = python or sys.executable
    notes = []
    try:
        own = project_dependencies(app_dir)
    except PackagingError:
        own = []
        notes.append(f"{app_dir} declares no dependencies (no pyproject.toml): only the environments' are installed")
    merged = union(own, registered_environments(storage), _python_version(target))
    notes += merged.notes
    command = [sys.executable, "-m", "pip"]
    if target != sys.executable:
        command += ["--python", target]
    command.append("install")
    for link in find_links:
        command += ["--find-links", link]
    if no_index:
        command.append("--no-index")
    return InstallPlan(merged.requirements, [*command, *merged.requirements], notes)


def run_install(plan: InstallPlan, echo: Callable[[str], None]) -> int:
    """Run the plan's pip command; its exit status (pip prints what went wrong)."""
    for note in plan.notes:
        echo(f"note: {note}")
    if not plan.requirements:
        echo("nothing to install: no registered environment asks for a package")
        return 0
    echo(f"installing {len(plan.requirements)} requirements: {' '.join(plan.requirements)}")
    return subprocess.run(plan.command, check=False).returncode
