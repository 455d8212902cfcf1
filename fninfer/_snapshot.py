"""Snapshots of a service's or a pipeline step's code, uploaded content-addressed.

What goes in follows Azure ML: with a `source_directory`, the folder minus what its `.amlignore` (or, when there is
none, its `.gitignore`) excludes; without one, the entry script alone. Whatever the ignore files say, a snapshot
never carries fninfer's own state (`.fninfer/`: the admin key, the storage connection string, Azurite's data),
version control, virtualenvs, `node_modules`, bytecode or `local.settings.json`: a snapshot is readable by every
service and step, so secrets in the working folder must never reach it. Like Azure ML, a snapshot over 300 MB or
2,000 files is refused, naming the biggest files.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from fninfer._workspace import Workspace
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.core.hashing import combined_sha256, sha256_file

#: Folder names never snapshotted, at any depth (shell patterns).
EXCLUDED_FOLDERS = (".fninfer", ".git", ".venv*", "node_modules", "__pycache__")
#: File names never snapshotted, at any depth.
EXCLUDED_FILES = ("local.settings.json",)
#: Azure ML's limits (azureml._restclient.constants: SNAPSHOT_MAX_SIZE_BYTES, SNAPSHOT_MAX_FILES).
MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
MAX_SNAPSHOT_FILES = 2000


@dataclass(frozen=True)
class CodeSnapshot:
    """An uploaded snapshot: its manifest (what the app records) and the entry script's path inside it."""

    manifest: dict[str, Any]
    entry_script: str


def _ignore_spec(root: Path) -> pathspec.PathSpec | None:
    """The folder's `.amlignore`, else its `.gitignore` (Azure ML reads one of them, at the folder's root)."""
    for name in (".amlignore", ".gitignore"):
        path = root / name
        if path.is_file():
            return pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8").splitlines())
    return None


def _excluded_folder(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in EXCLUDED_FOLDERS)


def folder_files(root: Path) -> list[tuple[str, Path]]:
    """(relative path, local path) of every file a snapshot of `root` takes, sorted by relative path."""
    ignore = _ignore_spec(root)
    found: list[tuple[str, Path]] = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        relative_folder = here.relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else f"{relative_folder}/"
        # Pruned in place, so os.walk never descends into a virtualenv or node_modules.
        subfolders[:] = [
            name
            for name in subfolders
            if not _excluded_folder(name) and not (ignore and ignore.match_file(f"{prefix}{name}/"))
        ]
        for name in files:
            relative = f"{prefix}{name}"
            if name in EXCLUDED_FILES or (ignore and ignore.match_file(relative)):
                continue
            if (here / name).is_file():
                found.append((relative, here / name))
    return sorted(found)


def _check_limits(described: str, local_files: list[tuple[str, Path]]) -> None:
    """Refuse an oversized snapshot before hashing or uploading anything of it."""
    sizes = [(relative, local.stat().st_size) for relative, local in local_files]
    total = sum(size for _, size in sizes)
    if total <= MAX_SNAPSHOT_BYTES and len(sizes) <= MAX_SNAPSHOT_FILES:
        return
    biggest = sorted(sizes, key=lambda item: item[1], reverse=True)[:5]
    named = ", ".join(f"{relative} ({size / 1024 / 1024:.1f} MB)" for relative, size in biggest)
    raise InvalidInput(
        f"the snapshot of {described} has {len(sizes)} files and {total / 1024 / 1024:.1f} MB; the limits are "
        f"{MAX_SNAPSHOT_FILES} files and {MAX_SNAPSHOT_BYTES // 1024 // 1024} MB, as in Azure ML. Biggest files: "
        f"{named}. Leave data and models out with an .amlignore file (register models, upload data to a datastore)",
        field="source_directory",
    )


def snapshot(workspace: Workspace, source_directory: str | None, entry_script: str) -> CodeSnapshot:
    """Upload the code of a service or step (files already stored are skipped)."""
    if source_directory is None:
        script = Path(entry_script)
        if not script.is_file():
            raise InvalidInput(f"entry script {entry_script!r} does not exist", field="entry_script")
        local_files = [(script.name, script)]
        described, script_path = f"entry script {entry_script!r}", script.name
    else:
        root = Path(source_directory)
        local_files = folder_files(root)
        described, script_path = f"source_directory {source_directory!r}", Path(entry_script).as_posix()
        if script_path not in {relative for relative, _ in local_files}:
            raise InvalidInput(
                f"entry script {entry_script!r} is not in the snapshot of {source_directory!r} (missing, or "
                "excluded by its .amlignore/.gitignore)",
                field="entry_script",
            )
    _check_limits(described, local_files)
    files = []
    for relative, local in local_files:
        digest, size = sha256_file(local)
        files.append({"path": relative, "size": size, "sha256": digest, "local": local})
    snapshot_id = combined_sha256((f["path"], f["sha256"]) for f in files)
    container = workspace.storage.container(layout.SNAPSHOTS_CONTAINER)
    prefix = layout.snapshot_prefix(snapshot_id)
    present = set(workspace.storage.list_names(layout.SNAPSHOTS_CONTAINER, prefix))
    for item in files:
        if prefix + item["path"] not in present:
            with item["local"].open("rb") as handle:
                container.upload_blob(prefix + item["path"], handle, overwrite=True)
    manifest = {"id": snapshot_id, "files": [{k: v for k, v in f.items() if k != "local"} for f in files]}
    return CodeSnapshot(manifest, script_path)
