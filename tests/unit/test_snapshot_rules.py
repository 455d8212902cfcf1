"""What a code snapshot takes from a folder: Azure ML's ignore files, and never fninfer's state or secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fninfer._snapshot import MAX_SNAPSHOT_BYTES, folder_files, snapshot
from shared.core.errors import InvalidInput


def make(root: Path, *paths: str) -> None:
    for relative in paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)


def taken(root: Path) -> list[str]:
    return [relative for relative, _ in folder_files(root)]


class NoStorage:
    """A workspace whose storage must not be touched: a refused snapshot writes nothing."""

    @property
    def storage(self) -> object:
        raise AssertionError("the snapshot reached storage")


def test_fninfer_state_vcs_virtualenvs_and_local_settings_never_go_in(tmp_path: Path) -> None:
    make(
        tmp_path,
        "score.py",
        "lib/helper.py",
        ".fninfer/config.json",
        ".fninfer/azurite/__blobstorage__/x",
        ".git/config",
        ".venv/lib/site.py",
        ".venv-3.11/bin/python",
        "node_modules/azurite/index.js",
        "lib/__pycache__/helper.cpython-311.pyc",
        "local.settings.json",
        "lib/local.settings.json",
        ".venvironment-notes.txt",
    )
    assert taken(tmp_path) == [".venvironment-notes.txt", "lib/helper.py", "score.py"]


def test_amlignore_wins_over_gitignore(tmp_path: Path) -> None:
    make(tmp_path, "score.py", "data/big.csv", "notes.md", "keep/data/x.txt")
    (tmp_path / ".gitignore").write_text("*.md\n")
    (tmp_path / ".amlignore").write_text("/data/\n")
    assert taken(tmp_path) == [".amlignore", ".gitignore", "keep/data/x.txt", "notes.md", "score.py"]


def test_gitignore_applies_without_an_amlignore_with_negations(tmp_path: Path) -> None:
    make(tmp_path, "score.py", "outputs/a.txt", "secrets.env", "model.pkl", "small.pkl")
    (tmp_path / ".gitignore").write_text("outputs/\n*.env\n*.pkl\n!small.pkl\n")
    assert taken(tmp_path) == [".gitignore", "score.py", "small.pkl"]


def test_an_entry_script_the_ignore_file_excludes_is_named(tmp_path: Path) -> None:
    make(tmp_path, "score.py")
    (tmp_path / ".amlignore").write_text("score.py\n")
    with pytest.raises(InvalidInput, match=r"'score.py' is not in the snapshot .*amlignore"):
        snapshot(NoStorage(), str(tmp_path), "score.py")  # type: ignore[arg-type]


def test_an_oversized_snapshot_is_refused_naming_its_biggest_files_before_any_upload(tmp_path: Path) -> None:
    make(tmp_path, "score.py", "small.txt")
    with (tmp_path / "weights.bin").open("wb") as handle:  # sparse: no real disk use
        handle.truncate(MAX_SNAPSHOT_BYTES + 1)
    with pytest.raises(InvalidInput, match=r"300 MB, as in Azure ML\. Biggest files: weights\.bin \(300\.0 MB\)"):
        snapshot(NoStorage(), str(tmp_path), "score.py")  # type: ignore[arg-type]


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    make(tmp_path, "score.py", *(f"many/{i}.txt" for i in range(2000)))
    with pytest.raises(InvalidInput, match=r"has 2001 files"):
        snapshot(NoStorage(), str(tmp_path), "score.py")  # type: ignore[arg-type]


def test_without_a_source_directory_a_missing_entry_script_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput, match=r"entry script 'score\.py' does not exist"):
        snapshot(NoStorage(), None, "score.py")  # type: ignore[arg-type]
    assert not os.listdir(tmp_path)
