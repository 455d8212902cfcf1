"""`Workspace`: the app (over HTTP) and its storage account (direct), as described by the workspace config."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from fninfer._client import AppClient
from fninfer._config import WorkspaceConfig, find_config, remember_loaded
from shared.errors import InvalidInput, NotFound
from shared.settings import StorageConnection
from shared.storage import Storage

if TYPE_CHECKING:
    from fninfer._compute import ComputeTarget
    from fninfer._dataset import AbstractDataset
    from fninfer._datastore import Datastore
    from fninfer._model import Model


class Workspace:
    """Mirrors `azureml.core.Workspace`: build it with `Workspace.from_config()`."""

    def __init__(
        self,
        config: WorkspaceConfig,
        _transport: httpx.BaseTransport | None = None,
        auth: Any = None,
    ) -> None:
        self.config = config
        self.client = AppClient(config, transport=_transport, auth=auth)

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _transport: httpx.BaseTransport | None = None,
    ) -> Workspace:
        """The workspace of the nearest `.fninfer/config.json` (see `fninfer._config.find_config`). `auth`: an
        `fninfer.core.authentication` object, as in Azure ML, or any azure-identity credential; it gets the tokens
        for an app in Azure (its auth_scope and its storage account). Locally the config's admin key is used."""
        found = find_config(path)
        workspace = cls(WorkspaceConfig.read(found), _transport=_transport, auth=auth)
        remember_loaded(found)
        return workspace

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
        """`workspaceblobstore`, or the datastore `set_default_datastore` chose."""
        from fninfer._datastore import Datastore

        return Datastore(self, _record=self.client.request("GET", "workspace/defaultdatastore"))

    def set_default_datastore(self, name: str) -> None:
        self.client.request("PUT", "workspace/defaultdatastore", json={"name": name})

    @property
    def datastores(self) -> dict[str, Datastore]:
        from fninfer._datastore import Datastore

        found = self.client.request("GET", "datastores")
        return {item["name"]: Datastore(self, _record=item) for item in found}

    @property
    def experiments(self) -> dict[str, Any]:
        """The experiments that have runs, by name."""
        from fninfer._experiment import Experiment

        return {experiment.name: experiment for experiment in Experiment.list(self)}

    @property
    def compute_targets(self) -> dict[str, ComputeTarget]:
        """Compute targets created with `ComputeTarget.create`, by name (each of its own type, e.g. AmlCompute)."""
        from fninfer._compute import ComputeTarget

        return {
            item["name"]: ComputeTarget._from_record(self, item)
            for item in self.client.request("GET", "computetargets")
        }

    @property
    def models(self) -> dict[str, Model]:
        """The latest version of every registered model, by name."""
        from fninfer._model import Model

        records = self.client.request("GET", "models", params={"latest": "true"})
        return {record["name"]: Model._from_record(self, record) for record in records}

    @property
    def datasets(self) -> DatasetsByName:
        """The latest version of every registered dataset; `ws.datasets['x']` and `ws.datasets('x')` both work."""
        from fninfer._dataset import AbstractDataset

        records = self.client.request("GET", "datasets")
        return DatasetsByName({record["name"]: AbstractDataset._from_record(self, record) for record in records})

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, endpoint={self.config.endpoint!r})"


class DatasetsByName(dict[str, "AbstractDataset"]):
    """A dict of datasets that can also be called with a name (one seed writes `ws.datasets('batch-data')`)."""

    def __call__(self, name: str) -> AbstractDataset:
        return self[name]

    def __missing__(self, name: str) -> Any:
        raise NotFound(f"dataset {name!r} is not registered; datasets: {sorted(self)}", dataset=name)
