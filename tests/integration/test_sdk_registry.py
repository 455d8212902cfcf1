"""The model registry through the SDK and the real host, as the seeds use it."""

from __future__ import annotations

import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Model, Workspace
from shared import layout
from shared.errors import Conflict, IntegrityError, InvalidInput, NotFound


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
    model = Model.register(ws, model_path=folder, model_name=f"folder_{unique}", tags={"kind": "bundle"})
    cached = Path(Model.get_model_path(f"folder_{unique}", _workspace=ws))
    assert (cached / "sub" / "config.json").read_text() == '{"a": 1}'
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
