"""The model registry through the SDK and the real host, as the seeds use it."""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Model, Workspace
from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.errors import Conflict, IntegrityError, InvalidInput, NotFound
from shared.core.hashing import CHUNK_SIZE, combined_sha256, sha256_file
from shared.registry.model_cache import cached_model_path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features, labels = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    return path


def test_seed_register_and_load_in_an_entry_script(ws: Workspace, model_file: Path, unique: str) -> None:
    name = f"classification_model_{unique}"
    classification_model = Model.register(
        workspace=ws, model_name=name, model_path=str(model_file), description="A classification model"
    )
    assert (classification_model.name, classification_model.version, classification_model.id) == (name, 1, f"{name}:1")
    assert Model.register(workspace=ws, model_name=name, model_path=str(model_file)).version == 2
    assert Model(ws, name).version == 2 and Model(ws, name, version=1).description == "A classification model"
    assert ws.models[name].version == 2

    model_path = Model.get_model_path(name, _workspace=ws)  # what the seeds' init() calls
    assert Path(model_path).name == "model.pkl"
    model = joblib.load(model_path)
    assert model.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).tolist() == [0]


def test_a_folder_model_downloads_and_loads_as_a_folder(ws: Workspace, tmp_path: Path, unique: str) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    (folder / "empty.txt").write_bytes(b"")
    large = os.urandom(2 * CHUNK_SIZE + 123)  # three blocks, the last one short
    (folder / "large.bin").write_bytes(large)
    model = Model.register(ws, model_path=folder, model_name=f"folder_{unique}", tags={"kind": "bundle"})
    assert model.sha256 == combined_sha256(
        (p.relative_to(folder).as_posix(), sha256_file(p)[0]) for p in folder.rglob("*") if p.is_file()
    )
    cached = Path(Model.get_model_path(f"folder_{unique}", _workspace=ws))
    assert (cached / "sub" / "config.json").read_text() == '{"a": 1}'
    assert (cached / "large.bin").read_bytes() == large and (cached / "empty.txt").read_bytes() == b""
    downloaded = Path(model.download(tmp_path / "out"))
    assert (downloaded / "weights.bin").read_bytes() == b"\x00\x01" * 1000
    with pytest.raises(Conflict, match="exist_ok"):
        model.download(tmp_path / "out")
    assert [m.id for m in Model.list(ws, tags=[["kind", "bundle"]]) if m.name == f"folder_{unique}"] == [model.id]
    assert Model.list(ws, name=f"folder_{unique}", tags=["nosuchtag"]) == []


def test_a_changed_blob_is_refused(ws: Workspace, model_file: Path, unique: str) -> None:
    model = Model.register(ws, model_path=model_file, model_name=f"tampered_{unique}")
    prefix = model._record["content_prefix"]
    ws.storage.container(layout.MODELS_CONTAINER).upload_blob(prefix + "model.pkl", b"not the model", overwrite=True)
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        Model.get_model_path(f"tampered_{unique}", _workspace=ws)
    with pytest.raises(IntegrityError):
        model.download(Path(model_file).parent / f"dl-{unique}")


def test_concurrent_registrations_get_distinct_versions(ws: Workspace, model_file: Path, unique: str) -> None:
    versions: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            versions.append(Model.register(ws, model_path=model_file, model_name=f"race_{unique}").version)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(versions) == list(range(1, 9))


def test_unknown_models_and_versions_name_what_exists(ws: Workspace, model_file: Path, unique: str) -> None:
    with pytest.raises(NotFound, match="is not registered"):
        Model(ws, f"nosuch_{unique}")
    Model.register(ws, model_path=model_file, model_name=f"known_{unique}")
    with pytest.raises(NotFound, match=r"has no version 7; versions: \[1\]"):
        Model(ws, f"known_{unique}", version=7)
    with pytest.raises(InvalidInput, match="not valid"):
        Model(ws, f"known_{unique}/1")  # never model known_…:1 through the URL


def test_delete_removes_the_version_and_its_content(ws: Workspace, model_file: Path, unique: str) -> None:
    model = Model.register(ws, model_path=model_file, model_name=f"gone_{unique}")
    prefix = model._record["content_prefix"]
    model.delete()
    with pytest.raises(NotFound):
        Model(ws, f"gone_{unique}")
    assert ws.storage.list_names(layout.MODELS_CONTAINER, prefix) == []


def test_bad_model_paths_and_names(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        Model.register(ws, model_path=tmp_path / "missing.pkl", model_name="m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="empty folder"):
        Model.register(ws, model_path=tmp_path / "empty", model_name="m")
    with pytest.raises(InvalidInput, match="not valid"):
        Model.register(ws, model_path=tmp_path, model_name="../escape")


def test_a_refused_registration_removes_its_upload(ws: Workspace, model_file: Path, unique: str) -> None:
    name = f"refused_{unique}"
    with pytest.raises(NotFound, match="not registered"):  # the app refuses it after the upload
        Model.register(ws, model_path=model_file, model_name=name, sample_input_dataset=_Unregistered())
    with pytest.raises(NotFound):
        Model(ws, name)
    assert ws.storage.list_names(layout.MODELS_CONTAINER, f"{name}/") == []


class _Unregistered:
    id = f"never-registered-{uuid.uuid4().hex}:1"


def test_models_placed_under_azureml_model_dir_need_no_storage(
    ws: Workspace, model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    name = f"packaged_{unique}"
    model = Model.register(ws, model_path=model_file, model_name=name)
    placed = tmp_path / "azureml-models"
    cached_model_path(ws.storage, model._record, root=placed)  # what packaging an app with its models does
    model.delete()  # from here on only the placed copy exists
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(placed))
    monkeypatch.chdir(tmp_path)  # no workspace config and no app storage either
    path = Model.get_model_path(name)
    assert path == str(placed / name / "1" / "model.pkl")
    assert joblib.load(path).predict(np.array([[6.7, 3.0, 5.2, 2.3]])).tolist() == [2]
    assert Model.get_model_path(name, version=1) == path


def test_inside_the_app_the_registry_is_the_apps_own_storage(
    ws: Workspace, azurite: Azurite, model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    name = f"in_app_{unique}"
    Model.register(ws, model_path=model_file, model_name=name)
    monkeypatch.chdir(tmp_path)  # no workspace config: only the app settings an entry script sees
    with pytest.raises(InvalidInput, match="no workspace config"):
        Model.get_model_path(name)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    path = Model.get_model_path(name)
    assert Path(path).name == "model.pkl" and Path(path).is_relative_to(tmp_path / "model-cache")


def test_concurrent_first_loads_share_one_complete_copy(ws: Workspace, tmp_path: Path, unique: str) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    for index in range(5):
        (folder / f"part{index}.bin").write_bytes(os.urandom(200_000))
    name = f"shared_{unique}"
    Model.register(ws, model_path=folder, model_name=name)
    expected = {p.name: p.read_bytes() for p in folder.iterdir()}

    def load() -> dict[str, bytes]:  # every caller must find every file complete, whoever downloaded it
        path = Path(Model.get_model_path(name, _workspace=ws))
        return {p.name: p.read_bytes() for p in path.iterdir() if not p.name.startswith(".")}

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: load(), range(6)))
    assert all(result == expected for result in results)
    leftovers = [p.name for p in (tmp_path / "model-cache" / name).iterdir()]
    assert leftovers == ["1"]  # no staging folders left behind


def test_a_deleted_versions_number_is_never_given_again(ws: Workspace, tmp_path: Path, unique: str) -> None:
    """Issue 11: after the latest version is deleted, its number went to different content. Versions are never
    reused (a client holding 'name:1' must never get other content), also when every version was deleted."""
    name = f"reused_{unique}"
    (tmp_path / "old.pkl").write_bytes(b"old weights")
    (tmp_path / "new.pkl").write_bytes(b"new weights")
    first = Model.register(ws, model_path=tmp_path / "old.pkl", model_name=name)
    assert Path(Model.get_model_path(name, _workspace=ws)).read_bytes() == b"old weights"
    first.delete()
    second = Model.register(ws, model_path=tmp_path / "new.pkl", model_name=name)
    assert second.version == 2
    with pytest.raises(NotFound, match="has no version 1"):
        Model(ws, name, version=1)
    path = Path(Model.get_model_path(name, _workspace=ws))
    assert path.name == "new.pkl" and path.read_bytes() == b"new weights"
    second.delete()
    assert Model.register(ws, model_path=tmp_path / "new.pkl", model_name=name).version == 3
