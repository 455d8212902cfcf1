"""`Datastore`: a blob container the SDK reads and writes directly (uploads never pass through the app)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError

from fninfer._progress import Progress
from shared import layout
from shared.errors import InvalidInput, NotFound
from shared.storage import storage_errors

if TYPE_CHECKING:
    from fninfer._workspace import Workspace


def _blob_path(target_path: str | None, relative: str) -> str:
    prefix = (target_path or "").strip("/")
    return f"{prefix}/{relative}" if prefix else relative


class Datastore:
    """Mirrors `azureml.core.Datastore`; `workspaceblobstore` is the workspace's default."""

    def __init__(
        self, workspace: Workspace, name: str = layout.DEFAULT_DATASTORE_NAME, container_name: str | None = None
    ) -> None:
        self.workspace = workspace
        self.name = name
        if container_name is None:
            if name != layout.DEFAULT_DATASTORE_NAME:
                known = workspace.datastores
                if name not in known:
                    raise NotFound(f"datastore {name!r} does not exist; datastores: {sorted(known)}", datastore=name)
                container_name = known[name].container_name
            else:
                container_name = layout.DEFAULT_DATASTORE_CONTAINER
        self.container_name = container_name

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, container_name={self.container_name!r})"

    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> list[str]:
        """Upload every file under `src_dir` to `target_path`; existing blobs are kept unless `overwrite`.
        Returns the blob paths written."""
        source = Path(src_dir)
        if not source.is_dir():
            raise InvalidInput(f"src_dir {str(source)!r} is not a folder", field="src_dir")
        files = sorted(p for p in source.rglob("*") if p.is_file())
        return self._upload(
            [(p.relative_to(source).as_posix(), p) for p in files], target_path, overwrite, show_progress
        )

    def upload_files(
        self,
        files: list[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> list[str]:
        """Upload the given files; paths below `relative_root` keep their folders, others keep only their names."""
        pairs = []
        for file in files:
            path = Path(file)
            if not path.is_file():
                raise InvalidInput(f"{str(path)!r} is not a file", field="files")
            if relative_root is not None:
                try:
                    pairs.append((path.resolve().relative_to(Path(relative_root).resolve()).as_posix(), path))
                    continue
                except ValueError as exc:
                    raise InvalidInput(f"{str(path)!r} is not under relative_root {str(relative_root)!r}") from exc
            pairs.append((path.name, path))
        return self._upload(pairs, target_path, overwrite, show_progress)

    def _upload(
        self, pairs: list[tuple[str, Path]], target_path: str | None, overwrite: bool, show_progress: bool
    ) -> list[str]:
        container = self.workspace.storage.container(self.container_name)
        progress = Progress(f"Uploading to {self.name}", sum(p.stat().st_size for _, p in pairs), show_progress)
        written, done = [], 0
        for relative, path in pairs:
            name = _blob_path(target_path, relative)
            size = path.stat().st_size
            with path.open("rb") as handle, storage_errors(f"{self.name}/{name}"):
                try:
                    container.upload_blob(name, handle, length=size, overwrite=overwrite, max_concurrency=4)
                    written.append(name)
                except ResourceExistsError:
                    pass  # as Azure ML: without overwrite, an existing file is skipped
            done += size
            progress.update(done)
        progress.update(done, force=True)
        return written

    def download(
        self,
        target_path: str | os.PathLike[str],
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> int:
        """Download the blobs under `prefix` into `target_path`, keeping their paths; returns how many."""
        container = self.workspace.storage.container(self.container_name)
        target = Path(target_path)
        with storage_errors(f"{self.name}/{prefix or ''}*"):
            blobs = list(container.list_blobs(name_starts_with=(prefix or "").lstrip("/") or None))
        progress = Progress(f"Downloading from {self.name}", sum(b.size for b in blobs), show_progress)
        count, done = 0, 0
        for blob in blobs:
            destination = target / layout.validate_relative_path(blob.name)
            if destination.exists() and not overwrite:
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with storage_errors(f"{self.name}/{blob.name}"), destination.open("wb") as handle:
                container.download_blob(blob.name).readinto(handle)
            count += 1
            done += blob.size
            progress.update(done)
        progress.update(done, force=True)
        return count
