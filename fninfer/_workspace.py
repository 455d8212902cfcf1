"""`Workspace`: the app (over HTTP) and its storage account (direct), as described by the workspace config."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fninfer._client import AppClient
from fninfer._config import (
    CONFIG_FILE_NAME,
    STATE_DIR_NAME,
    WorkspaceConfig,
    find_config,
    remember_loaded,
    resolve_config,
)
from fninfer._exceptions import UserErrorException
from shared.errors import InvalidInput, NotFound
from shared.settings import StorageConnection
from shared.storage import Storage

if TYPE_CHECKING:
    from fninfer._dataset import FileDataset
    from fninfer._datastore import Datastore
    from fninfer._environment import Environment
    from fninfer._model import Model
    from fninfer._webservice import Webservice


class Workspace:
    """Mirrors `azureml.core.Workspace`: `Workspace.from_config()`, `Workspace.get(name)` or
    `Workspace(subscription_id, resource_group, workspace_name)`, all resolved to the app a workspace config
    describes (see `fninfer._config.resolve_config`). `Workspace(config)` takes a `WorkspaceConfig` directly."""

    def __init__(
        self,
        subscription_id: str | WorkspaceConfig | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        _cloud: str = "AzureCloud",
        *,
        config: WorkspaceConfig | None = None,
        _transport: httpx.BaseTransport | None = None,
    ) -> None:
        if isinstance(subscription_id, WorkspaceConfig):  # Workspace(config), as fninfer's own code builds one
            config, subscription_id = subscription_id, None
        if config is None:
            if not workspace_name:
                raise UserErrorException(
                    "Workspace needs subscription_id, resource_group and workspace_name (or use "
                    "Workspace.from_config())",
                    field="workspace_name",
                )
            config, found = resolve_config(workspace_name, subscription_id, resource_group)
            remember_loaded(found)
        self.config = config
        self.sku = sku
        self.tags = dict(tags or {})
        self.client = AppClient(config, transport=_transport, auth=auth)

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
        _transport: httpx.BaseTransport | None = None,
    ) -> Workspace:
        """The workspace of the nearest `.fninfer/config.json` (see `fninfer._config.find_config`). `auth`: an
        `fninfer.core.authentication` object, as in Azure ML, or any azure-identity credential; it gets the tokens
        for an app in Azure (its auth_scope and its storage account). Locally the config's admin key is used."""
        if _file_name is not None and path is not None and Path(path).is_dir():
            path = Path(path) / _file_name
        found = find_config(path)
        workspace = cls(config=WorkspaceConfig.read(found), _transport=_transport, auth=auth)
        remember_loaded(found)
        return workspace

    @staticmethod
    def get(
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
    ) -> Workspace:
        """Mirrors `Workspace.get`: the workspace `name`, resolved as the constructor resolves it."""
        return Workspace(subscription_id, resource_group, name, auth=auth)

    def write_config(self, path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> str:
        """Save this workspace's config for `Workspace.from_config()` elsewhere: `<path>/.fninfer/config.json` (Azure
        ML writes `.azureml/`; fninfer's folder is the one snapshots always leave out, since the file can hold the
        local admin key), readable by the owner only. Returns the file written."""
        folder = Path(path if path is not None else ".") / STATE_DIR_NAME
        name = file_name or CONFIG_FILE_NAME
        target = folder / (name if name.endswith(".json") else f"{name}.json")
        try:
            self.config.write(target)
        except OSError as exc:
            raise UserErrorException(f"could not write the config file to {folder}: {exc}") from exc
        return str(target)

    @property
    def location(self) -> str:
        return self.config.location

    @property
    def name(self) -> str:
        return self.config.workspace_name

    @property
    def subscription_id(self) -> str:
        return self.config.subscription_id

    @property
    def resource_group(self) -> str:
        return self.config.resource_group

    @cached_property
    def storage(self) -> Storage:
        """The app's storage account: a connection string locally, an Entra ID identity in Azure."""
        if self.config.storage:
            return Storage.from_connection_string(self.config.storage)
        if self.config.storage_account:
            account = self.config.storage_account
            return Storage.from_connection(
                StorageConnection(
                    blob_service_uri=f"https://{account}.blob.core.windows.net",
                    queue_service_uri=f"https://{account}.queue.core.windows.net",
                ),
                credential=self.client.auth.credential(),
            )
        raise InvalidInput("the workspace config names no storage ('storage' or 'storage_account')")

    def get_default_datastore(self) -> Datastore:
        from fninfer._datastore import Datastore

        return Datastore(self)

    @property
    def datastores(self) -> dict[str, Datastore]:
        from fninfer._datastore import Datastore

        found = self.client.request("GET", "datastores")
        return {item["name"]: Datastore(self, item["name"], item["container_name"]) for item in found}

    @property
    def models(self) -> dict[str, Model]:
        """The latest version of every registered model, by name."""
        from fninfer._model import Model

        records = self.client.request("GET", "models", params={"latest": "true"})
        return {record["name"]: Model._from_record(self, record) for record in records}

    @property
    def datasets(self) -> DatasetsByName:
        """The latest version of every registered dataset; `ws.datasets['x']` and `ws.datasets('x')` both work."""
        from fninfer._dataset import FileDataset

        records = self.client.request("GET", "datasets")
        return DatasetsByName({record["name"]: FileDataset._from_record(self, record) for record in records})

    @property
    def environments(self) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        from fninfer._environment import Environment

        return Environment.list(self)

    @property
    def webservices(self) -> dict[str, Webservice]:
        """Every deployed service, by name."""
        from fninfer._webservice import Webservice

        return {service.name: service for service in Webservice.list(self)}

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, endpoint={self.config.endpoint!r})"


class DatasetsByName(dict[str, "FileDataset"]):
    """A dict of datasets that can also be called with a name (one seed writes `ws.datasets('batch-data')`)."""

    def __call__(self, name: str) -> FileDataset:
        return self[name]

    def __missing__(self, name: str) -> Any:
        raise NotFound(f"dataset {name!r} is not registered; datasets: {sorted(self)}", dataset=name)
