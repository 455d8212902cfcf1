"""`Datastore`: a blob container the SDK reads and writes directly (uploads never pass through the app), and
`DataPath`, a path on one (`datastore.path('folder')`)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContainerClient

from fninfer._exceptions import UserErrorException
from fninfer._progress import Progress
from shared.core import validators
from shared.core.errors import InvalidInput
from shared.core.storage import storage_errors
from shared.registry import datastores

if TYPE_CHECKING:
    from fninfer._workspace import Workspace


def _blob_path(target_path: str | None, relative: str) -> str:
    prefix = validators.validate_datastore_path(target_path or "", "target_path", allow_empty=True)
    return f"{prefix}/{relative}" if prefix else relative


#: The modes a DataReference can have, as in Azure ML (`azureml.core.runconfig.SUPPORTED_DATAREF_MODES`).
DATA_REFERENCE_MODES = ("mount", "download", "upload")


def _is_root(path: str | None) -> bool:
    return path in (None, "", "/", ".", "./")


class DataReference:
    """Mirrors `azureml.data.data_reference.DataReference`: a path on a datastore (its root without one) and how a
    step uses it: "mount" (the default), "download" or "upload". What `datastore.upload(...)`,
    `datastore.upload_files(...)` and `datastore.path(...)` return, as in Azure ML; datasets take it as a `path`
    (`Dataset.File.from_files(path=...)`, `Dataset.Tabular.from_delimited_files(path=...)`), and a
    PythonScriptStep as an input or argument: its folder, downloaded before the script starts ("mount",
    "download"), and for "mount" and "upload" the files the script wrote there uploaded back to the path when it
    exits 0 (on Functions there is no FUSE mount; an Azure ML blob mount is writable the same way)."""

    def __init__(
        self,
        datastore: Datastore,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        self.datastore = datastore
        self.data_reference_name = data_reference_name
        self.path_on_datastore = path_on_datastore
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        if not self.data_reference_name:
            self.data_reference_name = datastore.name if _is_root(path_on_datastore) else uuid.uuid4().hex
        if mode not in DATA_REFERENCE_MODES:
            raise UserErrorException(f"Invalid mode {mode}. Only mount, download, upload are supported")
        if not _is_root(path_on_datastore):
            validators.validate_datastore_path(str(path_on_datastore).strip("/"), "path_on_datastore")

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A DataReference to `path` below this one."""
        if _is_root(path):
            return DataReference(self.datastore, data_reference_name) if data_reference_name else self
        if _is_root(self.path_on_datastore):
            return DataReference(self.datastore, data_reference_name, path)
        return DataReference(self.datastore, data_reference_name, f"{self.path_on_datastore}/{path}")

    def _clone(self, **changes: Any) -> DataReference:
        values = {
            "datastore": self.datastore,
            "data_reference_name": self.data_reference_name,
            "path_on_datastore": self.path_on_datastore,
            "mode": self.mode,
            "path_on_compute": self.path_on_compute,
            "overwrite": self.overwrite,
            **changes,
        }
        return DataReference(**values)

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._clone(mode="download", path_on_compute=path_on_compute)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._clone(mode="upload", path_on_compute=path_on_compute)

    def as_mount(self) -> DataReference:
        return self._clone(mode="mount")

    def to_config(self) -> dict[str, Any]:
        """Azure ML's DataReferenceConfiguration of this reference, as a dict of the same fields."""
        return {
            "datastore_name": self.datastore.name,
            "mode": self.mode,
            "path_on_datastore": None if _is_root(self.path_on_datastore) else self.path_on_datastore,
            "path_on_compute": None if _is_root(self.path_on_compute) else self.path_on_compute,
            "overwrite": self.overwrite,
        }

    @staticmethod
    def create(
        data_reference_name: str | None = None,
        datapath: DataPath | None = None,
        datapath_compute_binding: DataPathComputeBinding | None = None,
    ) -> DataReference:
        """A DataReference from a DataPath and a DataPathComputeBinding."""
        if datapath is None or datapath_compute_binding is None:
            raise ValueError("datapath and datapath_compute_binding are expected parameters")
        return DataReference(
            datapath.datastore,
            data_reference_name,
            datapath.path_on_datastore,
            datapath_compute_binding._mode,
            datapath_compute_binding._path_on_compute,
            datapath_compute_binding._overwrite,
        )

    def _pattern(self) -> str:
        """The dataset pattern for this path: the folder or file, or every file of the datastore for its root."""
        return "**" if _is_root(self.path_on_datastore) else str(self.path_on_datastore).strip("/")

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    __repr__ = __str__


class DataPath:
    """Mirrors `azureml.data.datapath.DataPath`: a path on a datastore (a folder or a file)."""

    def __init__(
        self, datastore: Datastore | None = None, path_on_datastore: str | None = None, name: str | None = None
    ):
        if datastore is None:
            raise ValueError("datastore parameter is required.")
        self._datastore = datastore
        self._path_on_datastore = validators.validate_datastore_path(path_on_datastore or "", allow_empty=True)
        self._name = name or f"{datastore.name}_{uuid.uuid4().hex[:8]}"

    @property
    def datastore(self) -> Datastore:
        return self._datastore

    @property
    def datastore_name(self) -> str:
        return self._datastore.name

    @property
    def path_on_datastore(self) -> str:
        return self._path_on_datastore

    @property
    def name(self) -> str:
        return self._name

    def create_data_reference(
        self, data_reference_name: str | None = None, datapath_compute_binding: DataPathComputeBinding | None = None
    ) -> DataReference:
        if not isinstance(datapath_compute_binding, DataPathComputeBinding):
            raise ValueError("datapath_compute_binding is a required parameter (a DataPathComputeBinding)")
        return DataReference.create(data_reference_name, self, datapath_compute_binding)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPath:
        if not isinstance(data_reference, DataReference):
            raise ValueError(f"Invalid type. Expected DataReference, but type is {type(data_reference).__name__}")
        return DataPath(data_reference.datastore, data_reference.path_on_datastore)

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore_name!r}, path_on_datastore={self.path_on_datastore!r})"


class DataPathComputeBinding:
    """Mirrors `azureml.data.datapath.DataPathComputeBinding`: how a DataPath is made available to a step."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False) -> None:
        self._mode = mode
        self._path_on_compute = path_on_compute
        self._overwrite = overwrite

    def create_data_reference(
        self, data_reference_name: str | None = None, datapath: DataPath | None = None
    ) -> DataReference:
        if not isinstance(datapath, DataPath):
            raise ValueError("datapath is a required parameter (a DataPath)")
        return DataReference.create(data_reference_name, datapath, self)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPathComputeBinding:
        return DataPathComputeBinding(data_reference.mode, data_reference.path_on_compute, data_reference.overwrite)


def _not_blob(method: str, what: str) -> UserErrorException:
    return UserErrorException(
        f"Datastore.{method} is not supported: fninfer's datastores are Azure Blob containers (and ADLS Gen2 "
        f"filesystems, which are blob containers), read by the Function App; {what} is not one. Copy the data to "
        "a blob container and register it with Datastore.register_azure_blob_container"
    )


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
            validators.validate_name("datastore", name)  # a URL segment
            _record = workspace.client.request("GET", f"datastores/{name}")
        self._record = _record
        self.name: str = _record["name"]
        self.container_name: str = _record["container_name"]
        self._other_account: str | None = _record.get("account_name")  # None: the app's own storage account
        self.datastore_type = "AzureBlob"
        # What an AzureBlobDatastore shows. A key or SAS token is never handed out: the app's own account is read
        # with its identity, another account's credential is an app setting (see register_azure_blob_container).
        self.account_key: str | None = None
        self.sas_token: str | None = None
        self.protocol = "https"
        self.endpoint = "core.windows.net"
        self.credential_type = "None"

    @property
    def account_name(self) -> str:
        """The storage account the container is in (the app's own for the built-in datastore)."""
        return self._other_account or self.workspace.storage.blobs.account_name

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
        validators.validate_name("datastore", datastore_name)  # a URL segment
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

    @staticmethod
    def register_azure_data_lake_gen2(
        workspace: Workspace,
        datastore_name: str,
        filesystem: str,
        account_name: str,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        resource_url: str | None = None,
        authority_url: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        grant_workspace_access: bool = False,
    ) -> Datastore:
        """An ADLS Gen2 filesystem is a blob container of its account (the Blob API reads it), so it is registered
        as one. A service principal is not kept: the app reads the container with its own identity (its account)
        or with the app setting FNINFER_DATASTORE_<NAME> (another account), as for any blob datastore."""
        return Datastore.register_azure_blob_container(
            workspace,
            datastore_name,
            filesystem,
            account_name,
            overwrite=overwrite,
            subscription_id=subscription_id,
            resource_group=resource_group,
        )

    @staticmethod
    def register_azure_data_lake(
        workspace: Workspace,
        datastore_name: str,
        store_name: str,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        resource_url: str | None = None,
        authority_url: str | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        overwrite: bool = False,
        grant_workspace_access: bool = False,
    ) -> Datastore:
        raise _not_blob("register_azure_data_lake", "Azure Data Lake Storage Gen1 (retired by Azure)")

    @staticmethod
    def register_azure_file_share(
        workspace: Workspace,
        datastore_name: str,
        file_share_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
    ) -> Datastore:
        raise _not_blob("register_azure_file_share", "an Azure Files share")

    @staticmethod
    def register_azure_sql_database(
        workspace: Workspace,
        datastore_name: str,
        server_name: str,
        database_name: str,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        resource_url: str | None = None,
        authority_url: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        username: str | None = None,
        password: str | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        grant_workspace_access: bool = False,
    ) -> Datastore:
        raise _not_blob("register_azure_sql_database", "an Azure SQL database")

    @staticmethod
    def register_azure_my_sql(
        workspace: Workspace,
        datastore_name: str,
        server_name: str,
        database_name: str,
        user_id: str,
        user_password: str,
        port_number: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
    ) -> Datastore:
        raise _not_blob("register_azure_my_sql", "an Azure Database for MySQL")

    @staticmethod
    def register_azure_postgre_sql(
        workspace: Workspace,
        datastore_name: str,
        server_name: str,
        database_name: str,
        user_id: str,
        user_password: str,
        port_number: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        enforce_ssl: bool = True,
    ) -> Datastore:
        raise _not_blob("register_azure_postgre_sql", "an Azure Database for PostgreSQL")

    @staticmethod
    def register_dbfs(workspace: Workspace, datastore_name: str) -> Datastore:
        raise _not_blob("register_dbfs", "a Databricks File System")

    @staticmethod
    def register_hdfs(
        workspace: Workspace,
        datastore_name: str,
        protocol: str,
        namenode_address: str,
        hdfs_server_certificate: str,
        kerberos_realm: str,
        kerberos_kdc_address: str,
        kerberos_principal: str,
        kerberos_keytab: str | None = None,
        kerberos_password: str | None = None,
        overwrite: bool = False,
    ) -> Datastore:
        raise _not_blob("register_hdfs", "an HDFS cluster")

    def set_as_default(self) -> None:
        """Make this datastore the workspace's default (`ws.get_default_datastore()`)."""
        self.workspace.set_default_datastore(self.name)

    def unregister(self) -> None:
        """Remove the datastore's registration (the container and its blobs stay, as in Azure ML)."""
        self.workspace.client.request("DELETE", f"datastores/{self.name}")

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A DataReference to `path` on this datastore (its root without one), as in Azure ML: a dataset's `path`,
        or a step's input."""
        return DataReference(self).path(path, data_reference_name)

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return DataReference(self).as_download(path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> DataReference:
        return DataReference(self).as_upload(path_on_compute)

    def as_mount(self) -> DataReference:
        return DataReference(self).as_mount()

    def _container(self) -> ContainerClient:
        if not self._other_account:
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
    ) -> DataReference:
        """Upload every file under `src_dir` to `target_path`; existing blobs are kept unless `overwrite`. Returns
        a DataReference to `target_path`, as Azure ML does."""
        source = Path(src_dir)
        if not source.is_dir():
            raise InvalidInput(f"src_dir {str(source)!r} is not a folder", field="src_dir")
        files = sorted(p for p in source.rglob("*") if p.is_file())
        self._upload([(p.relative_to(source).as_posix(), p) for p in files], target_path, overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def upload_files(
        self,
        files: list[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Upload the given files, keeping their folders below `relative_root` (by default the folder they all
        share, as in Azure ML). Returns a DataReference to `target_path`."""
        paths = [Path(file) for file in files]
        for path in paths:
            if not path.is_file():
                raise InvalidInput(f"{str(path)!r} is not a file", field="files")
        if relative_root is None:
            parents = [str(path.resolve().parent) for path in paths]
            root = Path(os.path.commonpath(parents)) if parents else Path(".")
        else:
            root = Path(relative_root).resolve()
        pairs = []
        for path in paths:
            try:
                pairs.append((path.resolve().relative_to(root).as_posix(), path))
            except ValueError as exc:
                raise InvalidInput(f"{str(path)!r} is not under relative_root {str(relative_root)!r}") from exc
        self._upload(pairs, target_path, overwrite, show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def _upload(
        self, pairs: list[tuple[str, Path]], target_path: str | None, overwrite: bool, show_progress: bool
    ) -> list[str]:
        # every name is checked before anything is written
        names = [(validators.validate_datastore_path(_blob_path(target_path, r), "file name"), p) for r, p in pairs]
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
            destination = target / validators.validate_relative_path(blob.name)
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
