"""The SDK's upload/download progress bar."""

from __future__ import annotations

import pytest

from fninfer._progress import Progress


def test_the_full_bar_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress("Downloading", 2_000_000)
    progress.update(1_000_000, force=True)
    progress.update(2_000_000)
    progress.update(2_000_000, force=True)  # what a download does after its last file
    err = capsys.readouterr().err
    assert err.count("2.0/2.0 MB") == 1 and err.count("\n") == 1
    assert "1.0/2.0 MB" in err


def test_disabled_or_empty_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    Progress("Uploading", 10, enabled=False).update(10, force=True)
    Progress("Uploading", 0).update(0, force=True)
    assert capsys.readouterr().err == ""
