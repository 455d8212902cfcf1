"""Environments as v1 users have them (issue 10 item 5), on a real host: registered and versioned, round-tripped,
checked at deployment in 'warn' mode by default (pins the app cannot meet are logged, naming installed vs asked) or
'strict', and unioned into the app's requirements by `fninfer package --from-environments`."""

from __future__ import annotations

import shutil
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from fninfer.core import Environment, Model, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig
from fninfer.core.runconfig import DEFAULT_CPU_IMAGE, RunConfiguration
from fninfer.core.webservice import AciWebservice, WebserviceException
from fninfer_cli.main import main
from fninfer_host.azurite import Azurite, start_azurite
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import Storage
from shared.registry.environments import register_environment
from tests.hosting import eventually
from tests.integration.test_package import make_wheel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"
ROOT = Path(__file__).resolve().parents[2]
#: What a v1 environment file looks like: the pins of an Azure ML image from 2020.
V1_CONDA = """name: project_environment
dependencies:
- python=3.6.2
- scikit-learn==0.22.1
- numpy
- pip:
  - azureml-defaults
  - azureml-core==1.0.83
  - inference-schema[numpy-support]
channels:
- anaconda
- conda-forge
"""


def source(tmp: Path) -> Path:
    folder = tmp / "src"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "flaky.py", folder / "score.py")
    return folder


def test_environments_register_get_and_list_as_versions(ws: Workspace, tmp_path: Path, unique: str) -> None:
    (tmp_path / "env.yml").write_text(V1_CONDA)
    name = f"sklearn-env-{unique}"
    env = Environment.from_conda_specification(name, tmp_path / "env.yml")
    env.docker.base_image = DEFAULT_CPU_IMAGE
    env.environment_variables = {"MODE": "test"}
    env.inferencing_stack_version = "latest"
    first = env.register(ws)
    assert first.version == "1" and env.version == "1"
    assert env.register(ws).version == "1"  # the same definition again is the same version, as in Azure ML
    got = Environment.get(ws, name)
    assert (
        got.python.conda_dependencies.serialize_to_string()
        == CondaDependencies(tmp_path / "env.yml").serialize_to_string()
    )
    assert got.docker.base_image == DEFAULT_CPU_IMAGE and got.environment_variables == {"MODE": "test"}
    assert got.inferencing_stack_version == "latest"

    got.python.conda_dependencies.add_pip_package("joblib")
    assert got.register(ws).version == "2"
    assert Environment.get(ws, name, version=1).python.conda_dependencies.pip_packages == [
        "azureml-defaults",
        "azureml-core==1.0.83",
        "inference-schema[numpy-support]",
    ]
    assert "joblib" in Environment.get(ws, name).python.conda_dependencies.pip_packages
    assert Environment.list(ws)[name].version == "2" and ws.environments[name].version == "2"

    (tmp_path / "requirements.txt").write_text("--extra-index-url https://example.invalid/simple\nnumpy>=1\n")
    pip_env = Environment.from_pip_requirements(f"pip-env-{unique}", tmp_path / "requirements.txt", pip_version="23.0")
    back = Environment.get(ws, pip_env.register(ws).name)
    assert back.python.conda_dependencies.pip_packages == ["numpy>=1"]  # the file's list, as Azure ML's
    assert back.python.conda_dependencies.pip_options == ["--extra-index-url https://example.invalid/simple"]
    assert "pip=23.0" in back.python.conda_dependencies.conda_packages

    with pytest.raises(NotFound, match="has no version 9"):
        Environment.get(ws, name, version=9)
    with pytest.raises(InvalidInput, match="'environment_variables' needs a value"):
        ws.client.request("POST", f"environments/{name}", json={"environment_variables": {"A": None}})
    numbered = ws.client.request("POST", f"environments/{name}", json={"environment_variables": {"A": 1}})
    assert numbered["definition"]["environment_variables"] == {"A": "1"}  # kept as a string, as Azure ML keeps it
    config = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["joblib"]))
    config.environment.docker.enabled = True
    assert "joblib" in config.environment.python.conda_dependencies.pip_packages


def test_a_v1_environment_deploys_with_warnings_naming_installed_and_asked(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    (tmp_path / "env.yml").write_text(V1_CONDA)
    env = Environment.from_conda_specification("v1-env", tmp_path / "env.yml")
    inference = InferenceConfig(entry_script="score.py", source_directory=source(tmp_path), environment=env)
    service = Model.deploy(ws, f"v1env-{unique}", [], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=90)
    assert service.state == "Healthy"
    logs = eventually(lambda: (text := service.get_logs()) and "fninfer.environment" in text and text)
    installed = metadata.version("scikit-learn")
    assert f"'scikit-learn' ==0.22.1 is requested; the app has {installed}" in logs
    running = ".".join(map(str, sys.version_info[:3]))
    assert f"python ==3.6.2 is requested; the app runs Python {running}" in logs
    assert "azureml-defaults, azureml-core: provided by fninfer" in logs
    assert "environment_check='strict'" in logs  # says how to make them fatal

    strict = AciWebservice.deploy_configuration(environment_check="strict")
    failed = Model.deploy(ws, f"v1strict-{unique}", [], inference, strict)
    with pytest.raises(WebserviceException, match=r"python ==3\.6\.2 .*'scikit-learn' ==0\.22\.1 is requested"):
        failed.wait_for_deployment(timeout_sec=90)
    with pytest.raises(InvalidInput, match="environment_check must be one of"):
        AciWebservice.deploy_configuration(environment_check="loose")
    for service_ in (service, failed):
        service_.delete()


@pytest.fixture
def empty_registry() -> Iterator[Azurite]:
    """A registry of its own: the union takes every registered environment, and the session's holds others'."""
    server = start_azurite(ROOT)
    try:
        yield server
    finally:
        server.stop()


def test_package_from_environments_unions_and_names_conflicts(empty_registry: Azurite, tmp_path: Path) -> None:
    registry = Storage.from_connection_string(empty_registry.connection_string)
    app = tmp_path / "app"
    app.mkdir()
    for part in ("function_app.py", "host.json"):
        shutil.copy(ROOT / part, app / part)
    (app / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\ndependencies = ["tinydep>=1"]\n')
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinydep", "1.0")
    make_wheel(wheels, "envdep", "2.0")

    def register(name: str, conda: list[str], pip: list[str]) -> None:
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=pip, conda_packages=conda)
        register_environment(registry, name, env._definition())

    # A v1 environment: its Python pin is a note, azureml-* come with fninfer, its own package joins the app's.
    register("scoring", ["python=3.6"], ["envdep>=2", "azureml-defaults"])
    runner = CliRunner()
    options = ["--app-dir", str(app), "--storage", empty_registry.connection_string, "--from-environments"]
    output = tmp_path / "app.zip"
    result = runner.invoke(main, ["package", *options, "--no-index", "--find-links", str(wheels), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "note: environment 'scoring' asks for python ==3.6.*" in result.output
    with zipfile.ZipFile(output) as archive:
        pinned = archive.read("requirements.txt").decode()
    assert "envdep==2.0" in pinned and "tinydep==1.0" in pinned and "azureml" not in pinned

    # Two pins that cannot both hold: the build fails before any wheel is fetched, naming both sides.
    register("legacy", [], ["tinydep==0.9"])
    result = runner.invoke(main, ["package", *options, "--no-index", "--find-links", str(wheels), "-o", str(output)])
    assert result.exit_code != 0
    assert "the app (pyproject.toml): tinydep>=1" in result.output
    assert "environment 'legacy': tinydep==0.9" in result.output
