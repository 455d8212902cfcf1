"""Tabular parsing without storage: slices at row boundaries, headers, types, parse errors, partition formats."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from shared.core.errors import InvalidInput
from shared.pipelines.engine.definition import mini_batch_size
from shared.registry import tabular, tabular_files

SPEC = tabular.parse_spec({"format": "delimited"})


def reader(data: bytes) -> tabular.ReadRange:
    return lambda offset, length: data[offset : None if length is None else offset + length]


def test_slices_cover_every_row_once_wherever_the_cuts_fall() -> None:
    rows = [f"{i},{'x' * random.Random(i).randrange(0, 40)}" for i in range(300)]
    data = ("\n".join(rows) + "\n").encode()
    generator = random.Random(7)
    for _ in range(50):
        cuts = sorted({0, len(data), *(generator.randrange(len(data)) for _ in range(generator.randrange(1, 30)))})
        seen: list[str] = []
        for start, end in itertools.pairwise(cuts):
            _, part = tabular.slice_bytes(reader(data), len(data), start, end)
            seen.extend(part.decode().splitlines())
        assert seen == rows


def test_a_file_without_a_final_line_break_keeps_its_last_row() -> None:
    data = b"a,b\n1,2\n3,4"
    assert tabular.slice_bytes(reader(data), len(data), 5, len(data))[1] == b"3,4"
    assert tabular.slice_bytes(reader(data), len(data), 0, 5) == (0, b"a,b\n1,2\n")


def test_headers_types_and_empty_fields() -> None:
    columns = tabular.header_columns(SPEC, b"id,name,score,ok,day\n", "file x")
    frame = tabular.parse_delimited(
        SPEC, b"id,name,score,ok,day\n1,a,1.5,true,2024-01-02\n2,,2,False,\n", columns, "f", True
    )
    types = tabular.infer_types(frame)
    assert [types[c]["type"] for c in columns] == ["int", "string", "float", "bool", "datetime"]
    typed = tabular.convert(frame, types, "f")
    assert typed["id"].tolist() == [1, 2] and typed["id"].dtype == "int64"
    assert typed["name"].isna().tolist() == [False, True]  # empty is null unless empty_as_string
    assert typed["score"].tolist() == [1.5, 2.0] and typed["ok"].tolist() == [True, False]
    assert typed["day"].iloc[0] == pd.Timestamp("2024-01-02") and pd.isna(typed["day"].iloc[1])
    no_header = tabular.parse_spec({"format": "delimited", "header": False})
    assert tabular.header_columns(no_header, b"1,2,3\n", "f") == ["Column1", "Column2", "Column3"]
    kept = tabular.parse_spec({"format": "delimited", "empty_as_string": True})
    assert tabular.parse_delimited(kept, b"a,b\n1,\n", ["a", "b"], "f", True)["b"].tolist() == [""]


def test_a_value_of_the_wrong_type_is_null_or_named() -> None:
    frame = pd.DataFrame({"n": ["1", "two", "3"]})
    assert tabular.convert(frame.copy(), {"n": {"type": "int", "formats": []}}, "f")["n"].isna().tolist() == [
        False,
        True,
        False,
    ]
    with pytest.raises(tabular.ParseError, match=r"f: row 2 of column 'n' does not convert to int: 'two'"):
        tabular.convert(frame.copy(), {"n": {"type": "int", "formats": []}}, "f", on_error="fail")


def test_a_row_that_does_not_parse_names_the_file_and_the_line() -> None:
    data = b"a,b\n1,2\n3,4\n5,6,7\n"
    with pytest.raises(
        tabular.ParseError, match=r"file data\.csv, line 4 does not parse: expected 2 fields, saw 3: '5,6,7'"
    ):
        tabular.parse_delimited(SPEC, data, ["a", "b"], "file data.csv", True)
    lines = tabular.parse_spec({"format": "json_lines"})
    with pytest.raises(tabular.ParseError, match=r"file j\.jsonl, line 2 does not parse"):
        tabular.parse_json_lines(lines, b'{"a": 1}\n{"a": \n', "file j.jsonl")
    dropping = tabular.parse_spec({"format": "json_lines", "invalid_lines": "drop"})
    assert tabular.parse_json_lines(dropping, b'{"a": 1}\n{"a": \n{"a": 3}\n', "f")["a"].tolist() == [1, 3]


def test_definitions_are_checked() -> None:
    for bad in ({"format": "xlsx"}, {"format": "delimited", "separator": ",,"}, {"format": "delimited", "header": 7}):
        with pytest.raises(InvalidInput):
            tabular.parse_spec(bad)
    with pytest.raises(InvalidInput, match="encoding"):
        tabular.parse_spec({"format": "delimited", "encoding": "no-such-codec"})


def test_filter_expressions_and_transformations_in_order() -> None:
    frame = pd.DataFrame({"n": [1, 2, 3, 4], "s": ["ab", "b", None, "ac"]})
    both = {"op": "and", "args": [
        {"op": "gt", "args": [{"column": "n"}, {"value": 1}]},
        {"op": "starts_with", "args": [{"column": "s"}, {"value": "a"}]},
    ]}  # fmt: skip
    spec = tabular.parse_spec({"format": "delimited", "transforms": [{"op": "filter", "expression": both}]})
    assert tabular.transform(frame, spec)["n"].tolist() == [4]
    missing = {"op": "is_null", "args": [{"column": "s"}]}
    assert tabular.transform_frame(frame, {"op": "filter", "expression": missing})["n"].tolist() == [3]
    at_least_2 = {"op": "ge", "args": [{"column": "n"}, {"value": 2}]}
    ordered = [{"op": "take", "count": 2}, {"op": "filter", "expression": at_least_2}]  # take first, then filter
    spec = tabular.parse_spec({"format": "delimited", "transforms": ordered})
    assert tabular.transform(frame, spec)["n"].tolist() == [2]
    unknown = [{"op": "filter", "expression": {"op": "xor", "args": []}}]
    with pytest.raises(InvalidInput, match="unknown filter operation"):
        tabular.parse_spec({"format": "delimited", "transforms": unknown})


def test_one_value_per_line() -> None:
    spec = tabular.parse_spec({"format": "delimited", "separator": "\n", "header": "NO_HEADERS"})
    data = b'{"data": [[1, 2]]}\n{"a": "x,y"}\r\n\n'
    assert tabular.header_columns(spec, data.split(b"\n")[0], "f") == ["Column1"]
    assert tabular.parse_delimited(spec, data, ["Column1"], "f", False)["Column1"].tolist() == [
        '{"data": [[1, 2]]}',
        '{"a": "x,y"}',
    ]


def test_partition_formats() -> None:
    fmt = "dataset_partition_test/{user}/{season}/{genres}.wav"
    assert tabular.partition_values(fmt, "dataset_partition_test/user1/fall/piano.wav") == {
        "user": "user1",
        "season": "fall",
        "genres": "piano",
    }
    assert tabular.partition_values("/{Store}/{Brand}/*.parquet", "x/base/1000/tropicana/part-0.parquet") == {
        "Store": "1000",
        "Brand": "tropicana",
    }
    dated = tabular.partition_values("/{Department}/{Day:yyyy/MM/dd}/data.csv", "root/Accounts/2019/01/02/data.csv")
    assert dated == {"Department": "Accounts", "Day": pd.Timestamp("2019-01-02")}
    assert tabular.partition_values("/{a}/x.csv", "nothing/here.txt") is None
    for bad in ("no/keys/*.csv", "/{}/x", "/{a:yyyy}/{b:MM}"):
        with pytest.raises(InvalidInput, match="partition_format"):
            tabular.partition_pattern(bad)


def test_pieces_split_large_files_and_group_small_ones() -> None:
    files = [
        {"datastore": "d", "container": "c", "path": "big.csv", "size": 2500},
        {"datastore": "d", "container": "c", "path": "s1.csv", "size": 300},
        {"datastore": "d", "container": "c", "path": "s2.csv", "size": 300},
    ]
    batches = tabular_files.pieces(SPEC, files, 1000)
    assert [[(p["path"], p["start"], p["end"]) for p in batch] for batch in batches] == [
        [("big.csv", 0, 1000)],
        [("big.csv", 1000, 2000)],
        [("big.csv", 2000, 2500), ("s1.csv", 0, 300), ("s2.csv", 0, 200)],
        [("s2.csv", 200, 300)],
    ]
    whole = tabular.parse_spec({"format": "delimited", "support_multi_line": True})
    assert [len(b) for b in tabular_files.pieces(whole, files, 1000)] == [1, 2]  # files are never split


def test_mini_batch_sizes_as_azure_ml_reads_them() -> None:
    assert [mini_batch_size(v) for v in ("5", 5, "1KB", "1kb", "10MB", "1GB")] == [5, 5, 1024, 1024, 10 << 20, 1 << 30]
    for bad in ("1TB", "", "0", True, 1.5, None):
        with pytest.raises(InvalidInput, match="mini_batch_size"):
            mini_batch_size(bad)
