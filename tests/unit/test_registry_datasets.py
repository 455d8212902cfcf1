"""Where a file dataset's files sit relative to its root: what `to_path()` lists and `download()` recreates."""

from __future__ import annotations

import pytest

from shared.registry.datasets import relative_paths


def files(*names: str) -> list[dict[str, str]]:
    return [{"datastore": "workspaceblobstore", "container": "c", "path": name} for name in names]


def patterns(*paths: str) -> list[dict[str, str]]:
    return [{"datastore": "workspaceblobstore", "path": path} for path in paths]


@pytest.mark.parametrize(
    ("paths", "found", "expected"),
    [
        (patterns("data/*.csv"), files("data/1.csv"), ["/1.csv"]),
        (patterns("data/**/*.csv"), files("data/1.csv", "data/sub/2.csv"), ["/1.csv", "/sub/2.csv"]),
        (patterns("data/file?.csv"), files("data/file1.csv"), ["/file1.csv"]),  # the wildcard is mid-name
        (patterns("data/one.csv"), files("data/one.csv"), ["/one.csv"]),  # a single file
        (patterns("data"), files("data/1.csv", "data/sub/2.csv"), ["/1.csv", "/sub/2.csv"]),  # a folder
        (patterns("*.csv"), files("top.csv"), ["/top.csv"]),
        (patterns("a/x/*.csv", "a/y/z.csv"), files("a/x/1.csv", "a/y/z.csv"), ["/x/1.csv", "/y/z.csv"]),
    ],
)
def test_paths_are_relative_to_the_common_folder_of_the_patterns(
    paths: list[dict[str, str]], found: list[dict[str, str]], expected: list[str]
) -> None:
    assert relative_paths(paths, found) == expected
