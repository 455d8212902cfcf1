"""Models on local disk for entry scripts: downloaded once per version, verified against the registered sha256.

`Model.get_model_path` lands here. The cache folder for `name:version` appears only complete and verified: files are
downloaded into a temporary sibling, each checked against the sha256 in the registry record, and the folder is
renamed into place. A blob changed after registration fails the check, and the model is refused.

A cached version is `<root>/<name>/<version>/` holding the model's files and `.fninfer-model.json` (its registry
record, written last, so its presence means "complete and verified"). A packaged app can carry such a root beside
its code and point `AZUREML_MODEL_DIR` at it (Azure ML's variable for where deployed models are); `get_model_path`
then uses it without reaching storage. Building that root is `cached_model_path(storage, record, root)`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from shared import layout
from shared.errors import FninferError, IntegrityError, InvalidInput
from shared.hashing import sha256_chunks
from shared.models import content_blob
from shared.settings import MODEL_CACHE_DIR, MODEL_DIR_SETTING, get_setting
from shared.storage import Storage, storage_errors

#: The registry record of a complete, verified cached version (see the module docstring).
RECORD_FILE = ".fninfer-model.json"


def cache_root() -> Path:
    configured = get_setting(MODEL_CACHE_DIR)
    return Path(configured) if configured else Path.home() / ".cache" / "fninfer" / "models"


def model_path(record: dict[str, Any], folder: Path) -> Path:
    """What an entry script gets for a cached model folder: the file itself for a one-file model."""
    if record.get("single_file"):
        return folder / record["files"][0]["path"]
    return folder


def download_verified(storage: Storage, record: dict[str, Any], target: Path) -> None:
    """Download every file of `record` into `target` (which must not exist), verifying each sha256."""
    container = storage.container(layout.MODELS_CONTAINER)
    for item in record["files"]:
        destination = target / item["path"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        with storage_errors(f"model {record['name']}:{record['version']} file {item['path']!r}"):
            stream = container.download_blob(content_blob(record, item["path"]))
            with destination.open("wb") as handle:

                def write(chunks: Any, out: Any = handle) -> Any:
                    for chunk in chunks:
                        out.write(chunk)
                        yield chunk

                digest, _ = sha256_chunks(write(stream.chunks()))
        if digest != item["sha256"]:
            raise IntegrityError(
                f"model {record['name']}:{record['version']} file {item['path']!r} does not match the sha256 "
                f"recorded at registration (expected {item['sha256']}, got {digest}): "
                "its blob was changed after registration, so the model is refused",
                model=record["name"],
                version=record["version"],
                file=item["path"],
            )


def _verified_record(folder: Path) -> dict[str, Any] | None:
    """The record a cached version was verified against, or None when the folder is absent or incomplete."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "sha256" in record else None


def cached_model_path(storage: Storage, record: dict[str, Any], root: Path | None = None) -> Path:
    """The verified local path of a model version, downloading it on first use."""
    folder = (root or cache_root()) / record["name"] / str(record["version"])
    cached = _verified_record(folder)
    if cached is not None and cached["sha256"] == record["sha256"]:
        return model_path(record, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{record['version']}-", dir=folder.parent))
    try:
        download_verified(storage, record, staging)
        (staging / RECORD_FILE).write_text(json.dumps(record))
        _move_into_place(staging, folder, record["sha256"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_path(record, folder)


def _move_into_place(staging: Path, folder: Path, sha256: str) -> None:
    """Rename a verified download to `folder`. A copy another caller finished first is kept (it may be in use);
    a stale one (a deleted and re-registered version, or a crash's leftovers) is renamed aside before it is removed,
    so no reader ever sees a folder half deleted."""
    for _ in range(3):
        try:
            os.replace(staging, folder)  # atomic; fails when `folder` exists and is not empty
            return
        except OSError:
            finished = _verified_record(folder)
            if finished is not None and finished["sha256"] == sha256:
                return
            stale = folder.with_name(f".{folder.name}-stale-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.replace(folder, stale)
            except FileNotFoundError:
                continue  # another caller moved it aside first
            shutil.rmtree(stale, ignore_errors=True)
    raise FninferError(f"could not place the cached model at {folder}: other processes keep replacing it")


def preplaced_model_path(name: str, version: int | None = None) -> Path | None:
    """The path of `name` (at `version`, else its highest) under AZUREML_MODEL_DIR, or None when it is not there."""
    configured = get_setting(MODEL_DIR_SETTING)
    if not configured:
        return None
    layout.validate_name("model", name)
    model_folder = Path(configured) / name
    versions = sorted(int(p.name) for p in model_folder.glob("*") if p.name.isdigit()) if model_folder.is_dir() else []
    wanted = version if version is not None else (versions[-1] if versions else None)
    if wanted is None or wanted not in versions:
        return None
    record = _verified_record(model_folder / str(wanted))
    if record is None:
        raise InvalidInput(f"{model_folder / str(wanted)} under {MODEL_DIR_SETTING} has no {RECORD_FILE}")
    return model_path(record, model_folder / str(wanted))
