"""The app settings the local host reads and sets, by their documented names, and storage connections resolved from
them as the Functions host resolves them (functions-reference#connections).

The app reads the same settings (shared/core/settings.py); the names below are the contract between the two, as they are
between an app and the real Functions host. tests/unit/test_host_settings.py checks that both resolve a connection
alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from fninfer_host.errors import HostError

#: The storage connection of the host's own state and of triggers that name no other (`connection` unset).
STORAGE_CONNECTION = "AzureWebJobsStorage"
#: The app's admin key: `fninfer start` sets it (from local.settings.json, else generated once) for the app to check.
ADMIN_KEY = "FNINFER_ADMIN_KEY"
#: The app's own host name and port, set by the platform on every instance; locally by `fninfer start`, as Core
#: Tools does.
APP_HOSTNAME = "WEBSITE_HOSTNAME"
#: Names a workspace config file for the SDK; `fninfer start` writes its own and drops one inherited.
CONFIG_ENV = "FNINFER_CONFIG"


def get_setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of app setting `name` (`__` and `:` are the same separator), or None when unset or empty."""
    env = os.environ if environ is None else environ
    for candidate in (name, name.replace(":", "__"), name.replace("__", ":")):
        value = env.get(candidate)
        if value:
            return value
    return None


@dataclass(frozen=True)
class StorageConnection:
    """Where an account is and how to authenticate: a connection string, or endpoints plus an Entra ID identity."""

    connection_string: str | None = None
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    client_id: str | None = None  # a user-assigned managed identity, when set

    def __repr__(self) -> str:  # never print an account key
        if self.connection_string is not None:
            return "StorageConnection(connection_string=<hidden>)"
        return f"StorageConnection(blob={self.blob_service_uri!r}, queue={self.queue_service_uri!r})"


def storage_connection(name: str = STORAGE_CONNECTION, environ: Mapping[str, str] | None = None) -> StorageConnection:
    """Resolve connection `name`: a plain value is a connection string; otherwise `<name>__accountName` gives the
    public endpoints, or `<name>__blobServiceUri` and `<name>__queueServiceUri` give them, and the credential is
    DefaultAzureCredential (with `<name>__clientId` for a user-assigned identity). HostError when none is set."""
    plain = get_setting(name, environ)
    if plain is not None:
        if plain.strip() == "UseDevelopmentStorage=true":
            plain = DEVELOPMENT_STORAGE
        return StorageConnection(connection_string=plain)
    account = get_setting(f"{name}__accountName", environ)
    blob_uri = get_setting(f"{name}__blobServiceUri", environ)
    queue_uri = get_setting(f"{name}__queueServiceUri", environ)
    client_id = get_setting(f"{name}__clientId", environ)
    if account:
        blob_uri = blob_uri or f"https://{account}.blob.core.windows.net"
        queue_uri = queue_uri or f"https://{account}.queue.core.windows.net"
    if blob_uri and queue_uri:
        return StorageConnection(blob_service_uri=blob_uri, queue_service_uri=queue_uri, client_id=client_id)
    raise HostError(
        f"storage connection {name!r} is not configured: set {name} to a connection string, or "
        f"{name}__accountName (or both {name}__blobServiceUri and {name}__queueServiceUri) for an identity"
    )


#: Azurite's well-known development account and its key.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(
    blob_port: int, queue_port: int, host: str = "127.0.0.1", account: str = AZURITE_ACCOUNT
) -> str:
    """The connection string of an Azurite started on the given ports, for its well-known account (or another of
    its accounts, which share the well-known key: see start_azurite)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{blob_port}/{account};QueueEndpoint=http://{host}:{queue_port}/{account};"
    )


#: The explicit form of `UseDevelopmentStorage=true` (Azurite on its default ports).
DEVELOPMENT_STORAGE = azurite_connection_string(10000, 10001)
