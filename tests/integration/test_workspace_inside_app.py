"""Code running inside the app reaches its workspace as v1 code does in Azure ML: a PythonScriptStep's script and a
ParallelRunStep's entry script through `Run.get_context().experiment.workspace`, a scoring entry script through
`Workspace.from_config()` and `Workspace(subscription_id, resource_group, workspace_name)`. Each reads a registered
dataset and a model through that workspace, on a real host: the app's own address and key come from the host
(WEBSITE_HOSTNAME, as Core Tools sets it, and the admin key), nothing written into the scripts."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from fninfer._config import app_config
from fninfer.core import Dataset, Experiment, Model, Run, Workspace
from fninfer.core.compute import AmlCompute, ComputeTarget
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice
from fninfer.pipeline.core import Pipeline, PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from fninfer_host.azurite import Azurite
from shared.core.errors import InvalidInput

ROWS = 7


@pytest.fixture
def registered(ws: Workspace, tmp_path: Path, unique: str) -> str:
    """A tabular dataset of ROWS rows and a model file, both registered under `lookup-<unique>`."""
    folder = tmp_path / "rows"
    folder.mkdir()
    pd.DataFrame({"x": range(ROWS)}).to_csv(folder / "rows.csv", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(folder), target_path=f"rows-{unique}", overwrite=True, show_progress=False)
    name = f"lookup-{unique}"
    Dataset.Tabular.from_delimited_files(path=(datastore, f"rows-{unique}/rows.csv")).register(ws, name)
    (tmp_path / "model.txt").write_text("forty-two")
    Model.register(workspace=ws, model_name=name, model_path=str(tmp_path / "model.txt"))
    return name


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_a_script_step_reaches_its_workspace(ws: Workspace, registered: str, tmp_path: Path) -> None:
    code = write(
        tmp_path / "step",
        "lookup.py",
        f"""
        from fninfer.core import Dataset, Model, Run, Workspace

        run = Run.get_context()
        ws = run.experiment.workspace
        rows = Dataset.get_by_name(ws, "{registered}").to_pandas_dataframe()
        run.log("rows", len(rows))
        run.log("model_version", Model(ws, "{registered}").version)
        run.log("same_app", Workspace.from_config().get_details()["workspaceid"] == ws.get_details()["workspaceid"])
        """,
    )
    step = PythonScriptStep(script_name="lookup.py", source_directory=str(code), name="lookup", allow_reuse=False)
    run = Experiment(ws, "inside-app").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert next(run.get_children()).get_metrics() == {"rows": ROWS, "model_version": 1, "same_app": True}


def test_a_parallel_run_entry_script_reaches_its_workspace(ws: Workspace, registered: str, tmp_path: Path) -> None:
    code = write(
        tmp_path / "prs",
        "score.py",
        f"""
        from fninfer.core import Dataset, Model, Run

        def init():
            global known, context
            context = Run.get_context()
            ws = context.experiment.workspace
            known = len(Dataset.get_by_name(ws, "{registered}").to_pandas_dataframe())
            context.log("model_path_exists", bool(Model.get_model_path("{registered}", _workspace=ws)))

        def run(mini_batch):
            ws = context.experiment.workspace
            versions = [m.version for m in Model.list(ws, name="{registered}")]
            return [f"{{known}} {{versions}}" for _ in range(len(mini_batch))]
        """,
    )
    datastore = ws.get_default_datastore()
    inputs = Dataset.get_by_name(ws, registered)
    if "inside-app-cluster" not in ws.compute_targets:
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
        ComputeTarget.create(ws, "inside-app-cluster", config).wait_for_completion()
    config = ParallelRunConfig(
        source_directory=str(code),
        entry_script="score.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target=ws.compute_targets["inside-app-cluster"],
        node_count=2,
    )
    output = PipelineData("lines", datastore=datastore)
    step = ParallelRunStep(
        name="lookup-rows",
        inputs=[inputs.as_named_input("rows")],
        output=output,
        parallel_run_config=config,
        allow_reuse=False,
    )
    run = Experiment(ws, "inside-app").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_run = next(run.get_children())
    target = tmp_path / "out"
    step_run.get_output_data("lines").download(local_path=str(target))
    lines = [line for path in target.rglob("*.txt") for line in path.read_text().splitlines()]
    assert lines == [f"{ROWS} [1]"] * ROWS
    on_cluster = Run.list_by_compute(ws.compute_targets["inside-app-cluster"])
    assert step_run.id in [r.id for r in on_cluster]  # Run.list_by_compute: the steps that named the cluster
    logged = step_run.get_metrics()["model_path_exists"]
    assert logged is True or (isinstance(logged, list) and all(logged))


def test_a_scoring_entry_script_reaches_its_workspace(
    ws: Workspace, registered: str, tmp_path: Path, unique: str
) -> None:
    code = write(
        tmp_path / "service",
        "score.py",
        f"""
        import json
        from fninfer.core import Dataset, Model, Workspace

        def init():
            global answer
            ws = Workspace.from_config()
            named = Workspace(subscription_id="sub", resource_group="rg", workspace_name="ws")
            rows = len(Dataset.get_by_name(named, "{registered}").to_pandas_dataframe())
            answer = {{"rows": rows, "model": Model(ws, "{registered}").version}}

        def run(raw):
            return answer
        """,
    )
    inference = InferenceConfig(entry_script="score.py", source_directory=str(code))
    service = Model.deploy(ws, f"inside-{unique}", [], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=90)
    assert service.state == "Healthy", service.get_logs()
    assert json.loads(json.dumps(service.run(json.dumps({"data": []})))) == {"rows": ROWS, "model": 1}


def test_the_apps_own_address_and_credentials(azurite: Azurite) -> None:
    """What `app_config` derives from the app settings: loopback over http with the admin key; a host name over
    https; no admin key: the managed identity's token for the app's audience; outside the app: none."""
    azurite_connection = azurite.connection_string
    base = {"AzureWebJobsStorage": azurite_connection, "FNINFER_ADMIN_KEY": "k"}
    local = app_config({**base, "WEBSITE_HOSTNAME": "127.0.0.1:7071"})
    assert local is not None and (local.api_url, local.admin_key) == ("http://127.0.0.1:7071/api", "k")
    assert local.storage == azurite_connection
    azure = app_config(
        {
            "WEBSITE_HOSTNAME": "my-app.azurewebsites.net",
            "AzureWebJobsStorage__accountName": "account",
            "FNINFER_ENTRA_AUDIENCE": "api://fninfer",
        }
    )
    assert azure is not None and azure.api_url == "https://my-app.azurewebsites.net/api"
    assert (azure.admin_key, azure.auth_scope, azure.storage) == (None, "api://fninfer/.default", None)
    assert app_config(base) is None  # no WEBSITE_HOSTNAME: not inside an app
    assert app_config({"WEBSITE_HOSTNAME": "x"}) is None  # no storage connection: not inside an app
    with pytest.raises(InvalidInput, match="neither FNINFER_ADMIN_KEY nor FNINFER_ENTRA_AUDIENCE"):
        app_config({"WEBSITE_HOSTNAME": "x", "AzureWebJobsStorage": azurite_connection})
