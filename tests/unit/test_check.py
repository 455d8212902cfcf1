"""`fninfer check`: each use of Azure ML resolved against the real SDK's record and the installed fninfer, with a
verdict, in .py files, notebooks and environment and configuration files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fninfer_cli.check import Finding, check, check_python
from fninfer_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "fixtures" / "v1_project"


def verdicts(source: str) -> dict[tuple[int, str], str]:
    return {(f.line, f.name): f.verdict for f in check_python(source, "x.py")}


def test_imports_calls_and_attributes_on_what_they_bind() -> None:
    found = verdicts(
        "from azureml.core import Environment, Workspace, Model\n"
        "from azureml.core.webservice import AciWebservice\n"
        "ws = Workspace.from_config()\n"
        "model = Model(ws, 'classification_model')\n"
        "print(model.version, ws.models)\n"
        "config = AciWebservice.deploy_configuration(cpu_cores=1, auth_enabled=True)\n"
        "from azureml.core import get_run\n"
        "Environment.get(ws, 'e', label='x')\n"
        "Model.register(ws, model_path='m.pkl', model_name='m', no_such_option=1)\n"
    )
    assert found == {
        (1, "azureml.core.Workspace"): "differs",  # a config's workspace, whatever its names
        (1, "azureml.core.Model"): "runs",
        (1, "azureml.core.Environment"): "runs",
        (2, "azureml.core.webservice.AciWebservice"): "runs",
        (3, "azureml.core.Workspace.from_config"): "runs",
        (4, "azureml.core.Model"): "runs",
        (5, "azureml.core.model.Model.version"): "runs",  # `model` is a Model: fninfer's annotations say so
        (5, "azureml.core.workspace.Workspace.models"): "runs",
        (6, "azureml.core.webservice.AciWebservice.deploy_configuration"): "differs",  # cpu_cores: recorded only
        (7, "azureml.core.get_run"): "unsupported",  # fninfer lacks it
        (8, "azureml.core.Environment.get"): "unsupported",  # the differences say so
        (9, "azureml.core.Model.register"): "unsupported",  # a keyword neither takes
    }


def test_messages_say_why_and_what_to_do() -> None:
    findings = {
        f.name: f
        for f in check_python("from azureml.core import Environment\nEnvironment.get(ws, 'e', label='x')\n", "x.py")
    }
    label = findings["azureml.core.Environment.get"]
    assert label.verdict == "unsupported" and label.difference == "environment-label"
    assert "What to do: Get the environment by name and version" in label.message
    missing = check_python("from azureml.train.estimator import Estimator\n", "x.py")[0]
    assert (missing.verdict, missing.message) == ("unsupported", "fninfer does not provide azureml.train")


def test_a_factory_typed_as_the_base_class_binds_a_subclass_method() -> None:
    """ComputeTarget.create is annotated as returning a ComputeTarget; at run time it is an AmlCompute, whose
    wait_for_completion takes min_node_count."""
    found = verdicts(
        "from azureml.core.compute import AmlCompute, ComputeTarget\n"
        "target = ComputeTarget.create(ws, 'cpu', AmlCompute.provisioning_configuration(vm_size='x', max_nodes=2))\n"
        "target.wait_for_completion(show_output=True, min_node_count=1, timeout_in_minutes=20)\n"
    )
    assert found[(3, "azureml.core.compute.ComputeTarget.wait_for_completion")] == "runs"


def test_a_migrated_project_is_checked_the_same_way() -> None:
    v1 = check_python("from azureml.core import Run\nrun = Run.get_context()\nrun.log('a', 1)\n", "x.py")
    migrated = check_python("from fninfer.core import Run\nrun = Run.get_context()\nrun.log('a', 1)\n", "x.py")
    assert [(f.line, f.name, f.verdict) for f in v1] == [(f.line, f.name, f.verdict) for f in migrated]


def test_the_v1_project_notebooks_and_files() -> None:
    findings = list(check([PROJECT]))
    by_where = {(Path(f.path).name, f.line, f.name): f.verdict for f in findings}
    assert by_where[("deploy.ipynb[cell 3]", 5, "azureml.core.Workspace.from_config")] == "runs"
    assert by_where[("deploy.ipynb[cell 4: score.py]", 7, "azureml.core.model.Model.get_model_path")] == "runs"
    assert by_where[("deploy.ipynb[cell 5]", 2, "azureml.core.Model.list")] == "runs"  # names carry across cells
    assert by_where[("conda_env.yml", 4, "scikit-learn=0.22.1")] == "differs"  # the app has another version
    assert by_where[("conda_env.yml", 6, "azureml-defaults")] == "runs"  # provided by fninfer
    assert by_where[("deployment_config.yml", 2, "containerResourceRequirements")] == "differs"
    assert by_where[("inference_config.yml", 1, "entryScript")] == "runs"
    assert by_where[(".amlignore", 1, ".amlignore")] == "runs"
    assert by_where[("steps.runconfig", 4, "framework")] == "runs"
    assert by_where[("steps.runconfig", 16, "docker")] == "differs"  # no image: recorded only
    assert by_where[("steps.runconfig", 15, "scikit-learn==0.22.1")] == "differs"
    # entry scripts, notebook and files: nothing unsupported (client.py has its unsupported lines on purpose)
    assert not [f for f in findings if f.verdict == "unsupported" and Path(f.path).name != "client.py"]


def test_the_command_prints_json_and_fails_ci_on_unsupported(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("from azureml.core import Run\nRun.get_context()\n")
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[-1]
        == "fninfer check: 2 uses of Azure ML in 1 files: 2 runs, 0 differs, 0 unsupported"
    )
    (tmp_path / "bad.py").write_text("from azureml.core.image import ContainerImage\n")
    result = CliRunner().invoke(main, ["check", "--format", "json", str(tmp_path)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["summary"] == {"files": 2, "runs": 2, "unsupported": 1}
    assert Finding(**report["findings"][0]).text().startswith(f"{tmp_path / 'bad.py'}:1:")
    assert CliRunner().invoke(main, ["check", "--fail-on", "never", str(tmp_path)]).exit_code == 0
