"""The app's dependencies for the target: Linux x86-64 wheels for the chosen Python, installed into
`.python_packages/lib/site-packages` (where the Functions host looks), and `requirements.txt` pinned to exactly what
was installed, so the package needs no remote build and a rebuild from its requirements gets the same versions."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.utils import canonicalize_name

from shared.core.errors import InvalidInput

#: glibc versions the Functions Linux images provide; pip needs each manylinux tag it may take spelled out.
MANYLINUX = ["manylinux2014_x86_64"] + [f"manylinux_2_{minor}_x86_64" for minor in range(17, 32)]
#: What pip installs into --target that a deployment does not need: console scripts (their first line names this
#: machine's interpreter), and bytecode, which would differ from build to build.
NOT_SHIPPED = re.compile(r"^(bin/|.*__pycache__/|.*\.pyc$)")


class PackagingError(InvalidInput):
    """The package cannot be built as asked; the message names the cause (for example a missing wheel)."""


@dataclass(frozen=True)
class Target:
    python_version: str = "3.11"
    find_links: tuple[str, ...] = ()  # folders (or URLs) of wheels to use besides, or instead of, the index
    no_index: bool = False  # only the find_links: for offline builds


def project_dependencies(app_dir: Path) -> list[str]:
    """The requirements the app declares: `[project].dependencies` of its pyproject.toml, else a requirements.txt
    written by hand (requirements.in), as Core Tools would take it."""
    pyproject = app_dir / "pyproject.toml"
    if pyproject.is_file():
        try:
            document = tomllib.loads(pyproject.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise PackagingError(f"{pyproject} is not valid TOML: {exc}") from exc
        dependencies = document.get("project", {}).get("dependencies")
        if isinstance(dependencies, list):
            return [str(d) for d in dependencies]
    handwritten = app_dir / "requirements.in"
    if handwritten.is_file():
        return [
            line.strip() for line in handwritten.read_text().splitlines() if line.strip() and not line.startswith("#")
        ]
    raise PackagingError(f"{app_dir} has no pyproject.toml with [project].dependencies (or requirements.in)")


def pip_command(requirements_file: Path, site_packages: Path, target: Target) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--target", str(site_packages), "-r", str(requirements_file)]
    command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python_version]
    for platform in MANYLINUX:
        command += ["--platform", platform]
    for link in target.find_links:
        command += ["--find-links", link]
    if target.no_index:
        command.append("--no-index")
    return [*command, "--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--quiet"]


def _missing(stderr: str) -> str | None:
    """The requirement pip found no wheel for, from its error output."""
    match = re.search(r"(?:No matching distribution found for|satisfies the requirement) ([^\s;]+)", stderr)
    return match.group(1) if match else None


def install(requirements: list[str], site_packages: Path, target: Target, scratch: Path) -> list[tuple[str, str]]:
    """Install `requirements` for the target into `site_packages`; returns the (name, version) pairs installed."""
    requirements_file = scratch / "requirements.in"
    requirements_file.write_text("\n".join(requirements) + "\n")
    result = subprocess.run(pip_command(requirements_file, site_packages, target), capture_output=True, text=True)
    if result.returncode != 0:
        missing = _missing(result.stderr)
        where = f"Linux x86-64 (manylinux) for CPython {target.python_version}"
        if missing is not None:
            raise PackagingError(
                f"no wheel of {missing} for {where}: the package would need a build on Azure. Pick a version "
                "that publishes such wheels, or put one in a folder given with --find-links",
                package=missing,
            )
        raise PackagingError(f"pip could not install the dependencies for {where}:\n{result.stderr.strip()}")
    return installed(site_packages)


def installed(site_packages: Path) -> list[tuple[str, str]]:
    """The distributions in a --target folder, from their metadata, sorted by name."""
    found = []
    for metadata in site_packages.glob("*.dist-info/METADATA"):
        headers = Parser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"), headersonly=True)
        found.append((canonicalize_name(headers["Name"]), headers["Version"]))
    return sorted(found)


def pinned_requirements(distributions: list[tuple[str, str]], target: Target) -> str:
    header = f"# Written by `fninfer package`: what the package holds (CPython {target.python_version}, Linux x86-64)\n"
    return header + "".join(f"{name}=={version}\n" for name, version in distributions)
