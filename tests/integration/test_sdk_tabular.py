"""Tabular datasets through the SDK and a real host: delimited, Parquet and JSON-lines files, types as Azure ML infers
them, include_path, transformations, versions, partition_by, and files that do not parse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fninfer.core import Dataset, Workspace
from fninfer.data import DataType, TabularDataset
from fninfer.data.dataset_type_definitions import PromoteHeadersBehavior
from shared.core.errors import Conflict, InvalidInput


def upload(ws: Workspace, tmp_path: Path, target: str, files: dict[str, bytes | str]) -> None:
    folder = tmp_path / target
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    ws.get_default_datastore().upload(str(folder), target_path=target, overwrite=True, show_progress=False)


CSV_A = "id,name,score,passed,day\n1,ann,1.5,true,2024-01-02\n2,bob,2.25,False,2024-02-03\n"
CSV_B = "id,name,score,passed,day\n3,,3,true,\n"


def test_delimited_files_types_path_and_transformations(ws: Workspace, tmp_path: Path, unique: str) -> None:
    upload(ws, tmp_path, f"tab-{unique}", {"a/one.csv": CSV_A, "b/two.csv": CSV_B})
    datastore = ws.get_default_datastore()
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, f"tab-{unique}/**/*.csv"), include_path=True)
    frame = dataset.to_pandas_dataframe()
    assert list(frame.columns) == ["Path", "id", "name", "score", "passed", "day"]
    assert frame["Path"].tolist() == ["/a/one.csv", "/a/one.csv", "/b/two.csv"]
    assert frame["id"].tolist() == [1, 2, 3] and str(frame["id"].dtype) == "int64"
    assert frame["score"].tolist() == [1.5, 2.25, 3.0] and frame["passed"].tolist() == [True, False, True]
    assert frame["day"].iloc[1] == pd.Timestamp("2024-02-03") and pd.isna(frame["day"].iloc[2])
    assert pd.isna(frame["name"].iloc[2])  # an empty field is null (empty_as_string=False)

    assert dataset.take(2).to_pandas_dataframe()["id"].tolist() == [1, 2]
    assert dataset.skip(1).to_pandas_dataframe()["id"].tolist() == [2, 3]
    assert list(dataset.keep_columns(["id", "name"]).to_pandas_dataframe().columns) == ["id", "name"]
    assert "score" not in dataset.drop_columns("score").to_pandas_dataframe().columns
    left, right = dataset.random_split(0.5, seed=3)
    ids = sorted(left.to_pandas_dataframe()["id"].tolist() + right.to_pandas_dataframe()["id"].tolist())
    assert ids == [1, 2, 3]  # the two parts split the rows between them

    as_text = Dataset.Tabular.from_delimited_files(
        path=(datastore, f"tab-{unique}/a/one.csv"), set_column_types={"id": DataType.to_string()}
    )
    assert as_text.to_pandas_dataframe()["id"].tolist() == ["1", "2"]
    raw = Dataset.Tabular.from_delimited_files(
        path=(datastore, f"tab-{unique}/a/one.csv"), infer_column_types=False, header=PromoteHeadersBehavior.NO_HEADERS
    )
    assert raw.to_pandas_dataframe()["Column1"].tolist() == ["id", "1", "2"]


def test_registered_versions_and_a_file_that_does_not_parse(ws: Workspace, tmp_path: Path, unique: str) -> None:
    upload(ws, tmp_path, f"reg-{unique}", {"data.csv": CSV_A})
    datastore = ws.get_default_datastore()
    dataset = Dataset.Tabular.from_delimited_files(path=datastore.path(f"reg-{unique}/data.csv"))
    registered = dataset.register(ws, f"tab-{unique}", description="scores")
    assert isinstance(registered, TabularDataset) and registered.version == 1
    assert dataset.register(ws, f"tab-{unique}").version == 1  # the same definition: the same version
    with pytest.raises(Conflict, match="create_new_version"):
        dataset.keep_columns("id").register(ws, f"tab-{unique}")
    second = dataset.keep_columns("id").register(ws, f"tab-{unique}", create_new_version=True)
    assert second.version == 2
    latest = Dataset.get_by_name(ws, f"tab-{unique}")
    assert isinstance(latest, TabularDataset) and list(latest.to_pandas_dataframe().columns) == ["id"]
    assert Dataset.get_by_id(ws, f"tab-{unique}:1").to_pandas_dataframe()["name"].tolist() == ["ann", "bob"]
    assert isinstance(ws.datasets[f"tab-{unique}"], TabularDataset)

    upload(ws, tmp_path, f"bad-{unique}", {"bad.csv": "a,b\n1,2\n3,4,5\n"})
    with pytest.raises(InvalidInput, match=rf"bad-{unique}/bad\.csv, line 3 does not parse: expected 2 fields, saw 3"):
        Dataset.Tabular.from_delimited_files(path=(datastore, f"bad-{unique}/bad.csv"))
    # as in Azure ML, skipping validation also needs infer_column_types=False (inference reads the first rows)
    later = Dataset.Tabular.from_delimited_files(
        path=(datastore, f"bad-{unique}/bad.csv"), validate=False, infer_column_types=False
    )
    with pytest.raises(InvalidInput, match="line 3"):
        later.to_pandas_dataframe()


def test_parquet_json_lines_and_partition_by(ws: Workspace, tmp_path: Path, unique: str) -> None:
    frame = pd.DataFrame({"Store": [1, 1, 2, 2], "Brand": ["a", "b", "a", "a"], "INCOME": [1.0, 2.0, 3.0, 4.0]})
    upload(
        ws,
        tmp_path,
        f"pq-{unique}",
        {"sales.parquet": frame.to_parquet(index=False), "rows.jsonl": '{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n'},
    )
    datastore = ws.get_default_datastore()
    parquet = Dataset.Tabular.from_parquet_files(path=(datastore, f"pq-{unique}/*.parquet"))
    assert parquet.to_pandas_dataframe().equals(frame)
    lines = Dataset.Tabular.from_json_lines_files(path=(datastore, f"pq-{unique}/*.jsonl"))
    assert lines.to_pandas_dataframe()["y"].tolist() == ["a", "b"]

    partitioned = parquet.partition_by(
        partition_keys=["Store", "Brand"], target=(datastore, f"pq-{unique}/by-key"), name=f"part-{unique}"
    )
    assert partitioned.partition_keys == ["Store", "Brand"] and partitioned.name == f"part-{unique}"
    rows = partitioned.to_pandas_dataframe().sort_values(["Store", "Brand", "INCOME"]).reset_index(drop=True)
    assert rows[["Store", "Brand", "INCOME"]].equals(
        frame.sort_values(["Store", "Brand", "INCOME"]).reset_index(drop=True)
    )
