"""Datastores: named blob containers. The default one, `workspaceblobstore`, is the `fninfer-datastore` container.

A registered datastore is a container of the app's own storage account (read with the app's identity), or of another
account. Another account's credential is never stored in a record: the record names the app setting that holds it
(`FNINFER_DATASTORE_<NAME>`: a connection string, an account key or a SAS token; a Key Vault reference in Azure), or
none for a public container. Which datastore is the workspace's default is itself a record, so
`ws.set_default_datastore(name)` changes it for every caller.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.core import blob_reads, layout, validators
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.settings import DATASTORE_CREDENTIAL_PREFIX, get_setting
from shared.core.storage import Storage

#: Container names as Azure Storage allows them.
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")


class DatastoreRecord(TypedDict):
    """A registered datastore (`layout.datastore_record`), or the built-in one (`default_datastore`, never stored)."""

    name: str
    container_name: str
    account_name: str | None  # None: the app's own account
    credential_setting: str | None  # the app setting holding another account's credential; None: none needed
    created_time: NotRequired[str]  # ISO 8601; the built-in datastore has none


class DatastoreView(DatastoreRecord):
    """A datastore as the API shows it."""

    is_default: bool  # the workspace's default (`layout.DEFAULT_DATASTORE_RECORD`)


class DefaultDatastore(TypedDict):
    """Which datastore is the workspace's default (`layout.DEFAULT_DATASTORE_RECORD`; absent: the built-in one)."""

    name: str


def credential_setting(name: str) -> str:
    """The app setting that holds datastore `name`'s credential, when it is on another account."""
    return DATASTORE_CREDENTIAL_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def default_datastore() -> DatastoreRecord:
    return {
        "name": layout.DEFAULT_DATASTORE_NAME,
        "container_name": layout.DEFAULT_DATASTORE_CONTAINER,
        "account_name": None,
        "credential_setting": None,
    }


def registered(storage: Storage) -> list[DatastoreRecord]:
    return [default_datastore(), *storage.read_all_json(layout.REGISTRY_CONTAINER, layout.DATASTORES_PREFIX)]


def default_name(storage: Storage) -> str:
    record: DefaultDatastore | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.DEFAULT_DATASTORE_RECORD)
    return record["name"] if record else layout.DEFAULT_DATASTORE_NAME


def _view(record: DatastoreRecord, is_default: bool) -> DatastoreView:
    return {**record, "is_default": is_default}


def list_datastores(storage: Storage) -> list[DatastoreView]:
    """The built-in datastore, then any registered ones; the workspace's default has `"is_default": true`."""
    default = default_name(storage)
    return [_view(record, record["name"] == default) for record in registered(storage)]


def find_datastore(storage: Storage, name: str) -> DatastoreRecord:
    """Datastore `name`'s record, from one read (none for the built-in one), as the code that reaches its container
    needs it; NotFound names the datastores there are (listing them only then)."""
    if name == layout.DEFAULT_DATASTORE_NAME:
        return default_datastore()
    record: DatastoreRecord | None
    try:
        path = layout.datastore_record(name)
    except InvalidInput:
        record = None  # no datastore can have such a name
    else:
        record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
    if record is None:
        names = [datastore["name"] for datastore in registered(storage)]
        raise NotFound(f"datastore {name!r} does not exist; datastores: {names}", datastore=name)
    return record


def get_datastore(storage: Storage, name: str) -> DatastoreView:
    """Datastore `name` as the API shows it: its record and whether it is the workspace's default."""
    return _view(find_datastore(storage, name), name == default_name(storage))


def get_default(storage: Storage) -> DatastoreView:
    return get_datastore(storage, default_name(storage))


def set_default(storage: Storage, name: str) -> DatastoreView:
    record = find_datastore(storage, name)  # NotFound names the datastores there are
    storage.put_json(layout.REGISTRY_CONTAINER, layout.DEFAULT_DATASTORE_RECORD, DefaultDatastore(name=name))
    return _view(record, True)


def register_blob_container(storage: Storage, name: str, request: dict[str, Any]) -> DatastoreRecord:
    """Register (or with `overwrite`, re-register) a blob container as datastore `name`, as
    `Datastore.register_azure_blob_container` does. The same definition again returns the existing record."""
    validators.validate_name("datastore", name)
    has_credential, create, overwrite = (
        validators.optional_flag(request.get(field), field)
        for field in ("has_credential", "create_if_not_exists", "overwrite")
    )
    if name == layout.DEFAULT_DATASTORE_NAME:
        raise Conflict(f"{name!r} is the workspace's built-in datastore; choose another name", datastore=name)
    container = request.get("container_name")
    if not isinstance(container, str) or not _CONTAINER.fullmatch(container):
        raise InvalidInput(
            f"container_name {container!r} is not a valid container name: 3-63 lower-case letters, digits and "
            "single hyphens, starting and ending with a letter or digit",
            field="container_name",
        )
    account = request.get("account_name")
    if account is not None and (not isinstance(account, str) or not _ACCOUNT.fullmatch(account)):
        raise InvalidInput(f"account_name {account!r} is not a storage account name", field="account_name")
    own_account = account is None or account == storage.blobs.account_name
    setting = None
    if not own_account and has_credential:
        setting = credential_setting(name)
        if get_setting(setting) is None:
            raise InvalidInput(
                f"datastore {name!r} is on storage account {account!r}: fninfer keeps its credential in the app "
                f"setting {setting!r} (a connection string, an account key or a SAS token; in Azure a Key Vault "
                "reference), never in the registry. Set it on the Function App, then register again",
                field="account_key",
            )
    record: DatastoreRecord = {
        "name": name,
        "container_name": container,
        "account_name": None if own_account else account,
        "credential_setting": setting,
        "created_time": datetime.now(UTC).isoformat(),
    }
    if own_account and create:
        storage.container(container)  # created on first use
    existing: DatastoreRecord | None
    existing, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.datastore_record(name))
    if existing is not None and etag is not None:
        if _definition(existing) == _definition(record):
            return existing
        if not overwrite:
            raise Conflict(
                f"datastore {name!r} is registered with another container or account; pass overwrite=True to "
                "replace it",
                datastore=name,
            )
        storage.replace_json(layout.REGISTRY_CONTAINER, layout.datastore_record(name), record, etag)
        return record
    storage.create_json(layout.REGISTRY_CONTAINER, layout.datastore_record(name), record)
    return record


def unregister_datastore(storage: Storage, name: str) -> None:
    """Remove datastore `name`'s registration (its container and blobs stay, as in Azure ML). The built-in one
    cannot be removed; when the removed one was the workspace's default, the built-in one is the default again."""
    if name == layout.DEFAULT_DATASTORE_NAME:
        raise Conflict(f"{name!r} is the workspace's built-in datastore: it cannot be unregistered", datastore=name)
    find_datastore(storage, name)  # NotFound names the datastores there are
    if default_name(storage) == name:
        storage.delete_blob(layout.REGISTRY_CONTAINER, layout.DEFAULT_DATASTORE_RECORD)
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.datastore_record(name))


def _definition(record: DatastoreRecord) -> tuple[str, str | None, str | None]:
    return record["container_name"], record["account_name"], record["credential_setting"]


# -- reaching a datastore's container ------------------------------------------------------------------------------

_services: dict[tuple[str, str | None], BlobServiceClient] = {}
_services_lock = threading.Lock()


def _other_account(account: str, credential: str | None) -> BlobServiceClient:
    if credential and "=" in credential and ";" in credential:  # a connection string
        return BlobServiceClient.from_connection_string(credential)
    url = f"https://{account}.blob.core.windows.net"
    if credential and credential.lstrip("?").startswith(("sv=", "sp=", "st=", "se=", "sig=", "sr=", "ss=", "srt=")):
        return BlobServiceClient(f"{url}?{credential.lstrip('?')}")
    if credential:
        return BlobServiceClient(url, credential={"account_name": account, "account_key": credential})
    return BlobServiceClient(url)  # a public container


def provide_credential(datastore: DatastoreRecord, credential: str) -> None:
    """Use `credential` for the datastore's account in this process (the SDK that registered it with a key or SAS
    token reads with it; the app reads its setting instead)."""
    account = datastore["account_name"]
    if account is None:
        raise InvalidInput(f"datastore {datastore['name']!r} is on the app's own account: it takes no credential")
    key = (account, datastore["credential_setting"])
    with _services_lock:
        _services[key] = _other_account(account, credential)


def container_client(storage: Storage, datastore: DatastoreRecord) -> ContainerClient:
    """The datastore's container: in the app's account, or in another one with the credential its setting holds."""
    account = datastore["account_name"]
    if not account:
        return storage.container(datastore["container_name"])
    setting = datastore["credential_setting"]
    key = (account, setting)
    with _services_lock:
        service = _services.get(key)
        if service is None:
            credential = get_setting(setting) if setting else None
            if setting and credential is None:
                raise InvalidInput(
                    f"datastore {datastore['name']!r} needs the app setting {setting!r} (its account's credential)",
                    datastore=datastore["name"],
                )
            service = _services[key] = _other_account(account, credential)
    return service.get_container_client(datastore["container_name"])


def list_blobs(storage: Storage, datastore: DatastoreRecord, prefix: str) -> list[tuple[str, int]]:
    """(name, size) of each blob under `prefix` in the datastore, in name order."""
    what = f"datastore {datastore['name']!r} {prefix}*"
    return blob_reads.list_sizes(container_client(storage, datastore), storage.requests, prefix, what)


class Datastores(Mapping[str, DatastoreRecord]):
    """The datastores by name, each read when first asked for (one request), not all listed up front: a run or a
    read names one or two of them. A name that is not a datastore is a KeyError, as in a dict."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._found: dict[str, DatastoreRecord] = {}

    def __getitem__(self, name: str) -> DatastoreRecord:
        record = self._found.get(name)
        if record is None:
            try:
                record = self._found[name] = find_datastore(self._storage, name)
            except NotFound as exc:
                raise KeyError(name) from exc
        return record

    def __iter__(self) -> Iterator[str]:
        return iter([record["name"] for record in registered(self._storage)])

    def __len__(self) -> int:
        return len(registered(self._storage))


def by_name(storage: Storage) -> Datastores:
    return Datastores(storage)
