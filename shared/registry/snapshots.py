"""Source-directory snapshots: uploaded once by the SDK, content-addressed, materialized locally per instance.

A snapshot id is the combined sha256 of its files, so the same folder is stored once and a reload with edited files
gets a new id. Instances copy a snapshot to local disk (verified file by file) before importing its entry script.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TypedDict

from shared.core import layout, validators
from shared.core.errors import IntegrityError, InvalidInput
from shared.core.hashing import combined_sha256, folder_matches, is_sha256, sha256_chunks
from shared.core.settings import SNAPSHOT_CACHE_DIR, get_setting
from shared.core.storage import Storage, storage_errors

#: Written last into a materialized snapshot folder: its presence means every file is there.
COMPLETE = ".complete"


class SnapshotFile(TypedDict):
    path: str  # relative to the source directory
    size: int
    sha256: str


class Snapshot(TypedDict):
    """A source directory's manifest, as service records and step definitions hold it; its files are at
    `layout.snapshot_prefix(id)` in the snapshots container."""

    id: str  # combined_sha256 of the files' (path, sha256)
    files: list[SnapshotFile]


def validate_manifest(snapshot: object) -> Snapshot:
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("files"), list) or not snapshot["files"]:
        raise InvalidInput("'snapshot' must be {id, files: [{path, size, sha256}]}", field="snapshot")
    files: list[SnapshotFile] = []
    for item in snapshot["files"]:
        if not isinstance(item, dict) or not is_sha256(item.get("sha256")) or not isinstance(item.get("size"), int):
            raise InvalidInput("each snapshot file needs a path, an integer size and a sha256", field="snapshot")
        files.append(
            SnapshotFile(
                path=validators.validate_relative_path(item.get("path")), size=item["size"], sha256=item["sha256"]
            )
        )
    snapshot_id = combined_sha256((f["path"], f["sha256"]) for f in files)
    if snapshot.get("id") != snapshot_id:
        raise InvalidInput("the snapshot id is not the combined sha256 of its files", field="snapshot")
    return Snapshot(id=snapshot_id, files=files)


def verify_uploaded(storage: Storage, snapshot: Snapshot) -> None:
    prefix = layout.snapshot_prefix(snapshot["id"])
    present = {name[len(prefix) :] for name in storage.list_names(layout.SNAPSHOTS_CONTAINER, prefix)}
    missing = sorted(f["path"] for f in snapshot["files"] if f["path"] not in present)
    if missing:
        raise InvalidInput(f"the snapshot upload is missing {missing}", field="snapshot")


def cache_root() -> Path:
    configured = get_setting(SNAPSHOT_CACHE_DIR)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "fninfer-snapshots"


def packaged_snapshot(snapshot: Snapshot) -> Path | None:
    """The snapshot as `fninfer package --include-service` baked it into the app, when every file is there with its
    sha256 (checked once per process); None otherwise."""
    folder = layout.app_root() / layout.PACKAGED_SNAPSHOTS_DIR / snapshot["id"]
    if not (folder / COMPLETE).is_file():
        return None
    if folder not in _packaged_ok:
        _packaged_ok[folder] = folder_matches(folder, snapshot["files"])
    return folder if _packaged_ok[folder] else None


_packaged_ok: dict[Path, bool] = {}


def materialize(storage: Storage, snapshot: Snapshot) -> Path:
    """The snapshot as a local folder: the copy baked into the app, else downloaded and verified once per
    instance."""
    return packaged_snapshot(snapshot) or download(storage, snapshot, cache_root())


def download(storage: Storage, snapshot: Snapshot, root: Path) -> Path:
    """The snapshot as `<root>/<id>/`, downloaded (unless already complete there) and verified file by file."""
    folder = root / snapshot["id"]
    if (folder / COMPLETE).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=folder.parent))
    try:
        container = storage.container(layout.SNAPSHOTS_CONTAINER)
        for item in snapshot["files"]:
            destination = staging / item["path"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            with storage_errors(f"snapshot file {item['path']!r}"):
                data = container.download_blob(layout.snapshot_prefix(snapshot["id"]) + item["path"]).readall()
            if sha256_chunks([data])[0] != item["sha256"]:
                raise IntegrityError(f"snapshot file {item['path']!r} does not match its sha256")
            destination.write_bytes(data)
        (staging / COMPLETE).write_text(snapshot["id"])
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / COMPLETE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
