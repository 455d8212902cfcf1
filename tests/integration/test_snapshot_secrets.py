"""A deployment from a working folder that holds fninfer's state and secrets: none of it reaches storage.

Without `source_directory`, Azure ML uploads the entry script alone; so does fninfer. The folder here looks like a
user's project after `fninfer start`: `.fninfer/config.json` with the admin key and the storage connection string,
a `local.settings.json`, an Azurite data folder. Every blob of every container is then searched for the secrets.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from fninfer.core import Dataset, Environment, Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice
from fninfer.pipeline.core import PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep
from shared.core import layout
from tests.hosting import RunningHost

SCORE = """
import json

def init():
    pass

def run(raw_data):
    return {"rows": len(json.loads(raw_data)["data"])}
"""


def every_small_blob_text(ws: Workspace) -> str:
    """The text of every blob under 1 MB in every container (a config file is small; models and data are not)."""
    service = ws.storage.blobs
    texts = []
    for container in service.list_containers():
        client = service.get_container_client(container.name)
        for blob in client.list_blobs():
            if blob.size < 1024 * 1024:
                # the session's host keeps working meanwhile (leases released, markers removed): a blob gone since
                # the listing holds nothing now
                with contextlib.suppress(ResourceNotFoundError):
                    texts.append(client.download_blob(blob.name).readall().decode("utf-8", "replace"))
    return "\n".join(texts)


@pytest.fixture
def project(app_host: RunningHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the host's real config (admin key, connection string) copied into `.fninfer/`."""
    (tmp_path / ".fninfer" / "azurite").mkdir(parents=True)
    shutil.copy(app_host.config_path, tmp_path / ".fninfer" / "config.json")
    (tmp_path / ".fninfer" / "azurite" / "__azurite_db_blob__.json").write_text("{}")
    settings = {"Values": {"AzureWebJobsStorage": app_host.config.storage, "FNINFER_ADMIN_KEY": "local-admin"}}
    (tmp_path / "local.settings.json").write_text(json.dumps(settings))
    (tmp_path / "score.py").write_text(SCORE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_entry_script_without_source_directory_is_deployed_alone(project: Path, unique: str) -> None:
    ws = Workspace.from_config()  # found in ./.fninfer, as a user's would be
    config = ws.config
    assert config.admin_key and config.storage and config.storage in (project / ".fninfer/config.json").read_text()

    service = Model.deploy(
        ws, f"alone-{unique}", [], InferenceConfig(entry_script="score.py"), AciWebservice.deploy_configuration()
    )
    service.wait_for_deployment(timeout_sec=60)
    assert service.state == "Healthy"
    assert service.run(json.dumps({"data": [[1], [2]]})) == {"rows": 2}  # the body Azure ML's server writes

    record = ws.client.request("GET", f"services/{service.name}")
    assert [item["path"] for item in record["snapshot"]["files"]] == ["score.py"]
    stored = every_small_blob_text(ws)
    assert config.admin_key not in stored
    assert "AccountKey=" not in stored and "local-admin" not in stored


def test_a_batch_step_without_source_directory_snapshots_its_entry_script_alone(project: Path) -> None:
    ws = Workspace.from_config()
    run_config = ParallelRunConfig(
        entry_script="score.py",
        environment=Environment("env"),
        error_threshold=-1,
        output_action="append_row",
        compute_target="cluster",
        node_count=1,
    )
    dataset_folder = project / "inputs"
    dataset_folder.mkdir()
    (dataset_folder / "a.txt").write_text("a")
    datastore = ws.get_default_datastore()
    datastore.upload(
        src_dir=str(dataset_folder), target_path=f"inputs-{project.name}", overwrite=True, show_progress=False
    )
    dataset = Dataset.File.from_files(path=(datastore, f"inputs-{project.name}/*.txt"))
    step = ParallelRunStep(
        name="score",
        parallel_run_config=run_config,
        inputs=[dataset.as_named_input("data")],
        output=PipelineData("out", datastore=datastore),
    )
    spec = step._spec(ws)
    assert [item["path"] for item in spec["snapshot"]["files"]] == ["score.py"]
    files = ws.storage.list_names(layout.SNAPSHOTS_CONTAINER, layout.snapshot_prefix(spec["snapshot"]["id"]))
    assert files == [layout.snapshot_prefix(spec["snapshot"]["id"]) + "score.py"]
