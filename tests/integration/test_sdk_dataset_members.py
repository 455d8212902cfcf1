"""The rest of Azure ML's dataset and datastore surface, against a real host: filter expressions, samples and
time-series filters, tags and versions of registered datasets, partition key values, file subsets chosen by
metadata, conversions, the deprecated Dataset class's statics, datastores' own members, and what cannot exist on
Functions refused with the Azure ML exception and why (never AttributeError)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fninfer.core import Dataset, Datastore, Workspace
from fninfer.data import FileDataset, TabularDataset
from fninfer.data.datapath import DataPath, DataPathComputeBinding
from fninfer.data.dataset_factory import DataType
from fninfer.exceptions import DatasetTimestampMissingError, UserErrorException
from shared.core.errors import NotFound


def upload(ws: Workspace, tmp_path: Path, target: str, files: dict[str, str]) -> None:
    folder = tmp_path / target
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    ws.get_default_datastore().upload(str(folder), target_path=target, overwrite=True, show_progress=False)


def sales_csv() -> str:
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    frame = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "store": ["a", "b"] * 5, "quantity": range(10)})
    return frame.to_csv(index=False)


def test_tabular_filters_samples_and_time_series(ws: Workspace, tmp_path: Path, unique: str) -> None:
    upload(ws, tmp_path, f"sales-{unique}", {"sales.csv": sales_csv()})
    sales = Dataset.Tabular.from_delimited_files(path=(ws.get_default_datastore(), f"sales-{unique}/sales.csv"))

    quantities = sales.filter((sales["quantity"] > 2) & ~(sales["store"] == "b")).to_pandas_dataframe()["quantity"]
    assert quantities.tolist() == [4, 6, 8]
    assert sales.filter(sales["store"].starts_with("a")).take(2).to_pandas_dataframe()["quantity"].tolist() == [0, 2]
    assert sales.take(5).filter(sales["quantity"] >= 3).to_pandas_dataframe()["quantity"].tolist() == [3, 4]  # in order
    sample = sales.take_sample(0.5, seed=7).to_pandas_dataframe()
    assert sample.equals(sales.take_sample(0.5, seed=7).to_pandas_dataframe()) and 0 < len(sample) < 10

    with pytest.raises(DatasetTimestampMissingError, match="with_timestamp_columns"):
        sales.time_after(datetime(2024, 1, 5))
    series = sales.with_timestamp_columns(timestamp="day")
    assert series.timestamp_columns == ("day", None)
    after = series.time_after(datetime(2024, 1, 8)).to_pandas_dataframe()["quantity"].tolist()
    assert after == [7, 8, 9]
    assert series.time_before(datetime(2024, 1, 2), include_boundary=False).to_pandas_dataframe()[
        "quantity"
    ].tolist() == [0]
    between = series.time_between(datetime(2024, 1, 3), datetime(2024, 1, 4)).to_pandas_dataframe()
    assert between["quantity"].tolist() == [2, 3]
    assert series.time_recent(timedelta(days=1)).to_pandas_dataframe().empty  # 2024 is long ago
    assert series.drop_columns("day").timestamp_columns == (None, None)  # dropping the column drops the trait

    registered = series.filter(series["store"] == "a").register(ws, f"sales-a-{unique}", tags={"team": "ml"})
    again = Dataset.get_by_name(ws, f"sales-a-{unique}")
    assert isinstance(again, TabularDataset) and again.timestamp_columns == ("day", None)
    assert again.to_pandas_dataframe()["quantity"].tolist() == [0, 2, 4, 6, 8]  # read back as registered

    csv_files = sales.take(3).to_csv_files()
    assert isinstance(csv_files, FileDataset) and len(csv_files.to_path()) == 1
    (parquet,) = sales.take(3).to_parquet_files().download(tmp_path / "parquet")
    assert pd.read_parquet(parquet)["quantity"].tolist() == [0, 1, 2]
    with pytest.raises(UserErrorException, match="stream"):
        sales.download("day")
    with pytest.raises(UserErrorException, match="describe"):
        sales.get_profile()
    assert registered.tags == {"team": "ml"}


def test_registered_dataset_tags_versions_and_get_all(ws: Workspace, tmp_path: Path, unique: str) -> None:
    upload(ws, tmp_path, f"tagged-{unique}", {"one.csv": "x\n1\n"})
    dataset = Dataset.Tabular.from_delimited_files(path=(ws.get_default_datastore(), f"tagged-{unique}/one.csv"))
    with pytest.raises(UserErrorException, match="must be registered"):
        dataset.add_tags({"a": "b"})
    registered = dataset.register(ws, f"tagged-{unique}", description="first", tags={"stage": "dev"})
    tagged = registered.add_tags({"owner": "ml"})
    assert tagged.tags == {"stage": "dev", "owner": "ml"} and registered.tags == tagged.tags
    with pytest.raises(UserErrorException, match="different values for tags"):
        registered.add_tags({"stage": "prod"})
    assert registered.remove_tags(["stage"]).tags == {"owner": "ml"}
    updated = registered.update(description="second")
    assert updated.description == "second" and updated.tags == {"owner": "ml"} and updated.version == 1
    assert Dataset.get_by_name(ws, f"tagged-{unique}").description == "second"  # in the registry, not the object
    assert f"tagged-{unique}" in Dataset.get_all(ws) and f"tagged-{unique}" in TabularDataset.get_all(ws)
    assert Dataset.get(ws, name=f"tagged-{unique}").id == f"tagged-{unique}:1"
    assert any(item.name == f"tagged-{unique}" for item in Dataset.list(ws))
    assert registered.data_changed_time is not None

    registered.unregister_all_versions()
    with pytest.raises(NotFound):
        Dataset.get_by_name(ws, f"tagged-{unique}")
    assert registered.register(ws, f"tagged-{unique}").version == 2  # a version number is never given twice


def test_file_subsets_partition_values_and_metadata(ws: Workspace, tmp_path: Path, unique: str) -> None:
    files = {
        f"{user}/{season}/{i}.wav": "w" * (10 * i + 1)
        for i, (user, season) in enumerate([("u1", "winter"), ("u1", "fall"), ("u2", "summer"), ("u4", "fall")])
    }
    files["notes.txt"] = "n"
    upload(ws, tmp_path, f"audio-{unique}", files)
    datastore = ws.get_default_datastore()
    audio = Dataset.File.from_files(
        path=(datastore, f"audio-{unique}/**"), partition_format=f"audio-{unique}/{{user}}/{{season}}/*.wav"
    )
    assert audio.get_partition_key_values(["user"]) == [{"user": "u1"}, {"user": "u2"}, {"user": "u4"}]
    assert {"user": "u1", "season": "fall"} in audio.get_partition_key_values()

    assert audio.take(2).to_path() == ["/notes.txt", "/u1/fall/1.wav"]  # keeps the dataset's root
    assert audio.skip(4).to_path() == ["/u4/fall/3.wav"]
    big = audio.filter(audio.file_metadata("Size") > 5)  # sizes 1, 11, 21, 31 and the note's 1
    assert big.to_path() == ["/u1/fall/1.wav", "/u2/summer/2.wav", "/u4/fall/3.wav"]
    assert audio.filter(audio.file_metadata("Extension") == "txt").to_path() == ["/notes.txt"]
    assert audio.filter(audio["season"] == "fall").to_path() == ["/u1/fall/1.wav", "/u4/fall/3.wav"]
    left, right = audio.random_split(0.5, seed=1)
    assert sorted(left.to_path() + right.to_path()) == audio.to_path()
    registered = big.register(ws, f"big-audio-{unique}")  # a subset registers and reads back as the same files
    assert Dataset.get_by_name(ws, f"big-audio-{unique}").to_path() == big.to_path()
    with pytest.raises(UserErrorException, match="datacache"):
        audio.hydrate(None)
    with pytest.raises(UserErrorException, match="Synapse"):
        audio.as_named_input("audio").as_hdfs()
    assert registered.name == f"big-audio-{unique}"


def test_deprecated_dataset_class_and_datastore_members(ws: Workspace, tmp_path: Path, unique: str) -> None:
    upload(ws, tmp_path, f"old-{unique}", {"rows.csv": "a,b\n1,2\n"})
    datastore = ws.get_default_datastore()
    assert Dataset.auto_read_files((datastore, f"old-{unique}/rows.csv")).to_pandas_dataframe()["b"].tolist() == [2]
    frame = pd.DataFrame({"k": ["x", "y"], "v": [1.5, 2.5]})
    from_frame = Dataset.from_pandas_dataframe(frame, path=DataPath(datastore, f"frames-{unique}"))
    assert from_frame.to_pandas_dataframe().equals(frame)
    with pytest.raises(UserErrorException, match="not rows in memory"):
        Dataset.from_pandas_dataframe(frame)
    with pytest.raises(UserErrorException, match="deprecated"):
        Dataset(None)
    with pytest.raises(UserErrorException, match="deprecated"):
        Dataset.head(None, 5)  # the deprecated class's instance API: refused, saying why
    with pytest.raises(UserErrorException, match="stream"):
        DataType.to_stream(ws)

    reference = DataPath(datastore, f"old-{unique}").create_data_reference(
        "rows", DataPathComputeBinding(mode="download")
    )
    assert reference.mode == "download" and DataPath.create_from_data_reference(reference).path_on_datastore == (
        f"old-{unique}"
    )
    container = f"other-{unique}"
    other = Datastore.register_azure_blob_container(ws, f"other_{unique}", container, create_if_not_exists=True)
    assert other.account_name == datastore.account_name and other.account_key is None  # never handed out
    other.set_as_default()
    assert ws.get_default_datastore().name == other.name
    other.unregister()
    assert ws.get_default_datastore().name == "workspaceblobstore"  # the built-in one is the default again
    with pytest.raises(NotFound):
        Datastore.get(ws, other.name)
    with pytest.raises(UserErrorException, match="Azure Blob containers"):
        Datastore.register_azure_file_share(ws, "share", "share", "account")
    gen2 = Datastore.register_azure_data_lake_gen2(ws, f"lake_{unique}", f"lake-{unique}", datastore.account_name)
    assert gen2.container_name == f"lake-{unique}"
