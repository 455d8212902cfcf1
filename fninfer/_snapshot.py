"""Snapshots of a local `source_directory`, uploaded content-addressed for services and pipeline steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fninfer._workspace import Workspace
from shared import layout
from shared.errors import InvalidInput
from shared.hashing import combined_sha256, sha256_file


def snapshot(workspace: Workspace, source_directory: str) -> dict[str, Any]:
    """Upload `source_directory` content-addressed (files already stored are skipped); returns its manifest."""
    root = Path(source_directory)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest, size = sha256_file(path)
        files.append({"path": path.relative_to(root).as_posix(), "size": size, "sha256": digest, "local": path})
    if not files:
        raise InvalidInput(f"source_directory {source_directory!r} has no files", field="source_directory")
    snapshot_id = combined_sha256((f["path"], f["sha256"]) for f in files)
    container = workspace.storage.container(layout.SNAPSHOTS_CONTAINER)
    prefix = layout.snapshot_prefix(snapshot_id)
    present = set(workspace.storage.list_names(layout.SNAPSHOTS_CONTAINER, prefix))
    for item in files:
        if prefix + item["path"] not in present:
            with item["local"].open("rb") as handle:
                container.upload_blob(prefix + item["path"], handle, overwrite=True)
    return {"id": snapshot_id, "files": [{k: v for k, v in f.items() if k != "local"} for f in files]}
