"""Check a service's environment (conda/pip requirements) against what the Function App has installed.

A Function App has one Python environment, built when the app is packaged, so deploying a service cannot install
packages: it can only compare what the entry script asks for with what is there. Two modes:

- "warn" (the default): for environments written for Azure ML v1, which pin what their image had (`python=3.6`,
  `scikit-learn==0.22.1`). A pin the app cannot meet, a Python version pin, a package the app lacks or a spec fninfer
  cannot read is a warning in the service's log naming what was asked and what the app has; the deployment goes on,
  and init() is the real test (a package it imports that is missing fails it with ModuleNotFoundError).
- "strict": each of those fails the deployment, naming the package.

Pipeline steps (PythonScriptStep, ParallelRunStep) follow the same check with the app setting's mode: "warn" runs the
step on the app's environment with each difference listed in its log, "strict" refuses the pipeline at submission.
A package the app lacks then fails at the script's import, with `missing_module_hint` saying how to add it.

In both, the Azure ML serving packages (`azureml-defaults`, `azureml-core`, any `azureml-*`, `inference-schema`) are
met by fninfer itself, and conda's own tools (`pip`, `setuptools`, ...) by the app. The mode is the deployment's
`environment_check` setting, else the app setting FNINFER_ENVIRONMENT_CHECK, else "warn".
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from shared.core.errors import InvalidInput
from shared.core.settings import ENVIRONMENT_CHECK, get_setting

CHECKS = ("warn", "strict")
DEFAULT_CHECK = "warn"
#: Satisfied by the app itself: the Azure ML serving stack fninfer replaces, and the tools conda lists.
PROVIDED = {"python", "pip", "setuptools", "wheel", "azureml-defaults", "azureml-core", "inference-schema", "fninfer"}
#: Conda package names that differ from the distribution's name on PyPI, and `sklearn`, the PyPI name v1
#: environments used for scikit-learn (now a package that refuses to install, pointing at scikit-learn).
CONDA_TO_PIP = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "tensorflow-cpu": "tensorflow",
    "pyyaml": "PyYAML",
    "sklearn": "scikit-learn",
}
#: Modules whose distribution has another name, for the hint a missing import gets.
MODULE_TO_DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
}


def normalize(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_provided(name: str) -> bool:
    """Met by the app whatever the version asked: fninfer stands in for Azure ML's serving packages."""
    normalized = normalize(name)
    return normalized in {normalize(p) for p in PROVIDED} or normalized.startswith("azureml-")


def to_pip_requirement(spec: str) -> str:
    """A conda spec (`numpy=1.26`, `scikit-learn`, `numpy>=1.20`) as a pip requirement string."""
    text = spec.strip()
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*=\s*([^=<>!~\s]+)", text)
    if match:  # conda's single '=' is a prefix match: numpy=1.26 means 1.26.*
        name, version = match.groups()
        name = CONDA_TO_PIP.get(name.lower(), name)
        version = version.rstrip("*").rstrip(".")
        return f"{name}=={version}.*" if version.count(".") < 2 else f"{name}=={version}"
    name = re.match(r"[A-Za-z0-9_.\-]+", text)
    if name and name.group(0).lower() in CONDA_TO_PIP:
        return CONDA_TO_PIP[name.group(0).lower()] + text[len(name.group(0)) :]
    return text


@dataclass
class EnvironmentReport:
    """What a check found: `problems` fail the deployment; `warnings` and `notes` go to the service's log."""

    mode: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def log_lines(self) -> list[str]:
        """The report as log lines (logging's `LEVEL:logger:message` form, as the service's other lines)."""
        return [f"WARNING:fninfer.environment:{line}" for line in self.warnings] + [
            f"INFO:fninfer.environment:{line}" for line in self.notes
        ]


def validate_check(mode: object) -> None:
    """A deployment's `environment_check` setting: None (the app's default) or one of CHECKS."""
    if mode is not None and mode not in CHECKS:
        raise InvalidInput(f"environment_check must be one of {CHECKS}, not {mode!r}", field="environment_check")


def check_mode(mode: str | None = None) -> str:
    """The mode in force: the deployment's, else the app setting's, else the default."""
    chosen = mode or get_setting(ENVIRONMENT_CHECK) or DEFAULT_CHECK
    if chosen not in CHECKS:
        raise InvalidInput(f"app setting {ENVIRONMENT_CHECK}={chosen!r} must be one of {CHECKS}")
    return chosen


def check_environment(requirements: list[str], mode: str | None = None, for_step: bool = False) -> EnvironmentReport:
    """Compare `requirements` with this Python environment, in `mode` (see the module docstring); `for_step`: a
    pipeline step's environment (its notes speak of the step, not of a deployment)."""
    report = EnvironmentReport(check_mode(mode))
    lenient = report.mode == "warn"
    unmet = report.warnings if lenient else report.problems
    mapped = []
    for raw in requirements:
        try:
            requirement = Requirement(to_pip_requirement(raw))
        except InvalidRequirement as exc:
            unmet.append(f"{raw!r} is not a valid requirement: {exc}" + ("; it was not checked" if lenient else ""))
            continue
        if normalize(requirement.name) == "python":
            running = ".".join(map(str, sys.version_info[:3]))
            if requirement.specifier and not requirement.specifier.contains(running, prereleases=True):
                unmet.append(f"python {requirement.specifier} is requested; the app runs Python {running}")
            continue
        if is_provided(requirement.name):
            if normalize(requirement.name).startswith("azureml-"):
                mapped.append(requirement.name)
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            hint = " (if the entry script imports it, init() fails)" if lenient else ""
            unmet.append(f"package {requirement.name!r} is not installed in the Function App{hint}")
            continue
        try:
            acceptable = not requirement.specifier or requirement.specifier.contains(
                Version(installed), prereleases=True
            )
        except InvalidVersion:
            acceptable = True
        if not acceptable:
            unmet.append(f"package {requirement.name!r} {requirement.specifier} is requested; the app has {installed}")
    if lenient and report.warnings:
        report.notes.append(
            f"the step runs on the Function App's own packages ({ENVIRONMENT_CHECK}=warn); set "
            f"{ENVIRONMENT_CHECK}=strict to refuse such steps"
            if for_step
            else "deployed anyway (environment_check='warn'); set environment_check='strict' in the deployment "
            "configuration to make these fail the deployment"
        )
    if mapped:
        report.notes.append(f"{', '.join(mapped)}: provided by fninfer {_fninfer_version()}")
    return report


def check_requirements(requirements: list[str]) -> list[str]:
    """The strict check's problems: empty when every requirement is met."""
    return check_environment(requirements, "strict").problems


def missing_module_hint(module: str, requirements: list[str] | None = None) -> str:
    """What to do when a script's import finds no module `module` (its top-level package is what is missing):
    name the distribution (the one the environment asks for, when it does) and how to add it to the app."""
    top = module.split(".")[0]
    distribution = MODULE_TO_DISTRIBUTION.get(module) or MODULE_TO_DISTRIBUTION.get(top) or top
    asked = None
    for raw in requirements or []:
        try:
            requirement = Requirement(to_pip_requirement(raw))
        except InvalidRequirement:
            continue
        if normalize(requirement.name) in (normalize(distribution), normalize(top)):
            asked, distribution = raw, requirement.name
            break
    why = f"the environment asks for {asked!r}, " if asked else ""
    return (
        f"the Function App has no module {top!r} (package {distribution!r}): {why}and a Function App's packages are "
        "fixed when it is built, so they are not installed per step or service. Add it to the app: on Azure, "
        "`fninfer package --from-environments` builds the app with the registered environments' packages (or add "
        f"{distribution!r} to the app's pyproject.toml); under `fninfer start`, `fninfer install --from-environments` "
        "installs them into the local environment (then start the host again)"
    )


def _fninfer_version() -> str:
    try:
        return metadata.version("fninfer")
    except metadata.PackageNotFoundError:
        return "(source)"
