"""`fninfer install --from-environments`: the registered environments' packages (with the app's own, in one pip
resolve) installed into the local environment `fninfer start` runs, the local counterpart of `fninfer package
--from-environments`. Here into a bare virtual environment of the test's own (`--python`), from local wheels."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from click.testing import CliRunner

from fninfer.core import Environment
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer_cli.main import main
from fninfer_host.azurite import Azurite
from shared.core.storage import Storage
from shared.registry.environments import register_environment
from tests.integration.test_package import make_wheel


def register(registry: Storage, name: str, conda: list[str], pip: list[str]) -> None:
    environment = Environment(name)
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=pip, conda_packages=conda)
    register_environment(registry, name, environment._definition())


def test_install_from_environments_into_a_local_environment(lone_azurite: Azurite, tmp_path: Path) -> None:
    registry = Storage.from_connection_string(lone_azurite.connection_string)
    app = tmp_path / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\ndependencies = ["tinydep>=1"]\n')
    wheels = tmp_path / "wheels"
    for name, version in (("tinydep", "1.0"), ("envdep", "2.0"), ("stepdep", "3.1")):
        make_wheel(wheels, name, version)
    # a v1 environment (its Python pin is a note; azureml-* come with fninfer) and a step's environment
    register(registry, "scoring", ["python=3.6"], ["envdep>=2", "azureml-defaults"])
    register(registry, "training", [], ["stepdep==3.1"])
    target = tmp_path / "local-env"
    venv.create(target, with_pip=False)
    python = str(target / "bin" / "python")
    options = ["--app-dir", str(app), "--storage", lone_azurite.connection_string, "--python", python]
    options += ["--no-index", "--find-links", str(wheels)]
    runner = CliRunner()

    planned = runner.invoke(main, ["install", "--from-environments", *options, "--dry-run"])
    assert planned.exit_code == 0, planned.output
    assert "note: environment 'scoring' asks for python ==3.6.*" in planned.output
    assert planned.output.splitlines()[1:4] == ["tinydep>=1", "envdep>=2", "stepdep==3.1"]

    installed = subprocess.run(
        [sys.executable, "-m", "fninfer_cli", "install", "--from-environments", *options],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    check = "import envdep, stepdep, tinydep; print(envdep.VERSION, stepdep.VERSION, tinydep.VERSION)"
    assert subprocess.run([python, "-c", check], capture_output=True, text=True).stdout.split() == ["2.0", "3.1", "1.0"]

    # two pins no version satisfies stop it before pip runs, naming both sides
    register(registry, "legacy", [], ["tinydep==0.9"])
    refused = runner.invoke(main, ["install", "--from-environments", *options])
    assert refused.exit_code != 0
    assert (
        "the app (pyproject.toml): tinydep>=1" in refused.output
        and "environment 'legacy': tinydep==0.9" in refused.output
    )
    assert runner.invoke(main, ["install"]).exit_code == 2  # says what to install
