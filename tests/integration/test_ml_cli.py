"""`fninfer ml ...`: Azure ML's v1 CLI commands (`az ml`) against the real local host, run as a CI script runs
them: a folder attached, a model registered, listed and shown, deployed from `--ic`/`--dc` files, services listed,
shown and deleted, a published pipeline submitted; in json, table and tsv, with `--query`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Experiment, Workspace
from fninfer.pipeline.core import Pipeline, PipelineRun
from fninfer.pipeline.steps import PythonScriptStep
from tests.hosting import RunningHost

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "fixtures" / "v1_project"
#: The keys of azureml-core's Model.serialize() and Webservice.serialize(), which the v1 CLI printed.
MODEL_KEYS = {
    "createdTime", "createdBy", "description", "id", "mimeType", "name", "framework", "frameworkVersion", "tags",
    "properties", "unpack", "url", "version", "experimentName", "runId", "runDetails", "datasets",
    "resourceConfiguration", "sampleInputDatasetId", "sampleOutputDatasetId",
}  # fmt: skip
SERVICE_KEYS = {
    "name", "description", "tags", "properties", "state", "createdTime", "updatedTime", "error", "computeType",
    "workspaceName", "imageId", "imageDigest", "imageDetails", "scoringUri", "createdBy",
}  # fmt: skip


class Az:
    """`fninfer ml` as a CI step runs it: a process in a folder, its output parsed as the step would."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "fninfer_cli", "ml", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if ok:
            assert done.returncode == 0, f"fninfer ml {' '.join(args)}: {done.stderr}"
        return done

    def json(self, *args: str) -> object:
        return json.loads(self(*args).stdout)


@pytest.fixture
def project(app_host: RunningHost, tmp_path: Path) -> Path:
    """A v1 project folder attached to the workspace, with a trained model file."""
    folder = shutil.copytree(PROJECT, tmp_path / "project")
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), folder / "model.pkl")
    attach = Az(tmp_path, {"FNINFER_CONFIG": str(app_host.config_path)})
    attached = attach.json("folder", "attach", "-e", "ci-experiment", "--path", str(folder))
    assert attached == {
        "Experiment name": "ci-experiment",
        "Subscription id": attached["Subscription id"],
        "Resource group": attached["Resource group"],
        "Workspace name": attached["Workspace name"],
        "Project path": str(folder),
    }
    assert (folder / ".fninfer" / "config.json").is_file()
    return folder


def test_models_register_list_show(project: Path, unique: str) -> None:
    az = Az(project)  # the attached folder's config, as `az ml folder attach` left it
    name = f"ci-model-{unique}"
    registered = az.json(
        "model", "register", "-n", name, "-p", "model.pkl", "-d", "iris", "--tag", "stage=ci", "--property",
        "source=cli", "--model-framework", "ScikitLearn", "--cc", "1", "--gb", "0.5", "-t", "model.json",
    )  # fmt: skip
    assert set(registered) == MODEL_KEYS
    assert (registered["name"], registered["version"], registered["id"]) == (name, 1, f"{name}:1")
    assert (registered["tags"], registered["description"], registered["framework"]) == (
        {"stage": "ci"},
        "iris",
        "ScikitLearn",
    )
    assert registered["properties"]["source"] == "cli"
    assert registered["resourceConfiguration"] == {"cpu": 1.0, "memoryInGB": 0.5, "gpu": None}
    assert json.loads((project / "model.json").read_text())["modelId"] == f"{name}:1"
    az("model", "register", "-n", name, "-p", "model.pkl")  # version 2

    listed = az.json("model", "list", "-n", name)
    assert [m["version"] for m in listed] == [2, 1] and all(set(m) == MODEL_KEYS for m in listed)
    assert az("model", "list", "-n", name, "--query", "[0].version", "-o", "tsv").stdout == "2\n"
    assert az("model", "list", "-n", name, "-l", "--query", "length(@)").stdout.strip() == "1"
    assert [m["version"] for m in az.json("model", "list", "-n", name, "--tag", "stage=ci")] == [1]
    table = az("model", "list", "-n", name, "-o", "table").stdout.splitlines()
    # knack's table, as az prints it: the scalar fields, sorted, without `id` and without empty columns
    assert {"CreatedTime", "Framework", "Name", "Version"} <= set(table[0].split()) and "Id" not in table[0].split()
    assert set(table[1]) <= {"-", " "} and len(table) == 4
    tsv = az("model", "list", "-n", name, "-o", "tsv").stdout.splitlines()
    assert len(tsv) == 2 and f"{name}:2" in tsv[0].split("\t")

    assert az.json("model", "show", "-n", name)["version"] == 2
    assert az.json("model", "show", "-n", name, "--version", "1")["tags"] == {"stage": "ci"}
    assert az.json("model", "show", "-i", f"{name}:1")["description"] == "iris"
    assert az("model", "delete", "-i", f"{name}:1").stdout == ""
    assert [m["version"] for m in az.json("model", "list", "-n", name)] == [2]
    missing = az("model", "show", "-n", f"no-such-{unique}", ok=False)
    assert missing.returncode == 1 and missing.stderr.startswith("ERROR: ") and missing.stdout == ""


def test_deploy_from_files_then_services_list_show_delete(project: Path, unique: str) -> None:
    az = Az(project)
    # the name the entry script loads (Model.get_model_path('classification_model'))
    model = az.json("model", "register", "-n", "classification_model", "-p", "model.pkl", "-t", "model.json")["id"]
    service = f"ci-svc-{unique}"
    deployed = az(
        "model", "deploy", "-n", service, "-f", "model.json", "--ic", "inference_config.yml",
        "--dc", "deployment_config.yml", "--tag", "team=ml",
    )  # fmt: skip
    shown = json.loads(deployed.stdout)
    assert set(shown) >= SERVICE_KEYS
    assert (shown["name"], shown["state"], shown["computeType"], shown["tags"]) == (
        service,
        "Healthy",
        "ACI",
        {"team": "ml"},
    )
    answer = httpx.post(shown["scoringUri"], json={"data": [[5.1, 3.5, 1.4, 0.2]]}, timeout=30)
    assert answer.status_code == 200 and answer.json()["predictions"] == [0]

    assert service in az("service", "list", "--query", "[].name", "-o", "tsv").stdout.split()
    assert [s["name"] for s in az.json("service", "list", "--model-id", model)] == [service]
    assert az("service", "show", "-n", service, "--query", "state", "-o", "tsv").stdout == "Healthy\n"
    table = az("service", "list", "--model-id", model, "-o", "table").stdout.splitlines()
    assert "Name" in table[0].split() and "State" in table[0].split() and service in table[2]

    deleted = az("service", "delete", "-n", service)
    assert deleted.stdout == ""
    gone = az("service", "show", "-n", service, ok=False)
    assert gone.returncode == 1 and gone.stderr.startswith("ERROR: ")


def test_submit_pipeline_by_published_id(project: Path, unique: str, app_host: RunningHost) -> None:
    ws = Workspace.from_config(app_host.config_path)
    step = PythonScriptStep(
        script_name="count.py", name="count", arguments=["--label", "counted"],
        source_directory=str(project / "steps"), allow_reuse=False,
    )  # fmt: skip
    published = Pipeline(workspace=ws, steps=[step]).publish(name=f"ci-pipeline-{unique}")
    az = Az(project)
    submitted = az.json("run", "submit-pipeline", "-i", published.id, "-n", f"ci-{unique}", "-f", "run.json")
    assert submitted["_experiment_name"] == f"ci-{unique}" and submitted["run_id"]
    assert json.loads((project / "run.json").read_text())["run_id"] == submitted["run_id"]
    run = PipelineRun(Experiment(ws, f"ci-{unique}"), submitted["run_id"])
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished"

    bad = az("run", "submit-pipeline", "-i", published.id, "-p", "no-equals-sign", ok=False)
    assert bad.returncode == 1 and "must be name=value" in bad.stderr
    yaml_pipeline = az("run", "submit-pipeline", "-y", "pipeline.yml", "-n", "x", ok=False)
    assert yaml_pipeline.returncode == 1 and "--pipeline-id" in yaml_pipeline.stderr
