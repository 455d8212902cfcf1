"""The package's zip writer: fixed metadata, and nothing left behind when a build fails midway."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from fninfer_cli.packaging.archive import FIXED_TIME, write_zip


def test_entries_are_sorted_with_fixed_times_and_modes(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.sh").write_text("#!/bin/sh\n")
    (tmp_path / "a.sh").chmod(0o700)
    write_zip([("z/b.txt", tmp_path / "b.txt"), ("a.sh", tmp_path / "a.sh")], tmp_path / "out.zip")
    infos = zipfile.ZipFile(tmp_path / "out.zip").infolist()
    assert [i.filename for i in infos] == ["a.sh", "z/b.txt"]
    assert {i.date_time for i in infos} == {FIXED_TIME}
    assert [(i.external_attr >> 16) & 0o777 for i in infos] == [0o755, 0o644]


def test_a_failed_build_leaves_no_file(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("ok")
    entries = [("ok.txt", tmp_path / "ok.txt"), ("zz.txt", tmp_path / "vanished.txt")]
    with pytest.raises(FileNotFoundError):
        write_zip(entries, tmp_path / "out.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.txt"]
