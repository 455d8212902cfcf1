"""`Datastore`: a blob container the SDK reads and writes directly (uploads never pass through the app), and
`DataPath`, a path on one (`datastore.path('folder')`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContainerClient

from fninfer._progress import Progress
from shared import datastores, layout
from shared.errors import InvalidInput
from shared.storage import storage_errors

if TYPE_CHECKING:
    from fninfer._workspace import Workspace


def _blob_path(target_path: str | None, relative: str) -> str:
    prefix = layout.validate_datastore_path(target_path or "", "target_path", allow_empty=True)
    return f"{prefix}/{relative}" if prefix else relative


class DataPath:
    """Mirrors `azureml.data.datapath.DataPath`: a path on a datastore, as `datastore.path('mnist')` gives it."""

    def __init__(self, datastore: Datastore, path_on_datastore: str | None = None, name: str | None = None) -> None:
        self.datastore = datastore
        self.path_on_datastore = layout.validate_datastore_path(path_on_datastore or "", allow_empty=True)
        self.name = name

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore.name!r}, path_on_datastore={self.path_on_datastore!r})"


class Datastore:
    """Mirrors `azureml.core.Datastore`: `Datastore(ws, name)` or `Datastore.get(ws, name)` for a registered one,
    `Datastore.get_default(ws)` for the workspace's default."""

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        container_name: str | None = None,
        _record: dict[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        if _record is None and container_name is not None:  # a known container (a step's output)
            _record = {**datastores.default_datastore(), "name": name, "container_name": container_name}
        if _record is None and name is None:
            _record = workspace.client.request("GET", "workspace/defaultdatastore")
        if _record is None:
            layout.validate_name("datastore", name)  # a URL segment
            _record = workspace.client.request("GET", f"datastores/{name}")
        self._record = _record
        self.name: str = _record["name"]
        self.container_name: str = _record["container_name"]
        self.account_name: str | None = _record.get("account_name")
        self.datastore_type = "AzureBlob"

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        return workspace.get_default_datastore()

    @staticmethod
    def register_azure_blob_container(
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str | None = None,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
        blob_cache_timeout: int | None = None,
        grant_workspace_access: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
    ) -> Datastore:
        """Register a blob container as a datastore. A container of the app's own storage account is read with the
        app's identity. For another account the key or SAS token never goes into the registry: the app reads it
        from its app setting `FNINFER_DATASTORE_<NAME>`, which must be set first (the error says so)."""
        layout.validate_name("datastore", datastore_name)  # a URL segment
        own = account_name in (None, workspace.storage.blobs.account_name)
        body = {
            "container_name": container_name,
            "account_name": None if own else account_name,
            "has_credential": bool(sas_token or account_key),
            "overwrite": overwrite,
            "create_if_not_exists": create_if_not_exists,
        }
        record = workspace.client.request("POST", f"datastores/{datastore_name}", json=body)
        if record.get("account_name") and (sas_token or account_key):
            datastores.provide_credential(record, str(sas_token or account_key))  # this process reads with it
        return Datastore(workspace, _record=record)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataPath:
        """A path on this datastore, for `Dataset.File.from_files(path=...)` and friends."""
        return DataPath(self, path, data_reference_name)

    def _container(self) -> ContainerClient:
        if not self.account_name:
            return self.workspace.storage.container(self.container_name)
        return datastores.container_client(self.workspace.storage, self._record)

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
        # every name is checked before anything is written
        names = [(layout.validate_datastore_path(_blob_path(target_path, r), "file name"), p) for r, p in pairs]
        container = self._container()
        progress = Progress(f"Uploading to {self.name}", sum(p.stat().st_size for _, p in pairs), show_progress)
        written, done = [], 0
        for name, path in names:
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
        container = self._container()
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
