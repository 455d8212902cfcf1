"""The rest of Azure ML's surface of Run, PipelineRun, StepRun, Experiment, Workspace, PublishedPipeline and
PipelineEndpoint, each against a real host: what it does where the data exists here, and where it cannot exist on
Functions the Azure ML exception that says why."""

from __future__ import annotations

import json
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml

from fninfer.core import Experiment, Run, Workspace
from fninfer.exceptions import UserErrorException, WorkspaceException
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineEndpoint, PipelineRun, PublishedPipeline
from fninfer.pipeline.steps import PythonScriptStep
from shared.core.errors import NotFound
from tests.hosting import RunningHost

CONFUSION = {
    "schema_type": "confusion_matrix",
    "schema_version": "1.0.0",
    "data": {"class_labels": ["0", "1"], "matrix": [[3, 1], [0, 4]]},
}


def test_run_members(ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    experiment = Experiment(ws, f"members-{unique}")
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print('train')\n")
    run = experiment.start_logging(snapshot_directory=str(code))
    run.description = "a notebook run"
    run.display_name = "notebook"
    run.log_confusion_matrix("confusion", CONFUSION)
    run.log_residuals("residuals", json.dumps({"schema_type": "residuals", "data": {"bin_edges": [0, 1]}}))
    with pytest.raises(UserErrorException, match="schema_type 'predictions'"):
        run.log_predictions("wrong", CONFUSION)
    metrics = run.get_metrics()
    assert metrics["confusion"].startswith("artifacts/confusion-") and metrics["confusion"] in run.get_file_names()
    assert run.get_metrics(name="confusion", populate=True) == {"confusion": CONFUSION}
    run.upload_file("logs/train.txt", _text(tmp_path / "log.txt", "epoch 1\n"))
    assert run.get_details_with_logs()["logFiles"] == {"logs/train.txt": "epoch 1\n"}
    assert [Path(p).read_text() for p in run.get_all_logs(str(tmp_path / "logs"))] == ["epoch 1\n"]
    snapshot = run.get_snapshot_id()
    assert (
        snapshot and zipfile.ZipFile(run.restore_snapshot(path=str(tmp_path))).read("train.py") == b"print('train')\n"
    )
    second = experiment.start_logging(snapshot_directory=None)
    assert (run.number, second.number) == (1, 2)
    again = Run.get(ws, run.id)
    assert (again.description, again.display_name, again.get_snapshot_id()) == ("a notebook run", "notebook", snapshot)
    assert again.get_detailed_status() == {"status": "Running", "details": None}
    assert again.get_portal_url() == f"{ws.config.api_url}/runs/{run.id}"
    assert Run.get_docs_url().endswith("azureml.core.run.Run?view=azure-ml-py")
    assert run.clean() == []
    with pytest.raises(UserErrorException, match="no run definition or environment"):
        run.get_environment()
    with pytest.raises(UserErrorException, match="readable only by code running inside the app"):
        run.get_secret("db-password")
    assert [r.id for r in Run.list(experiment, status="Running")] == [second.id, run.id]
    Run.add_type_provider(f"members.{unique}", lambda exp, details: details)
    with pytest.raises(ValueError, match="already has a factory"):
        Run.add_type_provider(f"members.{unique}", lambda exp, details: details)
    run.complete()
    second.complete()


def test_experiment_members(ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"lifecycle-{unique}"
    experiment = Experiment(ws, name)
    experiment.tag("team", "vision")
    experiment.set_tags({"stage": "dev"})
    experiment.remove_tags(["stage"])
    assert Experiment(ws, name).tags == {"team": "vision"} and experiment.id
    experiment.start_logging(snapshot_directory=None).complete()
    assert name in [e.name for e in Experiment.list(ws, tags={"team": "vision"})]
    experiment.archive()
    assert experiment.archived_time is not None
    assert name not in [e.name for e in Experiment.list(ws)]
    assert [e.name for e in Experiment.list(ws, experiment_name=name, view_type="ArchivedOnly")] == [name]
    with pytest.raises(UserErrorException, match="reactivated under the same name"):
        experiment.reactivate(new_name="renamed")
    experiment.reactivate()
    experiment.refresh()
    assert experiment.archived_time is None and name in ws.experiments
    assert experiment.get_portal_url() == f"{ws.config.api_url}/experiments/{name}"
    project = tmp_path / ".azureml"
    project.mkdir()
    scope = (
        f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/projects/{name}"
    )
    (project / "project.json").write_text(json.dumps({"Scope": scope}))
    ws.write_config(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert Experiment.from_directory(str(tmp_path)).name == name
    Experiment.delete(ws, experiment.id)
    assert name not in [e.name for e in Experiment.list(ws, view_type="All")]


def test_workspace_members(ws: Workspace, unique: str, app_host: RunningHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))  # what Workspace.create(exist_ok=True) finds
    ws.update(friendly_name="Vision team", description="fninfer", tags={"cost": "team-a"})
    details = ws.get_details()
    assert (details["friendlyName"], details["description"], details["tags"]) == (
        "Vision team",
        "fninfer",
        {"cost": "team-a"},
    )
    assert details["discoveryUrl"] == ws.discovery_url == ws.config.api_url and ws.tags == {"cost": "team-a"}
    ws.set_connection(f"git-{unique}", "PythonFeed", "https://example.invalid/feed", "PAT", "token")
    assert ws.get_connection(f"git-{unique}")["target"] == "https://example.invalid/feed"
    assert f"git-{unique}" in [c["name"] for c in ws.list_connections(category="PythonFeed")]
    ws.delete_connection(f"git-{unique}")
    with pytest.raises(UserErrorException, match="has no connection"):
        ws.get_connection(f"git-{unique}")
    with pytest.raises(NotFound, match="has no connection"):
        ws.delete_connection(f"git-{unique}")
    assert ws.list_keys()["userStorageKey"]  # the local host's connection string has a key
    assert ws.diagnose_workspace({}) == {"value": {"application": "Succeeded", "storageAccount": "Succeeded"}}
    assert Workspace.create("anything", exist_ok=True).config.endpoint == ws.config.endpoint
    with pytest.raises(WorkspaceException, match="does not create Azure ML workspaces"):
        Workspace.create("anything")
    with pytest.raises(WorkspaceException, match="delete them with Azure's tools"):
        ws.delete()
    with pytest.raises(WorkspaceException, match="no MLflow tracking server"):
        ws.get_mlflow_tracking_uri()
    assert (ws.images, ws.linked_services, ws.private_endpoints) == ({}, {}, {})
    assert ws.DEFAULT_CPU_CLUSTER_NAME == "cpu-cluster" and ws.sku == "basic"
    assert ws.service_context.workspace_id == details["workspaceid"]


def test_published_pipeline_endpoint_and_pipeline_run_members(
    ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = tmp_path / "steps"
    code.mkdir()
    (code / "write.py").write_text(
        textwrap.dedent(
            """
            import sys, pathlib
            pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
            (pathlib.Path(sys.argv[1]) / "out.txt").write_text("hello")
            print("wrote it")
            """
        )
    )
    data = PipelineData("written", datastore=ws.get_default_datastore())
    step = PythonScriptStep(
        script_name="write.py", arguments=[data], outputs=[data], source_directory=str(code), name="write"
    )
    published = Pipeline(ws, [step]).publish(name=f"members-{unique}", continue_on_step_failure=True)
    assert (published.get_step_names(), published.total_run_steps, published.graph_id) == (["write"], 1, published.id)
    assert published.continue_on_step_failure is True
    assert published.get_graph().nodes == [
        {"name": "write", "type": "PythonScriptStep", "inputs": [], "outputs": ["written"]}
    ]
    published.save(str(tmp_path))
    assert yaml.safe_load((tmp_path / "pipeline.yml").read_text())["pipeline"]["steps"]["write"]["type"]
    assert published.id in [p.id for p in PublishedPipeline.get_all(ws)]
    assert published.get_portal_url() == f"{ws.config.api_url}/pipelines/published/{published.id}"

    endpoint = PipelineEndpoint.publish(ws, f"members-endpoint-{unique}", "members", published)
    endpoint.set_name(f"renamed-{unique}")
    assert PipelineEndpoint.get(ws, name=f"renamed-{unique}").id == endpoint.id
    endpoint.archive()
    assert PipelineEndpoint.get(ws, id=endpoint.id).status == "Disabled"
    endpoint.reactivate(f"members-endpoint-{unique}")
    assert (endpoint.name, endpoint.status) == (f"members-endpoint-{unique}", "Active")

    run = Experiment(ws, f"members-{unique}").submit(published)
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert [node["name"] for node in run.get_graph().nodes] == ["write"]
    run.save(str(tmp_path / "run.yml"))
    assert (tmp_path / "run.yml").exists()
    written = run.get_pipeline_output("written")
    written.download(local_path=str(tmp_path / "written"))
    assert [p.read_text() for p in (tmp_path / "written").rglob("out.txt")] == ["hello"]
    step_run = run.find_step_run("write")[0]
    assert list(step_run.get_outputs()) == ["written"]
    assert "wrote it" in step_run.get_job_log() and step_run.get_stdout_log() == step_run.get_job_log()
    assert step_run.get_outputs()["written"].get_port_data_reference().path_on_datastore
    assert Run.get(ws, run.id).__class__ is PipelineRun
    with pytest.raises(UserErrorException, match="not 'missing'"):
        run.get_pipeline_output("missing")


def _text(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)
