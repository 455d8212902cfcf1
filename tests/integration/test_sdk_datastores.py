"""Datastores and compute targets as v1 code uses them, on a real host; hostile datastore paths refused by the SDK
before any request and by the app with a 400 naming the path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fninfer.core import Dataset, Datastore, Workspace
from fninfer.core.compute import AksCompute, AmlCompute, ComputeTarget
from fninfer.core.compute_target import ComputeTargetException
from fninfer.pipeline.steps import ParallelRunConfig
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.registry import datasets, datastores

HOSTILE_PATHS = ["../x", "a/../../b", "a\x00b", "a\\..\\..\\b", "new\nline", "bell\x07", "del\x7f"]


def test_register_a_container_and_make_it_the_default(ws: Workspace, tmp_path: Path, unique: str) -> None:
    name = f"ds_{unique}"
    store = Datastore.register_azure_blob_container(
        workspace=ws,
        datastore_name=name,
        container_name=f"sampledata-{unique}",
        account_name=ws.storage.blobs.account_name,
        create_if_not_exists=True,
    )
    assert (store.name, store.container_name) == (name, f"sampledata-{unique}")
    again = Datastore.register_azure_blob_container(ws, name, f"sampledata-{unique}")
    assert again.container_name == store.container_name  # the same definition: accepted as it is
    with pytest.raises(Conflict, match="overwrite=True"):
        Datastore.register_azure_blob_container(ws, name, f"other-{unique}")
    assert Datastore.get(ws, name).container_name == f"sampledata-{unique}"
    assert Datastore(ws, name).name == name and name in ws.datastores
    with pytest.raises(NotFound, match="no-such-store"):
        Datastore.get(ws, "no-such-store")

    (tmp_path / "mnist").mkdir()
    for digit in range(3):
        (tmp_path / "mnist" / f"{digit}.png").write_bytes(bytes([digit]) * 10)
    store.upload(str(tmp_path / "mnist"), target_path="mnist", show_progress=False)
    images = Dataset.File.from_files(path=store.path("mnist"), validate=True)
    assert images.to_path() == ["/0.png", "/1.png", "/2.png"]
    with images.mount() as context:  # no FUSE on Functions: the files are downloaded while the context is open
        assert sorted(p.name for p in Path(context.mount_point).iterdir()) == ["0.png", "1.png", "2.png"]
    assert not Path(context.mount_point).exists()
    consumed = images.as_named_input("images").as_download(path_on_compute="data/images")
    assert (consumed.mode, consumed.path_on_compute) == ("download", "data/images")

    default = ws.get_default_datastore()
    try:
        ws.set_default_datastore(name)
        assert (
            Datastore.get_default(ws).name == name and ws.get_default_datastore().container_name == store.container_name
        )
        assert Datastore(ws).name == name  # Datastore(ws) without a name is the default, as in Azure ML
    finally:
        ws.set_default_datastore(default.name)
    with pytest.raises(InvalidInput, match="container name"):
        Datastore.register_azure_blob_container(ws, f"bad_{unique}", "Not_A_Container")


@pytest.mark.parametrize("field", ["has_credential", "create_if_not_exists", "overwrite"])
def test_a_flag_that_is_not_true_or_false_is_refused_and_nothing_is_registered(
    ws: Workspace, unique: str, field: str
) -> None:
    name = f"flag_{unique}"
    body = {"container_name": f"flag-{unique}", field: {"yes": True}}
    with pytest.raises(InvalidInput, match=f"'{field}' must be true or false") as caught:
        ws.client.request("POST", f"datastores/{name}", json=body)
    assert caught.value.details == {"field": field}
    with pytest.raises(NotFound):
        Datastore.get(ws, name)


def test_another_accounts_credential_is_an_app_setting_never_a_record(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, unique: str, azurite: object
) -> None:
    name = f"other_{unique}"
    request = {"container_name": f"elsewhere-{unique}", "account_name": "pipelinedata", "has_credential": True}
    with pytest.raises(InvalidInput, match=rf"FNINFER_DATASTORE_OTHER_{unique.upper()}"):
        datastores.register_blob_container(storage, name, request)
    # the setting holds a connection string (here: Azurite's, standing for the other account)
    connection = azurite.connection_string  # type: ignore[attr-defined]
    monkeypatch.setenv(datastores.credential_setting(name), connection)
    record = datastores.register_blob_container(storage, name, request)
    assert record["credential_setting"] == f"FNINFER_DATASTORE_OTHER_{unique.upper()}"
    assert connection not in str(storage.read_json("fninfer-registry", f"datastores/{name}.json")[0])
    Storage.from_connection_string(connection).container(f"elsewhere-{unique}").upload_blob("in/a.csv", b"x\n1\n")
    files = datasets.resolve_files(storage, [{"datastore": name, "path": "in/*.csv"}])
    assert [(f["path"], f["size"]) for f in files] == [("in/a.csv", 4)]


def test_hostile_paths_are_refused_before_any_request_and_by_the_app(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    datastore = ws.get_default_datastore()
    sent: list[httpx.Request] = []
    ws.client._http.event_hooks["request"].append(sent.append)
    for bad in HOSTILE_PATHS:
        with pytest.raises(InvalidInput, match="not a valid datastore path") as caught:
            datastore.upload(str(tmp_path), target_path=bad, show_progress=False)
        assert repr(bad) in caught.value.message
        with pytest.raises(InvalidInput, match="not a valid datastore path"):
            Dataset.File.from_files(path=(datastore, f"{bad}/*.csv"))
    assert sent == []  # refused in the SDK: no request was made
    for bad in HOSTILE_PATHS:  # and the app refuses them too, naming the path
        body = {"paths": [{"datastore": "workspaceblobstore", "path": f"{bad}/*.csv"}]}
        with pytest.raises(InvalidInput, match="not a valid datastore path") as caught:
            ws.client.request("POST", "datasets/hostile", json=body)
        assert repr(f"{bad}/*.csv") in caught.value.message


def test_compute_targets_as_the_learn_how_to_creates_them(
    ws: Workspace, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    compute_name = f"cpu-{unique}"
    assert compute_name not in ws.compute_targets
    with pytest.raises(ComputeTargetException, match="not found"):
        ComputeTarget(ws, compute_name)
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", min_nodes="0", max_nodes="2")
    compute_target = ComputeTarget.create(ws, compute_name, config)
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
    assert "Succeeded" in capsys.readouterr().out
    assert compute_target.get_status().serialize()["scaleSettings"] == {
        "minNodeCount": 0,
        "maxNodeCount": 2,
        "nodeIdleTimeBeforeScaleDown": "PT1800S",
    }
    found = ws.compute_targets[compute_name]
    assert type(found) is AmlCompute and found.scale_settings.maximum_node_count == 2
    assert type(ComputeTarget(ws, compute_name)) is AmlCompute

    (tmp_path / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n")
    common = {"source_directory": str(tmp_path), "entry_script": "score.py", "error_threshold": 1}
    with pytest.raises(InvalidInput, match="node_count '3' is not between 1 and max_nodes 2"):
        ParallelRunConfig(environment=None, output_action="append_row", compute_target=found, node_count=3, **common)
    # (the app checks it too, for a step that names the target: test_batch_host.py)
    aks = ComputeTarget.create(ws, f"aks-{unique}", AksCompute.provisioning_configuration(location="eastus"))
    assert type(aks) is AksCompute and f"aks-{unique}" in ws.compute_targets
    aks.delete()
    assert f"aks-{unique}" not in ws.compute_targets
