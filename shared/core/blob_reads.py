"""Whole-blob reads for batch input files, without the storage SDK's per-request cost.

Each input file of a mini-batch is one GET. Through the SDK (its policy pipeline, a downloader object, response
headers deserialized into properties) a small blob costs a host instance about 1.5 ms of CPU; a plain urllib3 GET
with a read SAS of the container about 0.4 ms. On a busy instance that CPU, not waiting, bounds a batch run
(benchmarks/batch.py), and on Azure it is what a Consumption plan bills.

A reader exists for a container whose client holds an account key (a connection string, Azurite's included: a read
SAS of the container is signed, valid for an hour and signed again well before it ends), is addressed with
a SAS, or authenticates with an Entra identity (the app on Azure: the token the SDK would send, fetched from the
same credential, in the Authorization header); an anonymous client (a public container) reads through the SDK.
Errors mean what the SDK's mean: a 404 is NotFound, no answer within the retry budget is StorageUnavailable; any
other status is read again through the SDK, whose error names it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import datetime
from typing import IO
from urllib.parse import quote

import urllib3
from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

from shared.core.errors import NotFound, StorageUnavailable
from shared.core.storage import CONNECT_SECONDS, POOL_CONNECTIONS, RequestCounter, storage_errors
from shared.core.storage_requests import LIST_PAGE, Authorization, list_query, listed_blobs

log = logging.getLogger("fninfer.storage")

READ_SECONDS = 60
#: The retry budget of a read, as the SDK's (shared/core/storage.py): backoffs of about 1 and 2 s between three tries.
RETRY = urllib3.Retry(total=2, backoff_factor=1.0, status_forcelist=(500, 502, 503, 504), raise_on_status=False)

_pool = urllib3.PoolManager(
    num_pools=16,
    maxsize=POOL_CONNECTIONS,
    retries=RETRY,
    timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS),
)


class BlobReader:
    """GETs of one container's blobs, authorized by a SAS in the query or an Entra token in the header."""

    def __init__(self, container: ContainerClient, counter: RequestCounter | None) -> None:
        self.container = container
        self.counter = counter
        self.base = container.url.partition("?")[0]
        self.version = container.api_version
        self.authorization = Authorization.of(container, self._sign)

    def _sign(self, key: str, expiry: datetime) -> str:
        return generate_container_sas(
            self.container.account_name,
            self.container.container_name,
            account_key=key,
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=expiry,
        )

    def _authorized(self, url: str) -> tuple[str, dict[str, str]]:
        """The URL and headers of a GET of `url`, with what authorizes it (signed again when it nears its end)."""
        headers = {"x-ms-version": self.version}
        return self.authorization.apply(url, headers), headers

    def read_into(self, name: str, handle: IO[bytes], what: str) -> None:
        """Write blob `name` into `handle`; `what` names it in errors."""
        url = f"{self.base}/{quote(name, safe='/~')}"
        if self.counter is not None:
            self.counter.add("GET", url)
        with storage_errors(what):  # a token that cannot be had is the SDK's error too
            target, headers = self._authorized(url)
        try:
            response = _pool.request("GET", target, headers=headers, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:  # no answer within the retry budget
            raise StorageUnavailable(f"storage did not answer while accessing {what}: {exc}") from exc
        try:
            if response.status == 200:
                try:
                    shutil.copyfileobj(response, handle)
                    return
                except urllib3.exceptions.HTTPError:  # cut off mid-body: the SDK below reads it again
                    log.warning("Reading %s was cut off; reading it again through the SDK", what)
        finally:
            response.release_conn()
        if response.status == 404:
            raise NotFound(f"{what} does not exist")
        handle.seek(0)
        handle.truncate()
        _read_by_sdk(self.container, name, handle, what)  # it reads it again and names what went wrong

    def list_sizes(self, prefix: str, what: str) -> list[tuple[str, int]] | None:
        """(name, size) of each blob whose name starts with `prefix`, in name order; None when storage refused the
        listing (the caller lists through the SDK, whose error names why)."""
        found: list[tuple[str, int]] = []
        marker = ""
        while True:
            url = f"{self.base}?{list_query(prefix, marker, LIST_PAGE)}"
            if self.counter is not None:
                self.counter.add("GET", url)
            with storage_errors(what):
                target, headers = self._authorized(url)
            try:
                response = _pool.request("GET", target, headers=headers)
            except urllib3.exceptions.HTTPError as exc:
                raise StorageUnavailable(f"storage did not answer while listing {what}: {exc}") from exc
            if response.status != 200:
                return None
            try:
                blobs, marker = listed_blobs(response.data)
            except ValueError:
                return None  # not the listing this reads: the SDK's parser knows more shapes
            for name, blob in blobs:
                size = blob.findtext("Properties/Content-Length")
                if size is None:
                    return None  # likewise
                found.append((name, int(size or 0)))
            if not marker:
                return found


_readers: dict[tuple[str, str | None, RequestCounter | None], BlobReader | None] = {}
_readers_lock = threading.Lock()


def reader(container: ContainerClient, counter: RequestCounter | None) -> BlobReader | None:
    """The reader of `container` (one per container URL, credential, counter and process), or None when its client
    has no account key, SAS or token credential to read with (a public container's anonymous client)."""
    account_key = getattr(container.credential, "account_key", None)
    tokens = callable(getattr(container.credential, "get_token", None))
    key = (container.url, account_key or (id(container.credential) if tokens else None), counter)
    with _readers_lock:
        if key in _readers:
            return _readers[key]
    readable = account_key is not None or tokens or "sig=" in container.url
    found = BlobReader(container, counter) if readable else None
    with _readers_lock:
        return _readers.setdefault(key, found)


def read_into(
    container: ContainerClient, counter: RequestCounter | None, name: str, handle: IO[bytes], what: str
) -> None:
    """Blob `name` of `container` into `handle`: a plain GET where a reader exists, else through the SDK."""
    found = reader(container, counter)
    if found is not None:
        found.read_into(name, handle, what)
    else:
        _read_by_sdk(container, name, handle, what)


def _read_by_sdk(container: ContainerClient, name: str, handle: IO[bytes], what: str) -> None:
    with storage_errors(what):
        container.get_blob_client(name).download_blob(max_concurrency=1).readinto(handle)


def list_sizes(
    container: ContainerClient, counter: RequestCounter | None, prefix: str, what: str
) -> list[tuple[str, int]]:
    """(name, size) of each blob of `container` under `prefix`, in name order: one plain GET a page (the SDK's
    listing builds a properties object per blob) where a reader exists and storage allows it, else through the SDK."""
    found = reader(container, counter)
    listed = found.list_sizes(prefix, what) if found is not None else None
    if listed is not None:
        return listed
    with storage_errors(what):
        return [(blob.name, int(blob.size)) for blob in container.list_blobs(name_starts_with=prefix or None)]
