"""`Workspace`: the app (over HTTP) and its storage account (direct), as described by the workspace config."""

from __future__ import annotations

import logging
import os
import types
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fninfer._auth import MsiAuthentication
from fninfer._client import AppClient
from fninfer._config import (
    CONFIG_FILE_NAME,
    STATE_DIR_NAME,
    WorkspaceConfig,
    app_config,
    app_identity_client_id,
    find_config,
    remember_loaded,
    resolve_config,
)
from fninfer._exceptions import UserErrorException, WorkspaceException
from shared.core import layout
from shared.core.errors import FninferError, InvalidInput, NotFound
from shared.core.settings import StorageConnection
from shared.core.storage import Storage, app_storage

if TYPE_CHECKING:
    from fninfer._compute import ComputeTarget
    from fninfer._dataset import AbstractDataset
    from fninfer._datastore import Datastore
    from fninfer._environment import Environment
    from fninfer._model import Model
    from fninfer._webservice import Webservice


log = logging.getLogger("fninfer.workspace")


class Keyvault:
    """The workspace's key vault, as `azureml.core.Keyvault`: on fninfer its secrets are the app's settings (Key
    Vault references in Azure, `local.settings.json` Values locally), read by code running inside the app. A
    secret name's '-' reads as '_' (app setting names cannot hold '-' on Linux)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _read(self, name: str) -> str | None:
        if app_config() is None:
            raise UserErrorException(
                f"secret {name!r}: a workspace's secrets are the app's settings, readable only by code running "
                "inside the app (a step, an entry script); set it as an app setting"
            )
        return os.environ.get(name) or os.environ.get(name.replace("-", "_"))

    def get_secret(self, name: str) -> str:
        value = self._read(name)
        if value is None:
            raise UserErrorException(f"secret {name!r} is not set: add it to the app's settings", secret=name)
        return value

    def get_secrets(self, secrets: list[str]) -> dict[str, str | None]:
        return {name: self._read(name) for name in secrets}

    def list_secrets(self) -> list[dict[str, str]]:
        raise UserErrorException("the app's settings are not listed: read each secret by its name")

    def set_secret(self, name: str, value: str) -> None:
        raise UserErrorException(
            f"secret {name!r} cannot be set from the SDK: secrets are the app's settings (a Key Vault reference in "
            "Azure, local.settings.json locally)"
        )

    def set_secrets(self, secrets_batch: dict[str, str]) -> None:
        self.set_secret(", ".join(secrets_batch), "")

    def delete_secret(self, name: str) -> None:
        raise UserErrorException(f"secret {name!r} cannot be deleted from the SDK: remove the app setting")


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
        _inside_app: bool = False,
    ) -> None:
        if isinstance(subscription_id, WorkspaceConfig):  # Workspace(config), as fninfer's own code builds one
            config, subscription_id = subscription_id, None
        inside_app = False
        if config is None:
            if not workspace_name:
                raise UserErrorException(
                    "Workspace needs subscription_id, resource_group and workspace_name (or use "
                    "Workspace.from_config())",
                    field="workspace_name",
                )
            try:
                config, found = resolve_config(workspace_name, subscription_id, resource_group)
                remember_loaded(found)
            except InvalidInput:
                config = app_config()
                if config is None:
                    raise
                inside_app = True  # code in the app (a step, an entry script): the app is its workspace
                names = {"workspace_name": workspace_name, "subscription_id": subscription_id}
                config = replace(config, **{key: value for key, value in names.items() if value})
                config = replace(config, resource_group=resource_group or config.resource_group)
        self.config = config
        self._sku = sku
        if (inside_app or _inside_app) and auth is None and config.auth_scope:
            auth = MsiAuthentication({"client_id": app_identity_client_id() or ""})
        self.client = AppClient(config, transport=_transport, auth=auth)
        if inside_app or _inside_app:
            self.__dict__["storage"] = app_storage()  # the cached property, preset: the app's own connection

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
        try:
            found = find_config(path)
        except InvalidInput:
            inside = cls._of_app(auth) if path is None else None
            if inside is None:
                raise
            return inside
        workspace = cls(config=WorkspaceConfig.read(found), _transport=_transport, auth=auth)
        remember_loaded(found)
        return workspace

    @classmethod
    def _of_app(cls, auth: Any = None) -> Workspace | None:
        """The app itself, for code running inside it (see `fninfer._config.app_config`); None elsewhere."""
        config = app_config()
        return None if config is None else cls(config=config, auth=auth, _inside_app=True)

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

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"
    #: Azure ML's provisioning configurations of those clusters (set by fninfer._compute, which builds them).
    DEFAULT_CPU_CLUSTER_CONFIGURATION: Any = None
    DEFAULT_GPU_CLUSTER_CONFIGURATION: Any = None

    @property
    def location(self) -> str:
        return self.config.location

    # -- the workspace's own record ---------------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        return dict(self.client.request("GET", "workspace/details"))

    def get_details(self) -> dict[str, Any]:
        """The workspace as Azure ML describes it; what an Azure resource would name that a Function App has not
        (a container registry, Application Insights of its own) is None."""
        record = self._record()
        resource = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )
        return {
            "id": resource,
            "name": self.name,
            "location": self.location,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "tags": dict(record.get("tags") or {}),
            "sku": self.sku,
            "workspaceid": record["id"],
            "description": record.get("description") or "",
            "friendlyName": record.get("friendly_name") or self.name,
            "keyVault": None,
            "applicationInsights": None,
            "identityPrincipalId": None,
            "containerRegistry": None,
            "storageAccount": self.config.storage_account,
            "hbiWorkspace": False,
            "provisioningState": "Succeeded",
            "discoveryUrl": self.config.api_url,
            "imageBuildCompute": record.get("image_build_compute"),
            "notebookInfo": None,
        }

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record().get("tags") or {})

    @property
    def sku(self) -> str:
        return self._sku

    @property
    def discovery_url(self) -> str:
        """Where the workspace's services are: the app's management API."""
        return self.config.api_url

    @property
    def service_context(self) -> Any:
        """What Azure ML's ServiceContext carries that fninfer has: the workspace's names and its API's URL."""
        return types.SimpleNamespace(
            subscription_id=self.subscription_id,
            resource_group_name=self.resource_group,
            workspace_name=self.name,
            workspace_id=self._record()["id"],
            discovery_url=self.config.api_url,
            auth=self.client.auth,
        )

    def update(
        self,
        friendly_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        image_build_compute: str | None = None,
        service_managed_resources_settings: Any = None,
        primary_user_assigned_identity: str | None = None,
        allow_public_access_when_behind_vnet: bool | None = None,
        v1_legacy_mode: bool | None = None,
    ) -> None:
        """Change the friendly name, description, tags (replaced) or image build compute; the network and
        identity settings of an Azure ML resource are the Function App's (infra/main.bicep), logged and left."""
        for setting, value in (
            ("service_managed_resources_settings", service_managed_resources_settings),
            ("primary_user_assigned_identity", primary_user_assigned_identity),
            ("allow_public_access_when_behind_vnet", allow_public_access_when_behind_vnet),
            ("v1_legacy_mode", v1_legacy_mode),
        ):
            if value is not None:
                log.warning(
                    "Workspace.update: %s is the Function App's setting (infra/main.bicep); left as is", setting
                )
        changes = {
            "friendly_name": friendly_name,
            "description": description,
            "tags": None if tags is None else {str(k): str(v) for k, v in tags.items()},
            "image_build_compute": image_build_compute,
        }
        self.client.request("PATCH", "workspace/details", json={k: v for k, v in changes.items() if v is not None})

    # -- connections -------------------------------------------------------------------------------------------------

    def set_connection(self, name: str, category: str, target: str, authType: str, value: str) -> None:
        """Add or replace a workspace connection (kept in the workspace's record)."""
        connection = {"name": name, "category": category, "target": target, "authType": authType, "value": value}
        self.client.request("PATCH", "workspace/details", json={"set_connection": connection})

    def get_connection(self, name: str) -> dict[str, str]:
        connections = self._record().get("connections") or {}
        if name not in connections:
            raise UserErrorException(f"the workspace has no connection {name!r}; it has {sorted(connections)}")
        return dict(connections[name])

    def list_connections(self, category: str | None = None, target: str | None = None) -> list[dict[str, str]]:
        connections = (self._record().get("connections") or {}).values()
        return [dict(c) for c in connections if category in (None, c["category"]) and target in (None, c["target"])]

    def delete_connection(self, name: str) -> None:
        self.client.request("PATCH", "workspace/details", json={"delete_connection": name})

    # -- what an Azure resource has and a Function App has not -------------------------------------------------------

    @staticmethod
    def create(
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        create_resource_group: bool = True,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        friendly_name: str | None = None,
        storage_account: str | None = None,
        key_vault: str | None = None,
        app_insights: str | None = None,
        container_registry: str | None = None,
        adb_workspace: str | None = None,
        primary_user_assigned_identity: str | None = None,
        cmk_keyvault: str | None = None,
        resource_cmk_uri: str | None = None,
        hbi_workspace: bool = False,
        default_cpu_compute_target: Any = None,
        default_gpu_compute_target: Any = None,
        private_endpoint_config: Any = None,
        private_endpoint_auto_approval: bool = True,
        exist_ok: bool = False,
        show_output: bool = True,
        user_assigned_identity_for_cmk_encryption: str | None = None,
        system_datastores_auth_mode: str = "accessKey",
        v1_legacy_mode: bool | None = None,
    ) -> Workspace:
        """An Azure ML workspace is not created here: the app is the workspace (deploy it with infra/main.bicep,
        or run `fninfer start`). With exist_ok=True the configured workspace is returned, as Azure ML returns the
        existing one."""
        if not exist_ok:
            raise WorkspaceException(
                f"Workspace.create({name!r}): fninfer does not create Azure ML workspaces; the workspace is the "
                "Function App (deploy infra/main.bicep, or run `fninfer start`). Pass exist_ok=True to use it."
            )
        return Workspace(subscription_id, resource_group, name, auth=auth, sku=sku)

    def delete(self, delete_dependent_resources: bool = False, no_wait: bool = False) -> None:
        raise WorkspaceException(
            "the workspace is the Function App and its storage account: delete them with Azure's tools "
            "(az group delete), not from the SDK"
        )

    @staticmethod
    def list(subscription_id: str, auth: Any = None, resource_group: str | None = None) -> dict[str, list[Workspace]]:
        """The workspaces reachable from here: the configured one (or, inside the app, the app), by name."""
        workspace = Workspace.from_config(auth=auth)
        return {workspace.name: [workspace]}

    @staticmethod
    def setup() -> Workspace:
        """Deprecated in Azure ML: the configured workspace."""
        return Workspace.from_config()

    def list_keys(self) -> dict[str, Any]:
        """The storage account key, when the config holds a connection string (the local host); in Azure the app
        uses its identity and there is no key to list."""
        connection = self.config.storage or ""
        fields = dict(part.split("=", 1) for part in connection.split(";") if "=" in part)
        if "AccountKey" not in fields:
            raise WorkspaceException("the workspace's storage is reached with an identity: there are no keys to list")
        return {
            "userStorageKey": fields["AccountKey"],
            "userStorageResourceId": fields.get("AccountName"),
            "appInsightsInstrumentationKey": None,
            "containerRegistryCredentials": None,
            "notebookAccessKeys": None,
        }

    def sync_keys(self, no_wait: bool = False) -> None:
        log.info("Workspace.sync_keys: the app reads its storage credentials on each use; nothing to sync")

    def update_dependencies(self, container_registry: str | None = None, force: bool = False) -> None:
        log.info("Workspace.update_dependencies: a Function App has no container registry to update; left as is")

    def diagnose_workspace(self, diagnose_parameters: Any) -> dict[str, Any]:
        """Checks what the workspace needs: the app answers, and its storage answers."""
        checks: dict[str, Any] = {}
        try:
            self._record()
            checks["application"] = "Succeeded"
        except FninferError as exc:
            checks["application"] = f"Failed: {exc.message}"
        try:
            self.storage.list_names(layout.REGISTRY_CONTAINER, layout.WORKSPACE_DETAILS_RECORD)
            checks["storageAccount"] = "Succeeded"
        except FninferError as exc:
            checks["storageAccount"] = f"Failed: {exc.message}"
        return {"value": checks}

    def add_private_endpoint(
        self,
        private_endpoint_config: Any,
        private_endpoint_auto_approval: bool = True,
        location: str | None = None,
        show_output: bool = True,
        tags: dict[str, str] | None = None,
    ) -> None:
        raise WorkspaceException(
            "private endpoints are the Function App's and its storage account's networking: set them in Azure "
            "(infra/main.bicep), not from the SDK"
        )

    def delete_private_endpoint_connection(self, private_endpoint_connection_name: str) -> None:
        self.add_private_endpoint(None)

    @property
    def private_endpoints(self) -> dict[str, Any]:
        """None are managed here (see add_private_endpoint)."""
        return {}

    @property
    def linked_services(self) -> dict[str, Any]:
        """Synapse linked services do not exist on fninfer: none."""
        return {}

    @property
    def images(self) -> dict[str, Any]:
        """Azure ML's deprecated container images: fninfer builds none (services run in the app)."""
        return {}

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        raise WorkspaceException(
            "fninfer has no MLflow tracking server: log with Run.get_context().log(...) (the run history)"
        )

    def get_default_compute_target(self, type: str) -> ComputeTarget | None:
        """Deprecated in Azure ML: the compute target named cpu-cluster (type 'CPU') or gpu-cluster, if made."""
        name = self.DEFAULT_GPU_CLUSTER_NAME if str(type).upper() == "GPU" else self.DEFAULT_CPU_CLUSTER_NAME
        return self.compute_targets.get(name)

    def get_default_keyvault(self) -> Keyvault:
        return Keyvault(self)

    def get_run(self, run_id: str) -> Any:
        """The run with this id, in whichever experiment."""
        from fninfer._run import Run

        return Run.get(self, run_id)

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


class DatasetsByName(dict[str, "AbstractDataset"]):
    """A dict of datasets that can also be called with a name (one seed writes `ws.datasets('batch-data')`)."""

    def __call__(self, name: str) -> AbstractDataset:
        return self[name]

    def __missing__(self, name: str) -> Any:
        raise NotFound(f"dataset {name!r} is not registered; datasets: {sorted(self)}", dataset=name)
