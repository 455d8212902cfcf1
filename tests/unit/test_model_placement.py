"""Models placed beside the code (AZUREML_MODEL_DIR, or baked in by `fninfer package`) are used only when their
files hash to what their record says, and only from inside their own folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.core.hashing import combined_sha256, sha256_file
from shared.registry.model_cache import RECORD_FILE, preplaced_model_path


def place(root: Path, name: str, files: dict[str, Path]) -> Path:
    folder = root / name / "1"
    folder.mkdir(parents=True)
    items = [
        {"path": path, "size": source.stat().st_size, "sha256": sha256_file(source)[0]}
        for path, source in files.items()
    ]
    record = {
        "name": name,
        "version": 1,
        "files": items,
        "sha256": combined_sha256((i["path"], i["sha256"]) for i in items),
        "single_file": len(items) == 1,
    }
    (folder / RECORD_FILE).write_text(json.dumps(record))
    return folder


def test_a_matching_copy_is_used_and_a_changed_one_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "models"))
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    folder = place(tmp_path / "models", "good", {"model.bin": source})
    (folder / "model.bin").write_bytes(b"weights")
    assert preplaced_model_path("good", 1) == folder / "model.bin"
    folder = place(tmp_path / "models", "changed", {"model.bin": source})
    (folder / "model.bin").write_bytes(b"tampered")
    assert preplaced_model_path("changed", 1) is None


def test_a_record_cannot_point_outside_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "models"))
    outside = tmp_path / "models" / "escape" / "secret.txt"
    outside.parent.mkdir(parents=True)
    outside.write_text("not a model")
    place(tmp_path / "models", "escape", {"../secret.txt": outside})
    assert preplaced_model_path("escape", 1) is None
