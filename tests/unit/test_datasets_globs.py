"""File dataset patterns: Azure ML's globs over blob paths, and the definitions the registry accepts."""

from __future__ import annotations

import pytest

from shared.core.errors import InvalidInput
from shared.registry.datasets import glob_to_regex, literal_prefix, parse_paths

NAMES = ["data/1.csv", "data/2.csv", "data/10.csv", "data/a.txt", "data/sub/3.csv", "data/sub/deep/4.csv", "other.csv"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("data/*.csv", ["data/1.csv", "data/2.csv", "data/10.csv"]),
        ("data/?.csv", ["data/1.csv", "data/2.csv"]),
        ("data/**/*.csv", ["data/1.csv", "data/2.csv", "data/10.csv", "data/sub/3.csv", "data/sub/deep/4.csv"]),
        ("data/**", NAMES[:-1]),
        ("data/*/*.csv", ["data/sub/3.csv"]),
        ("*.csv", ["other.csv"]),
        ("data/1.csv", ["data/1.csv"]),
        ("data/(1).csv", []),  # regex characters are literal
    ],
)
def test_globs_match_as_azure_ml_does(pattern: str, expected: list[str]) -> None:
    matcher = glob_to_regex(pattern)
    assert [name for name in NAMES if matcher.fullmatch(name)] == expected


def test_the_listing_prefix_stops_at_the_first_wildcard() -> None:
    assert literal_prefix("data/sub/*.csv") == "data/sub/"
    assert literal_prefix("data/file?.csv") == "data/file"
    assert literal_prefix("data/1.csv") == "data/1.csv"


def test_definitions_are_normalised_and_checked() -> None:
    assert parse_paths([{"datastore": "workspaceblobstore", "path": "/data/*.csv/"}]) == [
        {"datastore": "workspaceblobstore", "path": "data/*.csv"}
    ]
    for bad in ([], "data/*.csv", [{"datastore": "ws"}], [{"datastore": "ws", "path": "/"}], ["x"]):
        with pytest.raises(InvalidInput, match="path"):
            parse_paths(bad)
    for hostile in ("data/../secrets/*", "a\x00b/*.csv", "a\\..\\..\\b", "line\nbreak.csv", "tab\t.csv", "del\x7f"):
        with pytest.raises(InvalidInput, match="not a valid datastore path") as caught:
            parse_paths([{"datastore": "ws", "path": hostile}])
        assert repr(hostile) in caught.value.message  # the 400 names the path
    with pytest.raises(InvalidInput, match="not valid"):
        parse_paths([{"datastore": "../ws", "path": "data/*"}])
