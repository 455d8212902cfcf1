"""The host's storage access: the blob and queue clients of one account, and the few operations the host's own state
and its trigger listeners need (containers and queues made on first use, small JSON blobs read and written whole).

Requests go through one pool of POOL_CONNECTIONS connections per service (queue listeners, blob scans and leases run
at once) and share RETRY, a budget of about 10 s: past it a listener sees HostError and backs off, as the real host
does when storage is down, rather than stalling 88 s in the SDK's default retries.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree import ElementTree

import requests
import urllib3
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import (
    QueueClient,
    QueueMessage,
    QueueSasPermissions,
    QueueServiceClient,
    generate_queue_sas,
)
from urllib3.util.retry import Retry

from fninfer_host.errors import HostError
from fninfer_host.settings import StorageConnection

POOL_CONNECTIONS = 64
RETRY = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2, "random_jitter_range": 1}
CONNECT_SECONDS = 5
#: A Get Messages answers at once (storage does not hold it), so a poll that takes this long has failed.
RECEIVE_SECONDS = 30
#: The SAS a MessageReceiver signs lasts SAS_LIFETIME and is signed again when less than SAS_MARGIN of it is left.
SAS_LIFETIME = timedelta(hours=1)
SAS_MARGIN = timedelta(minutes=15)
JSON_CONTENT = ContentSettings(content_type="application/json")


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Azure SDK errors raised inside the block, as HostError naming `what`."""
    try:
        yield
    except ResourceNotFoundError as exc:
        raise HostError(f"{what} does not exist") from exc
    except AzureError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HostError(f"storage failed while accessing {what}: {first_line}") from exc


def _transport() -> RequestsTransport:
    """A pooled transport that reads the environment's proxy settings once (see _use_proxies_for), not on every
    request as requests does: that lookup walks the environment and ~/.netrc each time, about as much CPU as the rest
    of a small request, and the host's listeners poll storage all the time."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=POOL_CONNECTIONS,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),  # the SDK's retry policy retries
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=True, connection_timeout=CONNECT_SECONDS)


def _use_proxies_for(transport: RequestsTransport, endpoint: str) -> None:
    """The environment's proxies for `endpoint` (none when NO_PROXY bypasses it, as it should a local Azurite)."""
    assert transport.session is not None
    transport.session.proxies = requests.utils.get_environ_proxies(endpoint)


@dataclass
class HostStorage:
    """One storage account, as the host uses it."""

    blobs: BlobServiceClient
    queues: QueueServiceClient
    #: The queue clients' pooled session (their transport's), which MessageReceiver's plain requests share.
    queue_session: requests.Session
    # Clients of the containers and queues known to exist, built once (a client costs about a request's CPU to build).
    _containers: dict[str, ContainerClient] = field(default_factory=dict, repr=False)
    _queues: dict[str, QueueClient] = field(default_factory=dict, repr=False)

    @classmethod
    def from_connection(cls, connection: StorageConnection, credential: Any = None) -> HostStorage:
        """Clients for `connection`; an identity-based one authenticates with `credential`, else
        DefaultAzureCredential (with the connection's user-assigned identity, if any)."""
        blob_transport, queue_transport = _transport(), _transport()
        blob_options = {"transport": blob_transport, "retry_policy": BlobRetry(**RETRY)}
        queue_options = {"transport": queue_transport, "retry_policy": QueueRetry(**RETRY)}
        if connection.connection_string is not None:
            blobs = BlobServiceClient.from_connection_string(connection.connection_string, **blob_options)
            queues = QueueServiceClient.from_connection_string(connection.connection_string, **queue_options)
        else:
            if credential is None:
                from azure.identity import DefaultAzureCredential  # only with an identity: importing it costs ~40 ms

                credential = DefaultAzureCredential(managed_identity_client_id=connection.client_id)
            assert connection.blob_service_uri and connection.queue_service_uri
            blobs = BlobServiceClient(connection.blob_service_uri, credential=credential, **blob_options)
            queues = QueueServiceClient(connection.queue_service_uri, credential=credential, **queue_options)
        _use_proxies_for(blob_transport, blobs.url)
        _use_proxies_for(queue_transport, queues.url)
        assert queue_transport.session is not None  # _transport() gives it one
        return cls(blobs=blobs, queues=queues, queue_session=queue_transport.session)

    @classmethod
    def from_connection_string(cls, connection_string: str) -> HostStorage:
        return cls.from_connection(StorageConnection(connection_string=connection_string))

    def container(self, name: str) -> ContainerClient:
        """The container `name`, created on first use in this process."""
        client = self._containers.get(name)
        if client is None:
            client = self.blobs.get_container_client(name)
            with storage_errors(f"container {name!r}"), suppress(ResourceExistsError):
                client.create_container()
            self._containers[name] = client
        return client

    def queue(self, name: str, create: bool = True) -> QueueClient:
        """The queue `name`, created on first use in this process unless `create` is false."""
        client = self._queues.get(name)
        if client is None:
            client = self.queues.get_queue_client(name)
            if not create:
                return client
            with storage_errors(f"queue {name!r}"), suppress(ResourceExistsError):
                client.create_queue()
            self._queues[name] = client
        return client

    def receiver(self, name: str) -> MessageReceiver:
        """Get Messages on the queue `name` (see MessageReceiver); the queue is not created."""
        return MessageReceiver(self.queue(name, create=False), self.queue_session)

    def read_json(self, container: str, path: str) -> Any:
        """The JSON document at `container/path`, or None when there is none."""
        with storage_errors(f"{container}/{path}"):
            try:
                data = self.container(container).get_blob_client(path).download_blob().readall()
            except ResourceNotFoundError:
                return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise HostError(f"{container}/{path} is not JSON: {exc}") from exc

    def write_json(self, container: str, path: str, document: Any) -> None:
        """Write the document whole (the host's state blobs each have one writer at a time: the lease holder)."""
        with storage_errors(f"{container}/{path}"):
            blob = self.container(container).get_blob_client(path)
            blob.upload_blob(json.dumps(document).encode(), overwrite=True, content_settings=JSON_CONTENT)


class MessageReceiver:
    """Get Messages on one queue: the listeners' poll, most of what an idle host sends. With an account key (a
    connection string's, Azurite's included) or a connection string's SAS it is a plain GET with a SAS, on the queue
    clients' pooled session, for a fraction of the CPU the SDK's client spends on it (a policy pipeline and its
    objects per request, every header deserialized). With an Entra identity it is the SDK's call, which gets and
    renews the token. Either way a failure raises the SDK's errors: ResourceNotFoundError for a missing queue,
    another AzureError otherwise."""

    def __init__(self, client: QueueClient, session: requests.Session) -> None:
        self.client = client
        self.session = session
        base, _, query = client.url.partition("?")
        self.url = f"{base}/messages"
        self.account_key: str | None = getattr(client.credential, "account_key", None)
        self.sas = query
        self.sas_renewal = datetime.min.replace(tzinfo=UTC)

    def receive(self, count: int, visibility_timeout: int) -> list[QueueMessage]:
        if not (self.account_key or self.sas):
            pages = self.client.receive_messages(
                messages_per_page=count, max_messages=count, visibility_timeout=visibility_timeout
            )
            return list(pages)
        url = f"{self.url}?numofmessages={count}&visibilitytimeout={visibility_timeout}&{self._signature()}"
        try:
            answer = self.session.get(url, timeout=(CONNECT_SECONDS, RECEIVE_SECONDS))
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # urllib3's own: no retries mounted
            raise ServiceRequestError(f"no answer from {self.url}: {exc}") from exc
        if answer.status_code == 200:
            return parse_messages(answer.content)
        reason = f"{answer.status_code} {answer.headers.get('x-ms-error-code') or answer.reason}"
        if answer.status_code == 404:
            raise ResourceNotFoundError(reason)
        raise HttpResponseError(reason)

    def _signature(self) -> str:
        if self.account_key is None:
            return self.sas
        now = datetime.now(UTC)
        if now >= self.sas_renewal:
            self.sas = generate_queue_sas(
                self.client.account_name,
                self.client.queue_name,
                self.account_key,
                permission=QueueSasPermissions(process=True),
                expiry=now + SAS_LIFETIME,
            )
            self.sas_renewal = now + SAS_LIFETIME - SAS_MARGIN
        return self.sas


def parse_messages(body: bytes) -> list[QueueMessage]:
    """A Get Messages answer (`<QueueMessagesList>`) as the SDK's QueueMessage objects, content as sent."""

    def date(element: ElementTree.Element, name: str) -> datetime | None:
        text = element.findtext(name)
        return parsedate_to_datetime(text) if text else None

    return [
        QueueMessage(
            content=element.findtext("MessageText"),
            id=element.findtext("MessageId"),
            inserted_on=date(element, "InsertionTime"),
            expires_on=date(element, "ExpirationTime"),
            dequeue_count=int(element.findtext("DequeueCount") or 0),
            pop_receipt=element.findtext("PopReceipt"),
            next_visible_on=date(element, "TimeNextVisible"),
        )
        for element in ElementTree.fromstring(body).iter("QueueMessage")
    ]


#: The audit event the app's storage raises when it sends a message visible at once, with the queue's URL
#: (shared/core/storage.py, Storage.send): the host's queue listeners poll at once instead of waiting out their
#: backoff, as
#: the Functions host does for messages its functions write through a queue output binding.
QUEUE_SENT_EVENT = "fninfer.queue_sent"

_send_watchers: dict[str, list[Callable[[], None]]] = {}
_send_watchers_lock = threading.Lock()
_audit_hook_added = False


def _on_audit_event(event: str, args: tuple[Any, ...]) -> None:
    if event != QUEUE_SENT_EVENT:
        return
    with _send_watchers_lock:
        callbacks = list(_send_watchers.get(str(args[0]), ()))
    for callback in callbacks:
        callback()


def watch_sends(queue_url: str, callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` whenever code in this process sends a message, visible at once, to the queue at `queue_url`
    (QUEUE_SENT_EVENT). Returns the unwatch function."""
    global _audit_hook_added
    with _send_watchers_lock:
        if not _audit_hook_added:  # an audit hook cannot be removed: one per process, dispatching to the watchers
            sys.addaudithook(_on_audit_event)
            _audit_hook_added = True
        _send_watchers.setdefault(queue_url, []).append(callback)

    def unwatch() -> None:
        with _send_watchers_lock, suppress(ValueError):
            _send_watchers[queue_url].remove(callback)

    return unwatch
