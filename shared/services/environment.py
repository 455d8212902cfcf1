"""Check a service's environment (conda/pip requirements) against what the Function App has installed.

A Function App has one Python environment, built when the app is packaged, so deploying a service cannot install
packages: it can only verify that what the entry script asks for is there. A missing package, or an installed
version outside the requested range, fails the deployment and names the package.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

#: Satisfied by the app itself: the Azure ML serving stack fninfer replaces, and the tools conda lists.
PROVIDED = {"python", "pip", "setuptools", "wheel", "azureml-defaults", "azureml-core", "inference-schema", "fninfer"}
#: Conda package names that differ from the distribution's name on PyPI.
CONDA_TO_PIP = {"pytorch": "torch", "py-xgboost": "xgboost", "tensorflow-cpu": "tensorflow", "pyyaml": "PyYAML"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def to_pip_requirement(spec: str) -> str:
    """A conda spec (`numpy=1.26`, `scikit-learn`, `numpy>=1.20`) as a pip requirement string."""
    text = spec.strip()
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*=\s*([^=<>!~\s]+)", text)
    if match:  # conda's single '=' is a prefix match: numpy=1.26 means 1.26.*
        name, version = match.groups()
        version = version.rstrip("*").rstrip(".")
        return (
            f"{CONDA_TO_PIP.get(name.lower(), name)}=={version}.*" if version.count(".") < 2 else f"{name}=={version}"
        )
    name = re.match(r"[A-Za-z0-9_.\-]+", text)
    if name and name.group(0).lower() in CONDA_TO_PIP:
        return CONDA_TO_PIP[name.group(0).lower()] + text[len(name.group(0)) :]
    return text


def check_requirements(requirements: list[str]) -> list[str]:
    """Problems with `requirements` in this Python environment, each naming its package; empty when all are met."""
    problems = []
    for raw in requirements:
        try:
            requirement = Requirement(to_pip_requirement(raw))
        except InvalidRequirement as exc:
            problems.append(f"{raw!r} is not a valid requirement: {exc}")
            continue
        if _normalize(requirement.name) in {_normalize(p) for p in PROVIDED} or _normalize(requirement.name).startswith(
            "azureml-"
        ):
            if _normalize(requirement.name) == "python" and requirement.specifier:
                running = ".".join(map(str, sys.version_info[:3]))
                if not requirement.specifier.contains(running, prereleases=True):
                    problems.append(f"python {requirement.specifier} is requested; the app runs Python {running}")
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"package {requirement.name!r} is not installed in the Function App")
            continue
        try:
            acceptable = not requirement.specifier or requirement.specifier.contains(
                Version(installed), prereleases=True
            )
        except InvalidVersion:
            acceptable = True
        if not acceptable:
            problems.append(
                f"package {requirement.name!r} {requirement.specifier} is requested; the app has {installed}"
            )
    return problems
