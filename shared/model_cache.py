"""Models on local disk for entry scripts: downloaded once per version, verified against the registered sha256.

`Model.get_model_path` lands here. The cache folder for `name:version` appears only complete and verified: files are
downloaded into a temporary sibling, each checked against the sha256 in the registry record, and the folder is
renamed into place. A blob changed after registration fails the check, and the model is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shared import layout
from shared.errors import IntegrityError
from shared.hashing import sha256_chunks
from shared.models import content_blob
from shared.settings import MODEL_CACHE_DIR, get_setting
from shared.storage import Storage, storage_errors

VERIFIED_MARKER = ".fninfer-verified"


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


def cached_model_path(storage: Storage, record: dict[str, Any], root: Path | None = None) -> Path:
    """The verified local path of a model version, downloading it on first use."""
    folder = (root or cache_root()) / record["name"] / str(record["version"])
    marker = folder / VERIFIED_MARKER
    if marker.is_file() and marker.read_text() == record["sha256"]:
        return model_path(record, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{record['version']}-", dir=folder.parent))
    try:
        download_verified(storage, record, staging)
        (staging / VERIFIED_MARKER).write_text(record["sha256"])
        if folder.exists():  # an older or partial copy (another process may have just finished: same content)
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(staging, folder)
        except OSError:
            if not (marker.is_file() and marker.read_text() == record["sha256"]):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_path(record, folder)
