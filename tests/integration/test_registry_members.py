"""Azure ML's registry members on the real host: what v1 code does with models (tags and properties of any value
type, versions as strings, in-place updates, serialize/deserialize, SAS links), services and compute targets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fninfer.core import Dataset, Model, Workspace
from fninfer.exceptions import WebserviceException
from shared.errors import InvalidInput


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01weights")
    (folder / "sub" / "config.json").write_text('{"layers": 3}')
    return folder


def test_tags_and_properties_of_any_value_come_back_as_strings(ws: Workspace, model_folder: Path, unique: str) -> None:
    """Issue 21, behaviour 5: `Model.register(tags={'mse': 3021.5})` as the many-models accelerator writes it."""
    name = f"tags_{unique}"
    model = Model.register(
        ws,
        model_path=model_folder,
        model_name=name,
        tags={"mse": 3021.5, "rows": 120, "best": True, "store": "s1", "candidate": None},
        properties={"score": 0.97, "fold": 2},
    )
    expected = {"mse": "3021.5", "rows": "120", "best": "True", "store": "s1", "candidate": None}
    assert model.tags == expected and model.properties == {"score": "0.97", "fold": "2"}
    again = Model(ws, name)
    assert again.tags == expected and again.properties == {"score": "0.97", "fold": "2"}
    assert [m.id for m in Model.list(ws, name=name, tags=[["mse", "3021.5"], "candidate"])] == [model.id]
    with pytest.raises(InvalidInput, match="'tags' must be a dictionary"):
        Model.register(ws, model_path=model_folder, model_name=name, tags=["mse", 3021.5])  # type: ignore[arg-type]


def test_a_version_may_be_given_as_a_string(ws: Workspace, model_folder: Path, unique: str) -> None:
    """Issue 21, behaviour 5: `Model(ws, name, version="1")`."""
    name = f"strver_{unique}"
    first = Model.register(ws, model_path=model_folder, model_name=name)
    Model.register(ws, model_path=model_folder, model_name=name)
    assert Model(ws, name, version="1").id == first.id == f"{name}:1"
    assert Model(ws, name=name, version=" 1 ").version == 1
    assert Path(Model.get_model_path(name, version="1", _workspace=ws)).is_dir()
    with pytest.raises(WebserviceException, match="whole number"):
        Model(ws, name, version="latest")


def test_tags_properties_and_metadata_change_in_place(
    ws: Workspace, model_folder: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"upd_{unique}"
    model = Model.register(ws, model_path=model_folder, model_name=name, tags={"stage": "dev"}, properties={"a": "1"})
    model.add_tags({"stage": "prod", "mse": 12.5})
    assert "Replacing tag stage -> dev with stage -> prod" in capsys.readouterr().out
    model.remove_tags(["mse", "absent"])
    assert "Tag with key absent not found." in capsys.readouterr().out
    model.add_properties({"b": 2})
    with pytest.raises(WebserviceException, match=r"properties are immutable.*a"):
        model.add_properties({"a": "changed"})
    model.update(description="better", tags={"only": "this"})
    fresh = Model(ws, name, version=model.version)
    assert (fresh.tags, fresh.properties, fresh.description) == ({"only": "this"}, {"a": "1", "b": "2"}, "better")
    assert (model.tags, model.properties) == (fresh.tags, fresh.properties)

    # Two clients changing different tags at once both land (the app applies each change with If-Match).
    first, second = Model(ws, name), Model(ws, name)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: (first if i % 2 else second).add_tags({f"k{i}": i}), range(8)))
    assert {f"k{i}": str(i) for i in range(8)}.items() <= Model(ws, name).tags.items()


def test_dataset_references_serialize_and_deserialize(
    ws: Workspace, model_folder: Path, tmp_path: Path, unique: str
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    ws.get_default_datastore().upload_files([str(data)], target_path=f"members-{unique}", overwrite=True)
    dataset = Dataset.Tabular.from_delimited_files((ws.get_default_datastore(), f"members-{unique}/rows.csv"))
    dataset = dataset.register(ws, f"members-{unique}")
    model = Model.register(ws, model_path=model_folder, model_name=f"ser_{unique}")
    assert model.datasets == {} and model.sample_input_dataset is None and model.run is None
    model.add_dataset_references([("training", dataset)])
    model.update(sample_input_dataset=dataset)
    fresh = Model(ws, model.name)
    assert [d.id for d in fresh.datasets["training"]] == [dataset.id]
    assert fresh.sample_input_dataset.id == dataset.id

    payload = fresh.serialize()
    assert payload["id"] == fresh.id and payload["datasets"] == [{"name": "training", "id": dataset.id}]
    assert payload["sampleInputDatasetId"] == dataset.id and payload["mimeType"] == "application/octet-stream"
    twin = Model.deserialize(ws, payload)
    assert (twin.id, twin.tags, twin.sha256) == (fresh.id, fresh.tags, fresh.sha256)


def test_sas_urls_read_each_file(ws: Workspace, model_folder: Path, unique: str) -> None:
    model = Model.register(ws, model_path=model_folder, model_name=f"sas_{unique}")
    urls = model.get_sas_urls()
    assert sorted(urls) == ["sub/config.json", "weights.bin"]
    assert httpx.get(urls["weights.bin"]).content == b"\x00\x01weights"
    assert httpx.get(urls["sub/config.json"]).json() == {"layers": 3}
    assert model.url.startswith("http") and f"/sas_{unique}/" in model.url


def test_print_configuration(
    capsys: pytest.CaptureFixture[str], ws: Workspace, model_folder: Path, unique: str
) -> None:
    model = Model.register(ws, model_path=model_folder, model_name=f"cfg_{unique}")
    Model.print_configuration([model], None, None, None)
    assert f"Models: ['{model.id}']" in capsys.readouterr().out
