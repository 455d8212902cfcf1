"""A service's conda/pip requirements against the packages this Python environment has installed."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from shared.core.errors import InvalidInput
from shared.registry.installed_packages import (
    check_environment,
    check_mode,
    check_requirements,
    missing_module_hint,
    to_pip_requirement,
    validate_check,
)


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("scikit-learn", "scikit-learn"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy=1.26.4", "numpy==1.26.4"),
        ("numpy>=1.20", "numpy>=1.20"),
        ("pytorch=2.1", "torch==2.1.*"),
        ("py-xgboost>=1.7", "xgboost>=1.7"),
    ],
)
def test_conda_specs_become_pip_requirements(conda: str, pip: str) -> None:
    assert to_pip_requirement(conda) == pip


def test_installed_packages_and_what_the_app_provides_pass() -> None:
    sklearn = metadata.version("scikit-learn")
    python = "python={}.{}".format(*sys.version_info[:2])
    requirements = [python, "pip", "scikit-learn", f"scikit-learn=={sklearn}", "numpy>=1", "azureml-defaults"]
    assert check_requirements([*requirements, "azureml-inference-server-http"]) == []


def test_each_problem_names_its_package() -> None:
    problems = check_requirements(["surely-not-installed-pkg==1.0", "scikit-learn>=99", "numpy<1", "python=2.7"])
    assert len(problems) == 4
    assert "'surely-not-installed-pkg' is not installed" in problems[0]
    assert "'scikit-learn' >=99 is requested; the app has " + metadata.version("scikit-learn") in problems[1]
    assert "'numpy' <1 is requested" in problems[2]
    assert "python ==2.7.* is requested" in problems[3]


def test_an_unparsable_requirement_is_a_problem_not_a_crash() -> None:
    (problem,) = check_requirements(["scikit-learn >>> 1"])
    assert "'scikit-learn >>> 1' is not a valid requirement" in problem


def test_warn_mode_reports_what_strict_mode_fails() -> None:
    v1 = ["python=3.6.2", "scikit-learn==0.22.1", "surely-not-installed-pkg", "azureml-defaults", "azureml-core==1.0"]
    strict = check_environment(v1, "strict")
    assert len(strict.problems) == 3 and not strict.warnings
    warn = check_environment(v1, "warn")
    assert warn.problems == [] and len(warn.warnings) == 3
    assert "'scikit-learn' ==0.22.1 is requested; the app has " + metadata.version("scikit-learn") in warn.warnings[1]
    assert "if the entry script imports it, init() fails" in warn.warnings[2]
    lines = warn.log_lines()
    assert lines[0].startswith("WARNING:fninfer.environment:python ==3.6.2 is requested")
    assert any("azureml-defaults, azureml-core: provided by fninfer" in line for line in lines)


def test_the_mode_comes_from_the_deployment_then_the_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_mode(None) == "warn"
    monkeypatch.setenv("FNINFER_ENVIRONMENT_CHECK", "strict")
    assert check_mode(None) == "strict" and check_mode("warn") == "warn"
    monkeypatch.setenv("FNINFER_ENVIRONMENT_CHECK", "lenient")
    with pytest.raises(InvalidInput, match="FNINFER_ENVIRONMENT_CHECK"):
        check_mode(None)
    with pytest.raises(InvalidInput, match="environment_check must be one of"):
        validate_check("sometimes")


def test_a_step_s_report_speaks_of_the_step() -> None:
    (note, _) = check_environment(["scikit-learn==0.22.1", "azureml-core"], "warn", for_step=True).notes
    assert "the step runs on the Function App's own packages (FNINFER_ENVIRONMENT_CHECK=warn)" in note


def test_a_missing_module_names_its_package_and_how_to_add_it() -> None:
    hint = missing_module_hint("sklearn.linear_model", ["python=3.7", "scikit-learn==0.22.2"])
    assert "no module 'sklearn' (package 'scikit-learn')" in hint
    assert "the environment asks for 'scikit-learn==0.22.2'" in hint
    assert "fninfer package --from-environments" in hint and "fninfer install --from-environments" in hint
    assert "no module 'cv2' (package 'opencv-python'): and" in missing_module_hint("cv2")  # asked by no environment
    assert to_pip_requirement("sklearn") == "scikit-learn"  # v1 environments' name for it
