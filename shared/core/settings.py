"""App settings, read the way the Functions host reads them.

Settings come from the process environment (app settings in Azure; `local.settings.json` Values, which the local
host exports, on a laptop). A setting name with `__` is the same as one with `:` (the host's section separator).
Every setting fninfer reads is named in `KNOWN_SETTINGS` so that infra and code can be checked against each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.errors import InvalidInput

#: Storage connection used by the host and by the app for everything it keeps (a connection string, or in Azure
#: `AzureWebJobsStorage__accountName` + `__credential` + `__clientId`, identity-based).
STORAGE_CONNECTION = "AzureWebJobsStorage"
#: Shared secret that guards the management endpoints (`Authorization: Bearer <key>`).
ADMIN_KEY = "FNINFER_ADMIN_KEY"
#: Secret from which service keys are derived (HMAC) and tokens signed; the admin key when unset.
SIGNING_KEY = "FNINFER_SIGNING_KEY"
#: Entra ID tokens accepted by the app: their issuer, their audience, and where the signing keys are (optional).
ENTRA_ISSUER = "FNINFER_ENTRA_ISSUER"
ENTRA_AUDIENCE = "FNINFER_ENTRA_AUDIENCE"
ENTRA_JWKS_URI = "FNINFER_ENTRA_JWKS_URI"
#: Folder where models are cached once downloaded and verified.
MODEL_CACHE_DIR = "FNINFER_MODEL_CACHE"
#: Folder where service and pipeline code snapshots are materialized.
SNAPSHOT_CACHE_DIR = "FNINFER_SNAPSHOT_CACHE"
#: Azure ML's setting for a folder of models placed beside the code; a packaged app finds its own without it.
MODEL_DIR_SETTING = "AZUREML_MODEL_DIR"
#: The body of a real-time service's answer when its deployment does not choose one (`response_encoding`): "json",
#: as Azure ML's scoring server writes it (the default), or "json-string", a JSON string holding the result's JSON
#: (what the seeds' clients undo with `json.loads(...)`). See shared/services/calling.py.
RESPONSE_ENCODING_SETTING = "FNINFER_RESPONSE_ENCODING"
#: Seconds a batch work item's lease lasts without a heartbeat (how soon a dead instance's work is redone).
LEASE_SETTING = "FNINFER_BATCH_LEASE_SECONDS"
#: Seconds a pipeline run may go without progress, past the longest a step may rightly take without any (a
#: ParallelRunStep's run_invocation_timeout), before the watchdog repairs it or fails it
#: (shared/pipelines/batch/watchdog.py).
WATCHDOG_SETTING = "FNINFER_RUN_WATCHDOG_SECONDS"
#: Prefix of the settings that hold a registered datastore's credential when it is on another storage account:
#: `FNINFER_DATASTORE_<NAME>` (the name upper-cased, other characters as '_'). One per such datastore, set by its owner
#: (a Key Vault reference in Azure), so none is in KNOWN_SETTINGS or the template.
DATASTORE_CREDENTIAL_PREFIX = "FNINFER_DATASTORE_"
#: NCRONTAB of the timer that fires schedules (every minute by default): how late a schedule may fire at most.
SCHEDULES_CRON = "FNINFER_SCHEDULES_CRON"
DEFAULT_SCHEDULES_CRON = "0 * * * * *"
#: How a service's environment is checked when its deployment does not say: "warn" (the default) or "strict"
#: (shared/registry/installed_packages.py).
ENVIRONMENT_CHECK = "FNINFER_ENVIRONMENT_CHECK"

#: Every app setting the app's code reads. `tests/unit/test_infra_settings.py` checks it against the code and against
#: the app settings `infra/main.bicep` gives the Function App.
KNOWN_SETTINGS: tuple[str, ...] = (
    STORAGE_CONNECTION,
    ADMIN_KEY,
    SIGNING_KEY,
    ENTRA_ISSUER,
    ENTRA_AUDIENCE,
    ENTRA_JWKS_URI,
    MODEL_CACHE_DIR,
    SNAPSHOT_CACHE_DIR,
    MODEL_DIR_SETTING,
    RESPONSE_ENCODING_SETTING,
    LEASE_SETTING,
    WATCHDOG_SETTING,
    SCHEDULES_CRON,
    ENVIRONMENT_CHECK,
)


def get_setting(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of app setting `name` (`__` and `:` are equivalent), or `default`."""
    env = os.environ if environ is None else environ
    for candidate in (name, name.replace(":", "__"), name.replace("__", ":")):
        value = env.get(candidate)
        if value is not None and value != "":
            return value
    return default


def require_setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of app setting `name`; fails naming the setting when it is missing."""
    value = get_setting(name, environ=environ)
    if value is None:
        raise InvalidInput(f"app setting {name!r} is not set", setting=name)
    return value


@dataclass(frozen=True)
class StorageConnection:
    """Where an account is and how to authenticate: a connection string, or endpoints plus an Entra ID identity."""

    connection_string: str | None = None
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    client_id: str | None = None  # a user-assigned managed identity, when set

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None

    def __repr__(self) -> str:  # never print an account key
        if self.connection_string is not None:
            return "StorageConnection(connection_string=<hidden>)"
        return f"StorageConnection(blob={self.blob_service_uri!r}, queue={self.queue_service_uri!r})"


def storage_connection(name: str = STORAGE_CONNECTION, environ: Mapping[str, str] | None = None) -> StorageConnection:
    """Resolve connection `name` as the Functions host does (functions-reference#connections).

    A plain value is a connection string. Otherwise `<name>__accountName` gives the public endpoints, or
    `<name>__blobServiceUri` / `<name>__queueServiceUri` give them explicitly; the credential is then
    DefaultAzureCredential (with `<name>__clientId` for a user-assigned identity).
    """
    plain = get_setting(name, environ=environ)
    if plain is not None:
        if plain.strip() == "UseDevelopmentStorage=true":
            plain = DEVELOPMENT_STORAGE
        return StorageConnection(connection_string=plain)
    account = get_setting(f"{name}__accountName", environ=environ)
    blob_uri = get_setting(f"{name}__blobServiceUri", environ=environ)
    queue_uri = get_setting(f"{name}__queueServiceUri", environ=environ)
    client_id = get_setting(f"{name}__clientId", environ=environ)
    if account:
        blob_uri = blob_uri or f"https://{account}.blob.core.windows.net"
        queue_uri = queue_uri or f"https://{account}.queue.core.windows.net"
    if blob_uri and queue_uri:
        return StorageConnection(blob_service_uri=blob_uri, queue_service_uri=queue_uri, client_id=client_id)
    raise InvalidInput(
        f"storage connection {name!r} is not configured: set {name} to a connection string, or "
        f"{name}__accountName (or both {name}__blobServiceUri and {name}__queueServiceUri) for an identity",
        setting=name,
    )


#: The explicit form of `UseDevelopmentStorage=true` (Azurite's well-known account on its default ports).
DEVELOPMENT_STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
)
