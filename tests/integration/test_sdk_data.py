"""Datastores and file datasets through the SDK, as the seeds' batch flow prepares its input."""

from __future__ import annotations

from pathlib import Path

import pytest

from fninfer.core import Dataset, Datastore, Workspace
from fninfer.data.data_reference import DataReference
from shared.core.errors import Conflict, InvalidInput, NotFound


def write_csvs(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"{index + 1}.csv").write_text(f"{index},2.3,4.1,2.0\n")


def test_datastore_upload_and_download(ws: Workspace, tmp_path: Path, unique: str) -> None:
    default_ds = ws.get_default_datastore()
    assert default_ds.name == "workspaceblobstore" and "workspaceblobstore" in ws.datastores
    write_csvs(tmp_path / "src" / "nested", 3)
    written = default_ds.upload(src_dir=str(tmp_path / "src"), target_path=unique, show_progress=False)
    # as in Azure ML, a DataReference to the target path, which a dataset takes as its path
    assert isinstance(written, DataReference) and written.path_on_datastore == unique
    assert written.datastore.name == "workspaceblobstore" and str(written).startswith("$AZUREML_DATAREFERENCE_")
    assert Dataset.File.from_files(path=written).to_path() == [f"/nested/{i}.csv" for i in (1, 2, 3)]
    (tmp_path / "src" / "nested" / "1.csv").write_text("changed\n")
    default_ds.upload(src_dir=str(tmp_path / "src"), target_path=unique, show_progress=False)  # kept: no overwrite
    assert default_ds.download(tmp_path / "kept", prefix=f"{unique}/nested/1.csv", show_progress=False) == 1
    assert (tmp_path / "kept" / unique / "nested" / "1.csv").read_text() == "0,2.3,4.1,2.0\n"
    reference = default_ds.upload_files(
        [str(tmp_path / "src" / "nested" / "1.csv")], target_path=unique, overwrite=True
    )
    assert reference.path_on_datastore == unique  # one file: it keeps its name only (its folder is the root)
    assert default_ds.download(tmp_path / "down", prefix=unique, show_progress=False) == 4
    assert (tmp_path / "down" / unique / "1.csv").read_text() == "changed\n"
    with pytest.raises(InvalidInput, match="is not a folder"):
        default_ds.upload(src_dir=str(tmp_path / "missing"))
    assert Datastore.get(ws, "workspaceblobstore").container_name == default_ds.container_name


def test_file_dataset_seed_flow(ws: Workspace, tmp_path: Path, unique: str) -> None:
    default_ds = ws.get_default_datastore()
    write_csvs(tmp_path / "batch", 5)
    (tmp_path / "batch" / "notes.txt").write_text("not data")
    default_ds.upload(src_dir=str(tmp_path / "batch"), target_path=f"{unique}/batch-data", show_progress=False)
    single = Dataset.File.from_files(path=(default_ds, f"{unique}/batch-data/3.csv"))
    assert single.to_path() == ["/3.csv"]

    dataset = Dataset.File.from_files(path=(default_ds, f"{unique}/batch-data/*.csv"))
    assert dataset.to_path() == [f"/{i}.csv" for i in range(1, 6)]
    name = f"batch-data-{unique}"
    registered = dataset.register(workspace=ws, name=name, description="batch data")
    assert (registered.name, registered.version, registered.id) == (name, 1, f"{name}:1")
    assert dataset.register(workspace=ws, name=name).version == 1  # same definition: the same version

    other = Dataset.File.from_files(path=(default_ds, f"{unique}/batch-data/**"))
    with pytest.raises(Conflict, match="create_new_version"):
        other.register(workspace=ws, name=name)
    assert other.register(workspace=ws, name=name, create_new_version=True).version == 2

    assert ws.datasets[name].version == 2 and ws.datasets(name).version == 2  # both seed spellings
    assert Dataset.get_by_name(ws, name, version=1).to_path() == [f"/{i}.csv" for i in range(1, 6)]
    local = Dataset.get_by_name(ws, name, version=1).download(target_path=tmp_path / "local")
    assert sorted(Path(p).name for p in local) == [f"{i}.csv" for i in range(1, 6)]
    named = registered.as_named_input("batch_data")
    assert (named.name, named.dataset.name) == ("batch_data", name)


def test_dataset_bad_inputs(ws: Workspace, unique: str) -> None:
    default_ds = ws.get_default_datastore()
    with pytest.raises(InvalidInput, match="no files match"):
        Dataset.File.from_files(path=(default_ds, f"{unique}/nothing/*.csv"))
    with pytest.raises(InvalidInput, match="datastore"):
        Dataset.File.from_files(path="just-a-string")  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="not registered"):
        Dataset.get_by_name(ws, f"nosuch-{unique}")
    with pytest.raises(NotFound):
        ws.datasets(f"nosuch-{unique}")
    with pytest.raises(InvalidInput, match="not valid"):
        Dataset.get_by_name(ws, f"x-{unique}/1")
    with pytest.raises(NotFound, match=r"datastores: \['workspaceblobstore'"):
        Datastore.get(ws, f"nosuch-{unique}")


def test_a_dataset_of_several_patterns_lists_paths_from_their_common_folder(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    default_ds = ws.get_default_datastore()
    write_csvs(tmp_path / "src" / "2024", 2)
    write_csvs(tmp_path / "src" / "2025" / "jan", 1)
    default_ds.upload(src_dir=str(tmp_path / "src"), target_path=unique, show_progress=False)
    dataset = Dataset.File.from_files(
        path=[(default_ds, f"{unique}/2024/?.csv"), (default_ds, f"{unique}/2025/**/*.csv")]
    )
    assert dataset.to_path() == ["/2024/1.csv", "/2024/2.csv", "/2025/jan/1.csv"]
    registered = dataset.register(ws, f"years-{unique}", tags={"span": "2y"})
    assert Dataset.get_by_name(ws, f"years-{unique}").to_path() == dataset.to_path()
    local = sorted(Path(p).relative_to(tmp_path / "out").as_posix() for p in registered.download(tmp_path / "out"))
    assert local == ["2024/1.csv", "2024/2.csv", "2025/jan/1.csv"]
    with pytest.raises(InvalidInput, match="overwrite=True"):
        registered.download(tmp_path / "out")
    assert len(registered.download(tmp_path / "out", overwrite=True)) == 3
