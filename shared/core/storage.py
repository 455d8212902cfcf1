"""Azure Storage clients and the few conditional-write primitives the domain is built on.

This is the storage boundary: Azure SDK exceptions are translated here into `shared.core.errors` (chained), so no caller
catches `azure.core` types. Records are JSON blobs; every state change is a conditional write (If-None-Match: * to
create, If-Match: <etag> to update), which is how concurrent host instances agree without a lock service.

A conditional write can land while its caller sees a failure: the answer is lost, the SDK tries again, and the
second try is refused (409/412) because of the first. Each conditional write therefore carries a token of its own in
the blob's metadata (WRITE_TOKEN); a refused write whose token is the blob's is the caller's own, and succeeds.

Every client of one Storage shares one HTTP transport per service: a connection pool of POOL_CONNECTIONS (the SDK's
default of 10 is fewer than a host instance's concurrent requests: lanes, their download threads, heartbeats and
queue listeners, and connections past the pool are opened and discarded per request), and optionally a
RequestCounter that counts every request sent (retries included), by kind: what the batch tests' request budgets
and the benchmarks count, and a Faults that fails chosen requests: what the fault-injection tests break storage with.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import requests
import urllib3
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline._tools import handle_non_stream_rest_response, is_rest
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport, RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    ResourceTypes,
    generate_account_sas,
)
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import QueueClient, QueueServiceClient
from urllib3.util.retry import Retry

from shared.core import layout
from shared.core.errors import ConcurrencyConflict, FninferError, NotFound, StorageUnavailable
from shared.core.settings import STORAGE_CONNECTION, StorageConnection, storage_connection
from shared.core.storage_requests import (
    LIST_PAGE,
    Authorization,
    Retrying,
    StorageAnswer,
    StorageRequest,
    failure,
    list_query,
    listed_blobs,
)

T = TypeVar("T")
Item = TypeVar("Item")
#: A JSON record as a blob holds it. Each kind's owning module says what its records hold.
Record = dict[str, Any]

JSON_CONTENT = ContentSettings(content_type="application/json")
XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
#: The metadata key of a conditional write's own token (see the module's docstring).
WRITE_TOKEN = "write"
POOL_CONNECTIONS = 64
#: The retry budget of every request: about 10 s of backoffs (~1, ~3 and ~5 s) between tries, each connection given
#: CONNECT_SECONDS. The SDK's default (88 s in all against a refused connection) outlasts an HTTP caller's
#: patience: past this budget an API call answers 503 naming storage (StorageUnavailable), and queue functions fail
#: and are retried (batch work is taken up again by the sweeper, see shared/pipelines/batch/sweeper.py).
RETRY = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2, "random_jitter_range": 1}
CONNECT_SECONDS = 5
#: Records read at once by read_many_json.
READ_THREADS = 8
#: The folders of fninfer-runs named by what they hold; the others are named by a run's id, its records' kind next.
RUNS_FOLDERS = {
    prefix.rstrip("/") for prefix in (layout.ACTIVE_RUNS_PREFIX, layout.RUN_INDEX_PREFIX, layout.REUSE_PREFIX)
}


def request_kind(method: str, path: str) -> str:
    """What a request is about, for counting: `METHOD container` (or queue), `METHOD container (list)`, and for the
    run records `METHOD fninfer-runs/<kind>` (a run's lanes, leases, plan, ...; active, runindex, reuse): never a
    run's id, so a kind means the same in every run. `path` is path-style
    (`/<account>/<container>/...`, as Azurite's URLs are) or the URL's path on an account's own host."""
    path, _, query = path.partition("?")
    parts = path.strip("/").split("/")
    if len(parts) > 1 and parts[0].startswith("devstoreaccount"):
        parts = parts[1:]  # Azurite's path-style URLs name the account first
    container = parts[0] or "(account)"
    if container == layout.RUNS_CONTAINER and len(parts) > 2:
        return f"{method} {container}/{parts[1] if parts[1] in RUNS_FOLDERS else parts[2]}"
    if "comp=list" in query:
        return f"{method} {container} (list)"
    return f"{method} {container}"


class RequestCounter:
    """Storage requests sent through a Storage's clients, by request_kind; thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, method: str, url: str) -> None:
        split = urlsplit(url)
        kind = request_kind(method, f"{split.path}?{split.query}")
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


#: The audit event (sys.audit) Storage.send raises with the queue's URL when it sends a message visible at once. The
#: local host's queue listeners watch for it (fninfer_host/storage.py) and poll at once instead of waiting out their
#: backoff, as the Functions host does for messages its functions write through a queue output binding; the app
#: never imports the host, and nothing listens in Azure.
QUEUE_SENT_EVENT = "fninfer.queue_sent"


class Sent(Protocol):
    """A request as a Faults sees it: the SDK's (azure-core's HttpRequest) or a plain one (StorageRequest)."""

    method: str
    url: str


class Answered(Protocol):
    status_code: int


class Faults(Protocol):
    """Fails chosen storage requests, for tests that break storage on purpose: `before` may raise instead of sending
    (nothing reaches storage), `after` may raise once the answer came (storage did it, the caller sees a failure).
    Raise azure.core's ServiceRequestError / ServiceResponseError, which is what a real network failure raises."""

    def before(self, request: Sent) -> None: ...

    def after(self, request: Sent, response: Answered) -> None: ...


#: Callbacks by blob URL, called with the blob's new ETag (None: deleted) when this process writes it (see
#: watch_writes).
_write_watchers: dict[str, list[Callable[[str | None], None]]] = {}
_write_watchers_lock = threading.Lock()


def watch_writes(blob_url: str, callback: Callable[[str | None], None]) -> Callable[[], None]:
    """Call `callback` with the new ETag (None once deleted) whenever this process writes the blob at `blob_url`
    through a Storage; a long poll waiting on that blob answers at once instead of at its next check (see
    shared/core/watch.py). Returns the unwatch function."""
    with _write_watchers_lock:
        _write_watchers.setdefault(blob_url, []).append(callback)

    def unwatch() -> None:
        with _write_watchers_lock, suppress(ValueError, KeyError):
            callbacks = _write_watchers[blob_url]
            callbacks.remove(callback)
            if not callbacks:
                del _write_watchers[blob_url]

    return unwatch


def _wrote(blob_url: str, etag: str | None) -> None:
    if not _write_watchers:
        return
    with _write_watchers_lock:
        callbacks = list(_write_watchers.get(blob_url, ()))
    for callback in callbacks:
        callback(etag)


class _Transport(RequestsTransport):
    """A pool of POOL_CONNECTIONS connections per host (no retries of its own: the SDK's retry policy retries),
    counting each request when given a counter, failing those `faults` chooses.

    A request goes straight to urllib3 and its answer comes back as the requests.Response azure-core reads: requests'
    Session prepares each request again (cookies, hooks, settings merged, the URL parsed anew), about a fifth of a
    small request's client CPU (benchmarks/storage_calls.py), none of which a storage request needs. What that path
    does not cover (a proxy, files, a body that is not bytes, per-request TLS options) goes through requests as
    azure-core sends it.

    The environment's proxy settings (HTTP(S)_PROXY, NO_PROXY) are read once, for the account's endpoint
    (use_proxies_for), instead of by requests on every request: a lookup that walks the whole environment and
    ~/.netrc each time costs about as much CPU as the rest of a small request."""

    def __init__(self, counter: RequestCounter | None, faults: Faults | None = None) -> None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4,
            pool_maxsize=POOL_CONNECTIONS,
            max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.trust_env = False  # proxies: see use_proxies_for
        super().__init__(session=session, session_owner=True, connection_timeout=CONNECT_SECONDS)
        # requests' CA bundle (certifi), so both paths trust the same authorities
        self.pool = urllib3.PoolManager(num_pools=4, maxsize=POOL_CONNECTIONS, ca_certs=requests.certs.where())
        self.plain_pool: urllib3.PoolManager = self.pool  # exchange's: through the endpoint's proxy, if it has one
        self.counter = counter
        self.faults = faults

    def use_proxies_for(self, endpoint: str) -> None:
        """The environment's proxies for `endpoint` (none when NO_PROXY bypasses it, as it should a local Azurite)."""
        self.session.proxies = requests.utils.get_environ_proxies(endpoint)
        proxy = self.session.proxies.get(urlsplit(endpoint).scheme)
        if proxy:
            self.plain_pool = urllib3.ProxyManager(
                proxy, num_pools=4, maxsize=POOL_CONNECTIONS, ca_certs=requests.certs.where()
            )

    def exchange(self, request: StorageRequest) -> StorageAnswer:
        """Send a plain request (shared/core/storage_requests.py) once: counted, failed as `faults` decides, its
        answer read whole."""
        if self.counter is not None:
            self.counter.add(request.method, request.url)
        if self.faults is not None:
            self.faults.before(request)
        config = self.connection_config
        with _no_answer():
            raw = self.plain_pool.urlopen(
                request.method,
                request.url,
                body=request.body,
                headers=request.headers,
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(connect=config.timeout, read=config.read_timeout),
            )
        answer = StorageAnswer(raw.status, raw.headers, raw.data)
        if self.faults is not None:
            self.faults.after(request, answer)
        return answer

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        if self.counter is not None:
            self.counter.add(request.method, request.url)
        if self.faults is not None:
            self.faults.before(request)
        direct = (
            not self.session.proxies
            and not request.files
            and isinstance(request.data, bytes | None)  # a str body: requests' encoding, not urllib3's
            and set(kwargs) <= _DIRECT_OPTIONS
        )
        response = self._send_direct(request, **kwargs) if direct else super().send(request, **kwargs)
        if self.faults is not None:
            self.faults.after(request, response)
        return response

    def _send_direct(self, request: HttpRequest, stream: bool = False, **kwargs: Any) -> HttpResponse:
        """What RequestsTransport.send does, on urllib3 alone: the same timeouts, the same answer types, and each
        failure raised as the azure-core error requests' would become."""
        config = self.connection_config
        connect = kwargs.get("connection_timeout", config.timeout)
        timeout = urllib3.Timeout(connect=connect, read=kwargs.get("read_timeout", config.read_timeout))
        with _no_answer():
            raw = self.pool.urlopen(
                request.method,
                request.url,
                body=request.data,
                headers=request.headers,
                redirect=False,
                retries=False,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
            )
        raw.enforce_content_length = True
        answer = requests.Response()
        answer.status_code = raw.status
        answer.headers = requests.structures.CaseInsensitiveDict(raw.headers)
        answer.raw = raw
        answer.reason = raw.reason
        answer.url = request.url
        answer.encoding = requests.utils.get_encoding_from_headers(answer.headers)
        if is_rest(request):
            response = RestRequestsTransportResponse(
                request=request, internal_response=answer, block_size=config.data_block_size
            )
            if not stream:
                handle_non_stream_rest_response(response)
            return response  # type: ignore[return-value]
        return RequestsTransportResponse(request, answer, config.data_block_size)


#: The send options _Transport._send_direct knows; with any other, a request goes through requests.
_DIRECT_OPTIONS = frozenset({"stream", "connection_timeout", "read_timeout"})


@contextmanager
def _no_answer() -> Iterator[None]:
    """urllib3's failures to get an answer, raised as the azure-core errors requests' would become."""
    try:
        yield
    except urllib3.exceptions.NewConnectionError as exc:
        raise ServiceRequestError(exc, error=exc) from exc
    except urllib3.exceptions.ConnectTimeoutError as exc:
        raise ServiceRequestTimeoutError(exc, error=exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise ServiceResponseTimeoutError(exc, error=exc) from exc
    except urllib3.exceptions.ProtocolError as exc:  # the connection broke while the answer was awaited
        raise ServiceResponseError(exc, error=exc) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise ServiceRequestError(exc, error=exc) from exc


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Translate Azure SDK errors raised inside the block into domain errors naming `what`."""
    try:
        yield
    except FninferError:
        raise
    except ResourceNotFoundError as exc:
        raise NotFound(f"{what} does not exist") from exc
    except (ResourceExistsError, ResourceModifiedError) as exc:
        raise ConcurrencyConflict(f"{what} was changed by another writer") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"storage did not answer while accessing {what}: {exc}") from exc
    except HttpResponseError as exc:
        if exc.status_code == 412:
            raise ConcurrencyConflict(f"{what} was changed by another writer") from exc
        if exc.status_code == 409:
            raise ConcurrencyConflict(f"{what} conflicts with its current state: {exc.reason}") from exc
        raise StorageUnavailable(f"storage failed while accessing {what}: {exc.status_code} {exc.reason}") from exc
    except AzureError as exc:
        raise StorageUnavailable(f"storage failed while accessing {what}: {exc}") from exc


@dataclass(frozen=True)
class Listed:
    """A blob as a listing shows it."""

    name: str
    etag: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Message:
    """A queue message as received: its text as sent, and the receipt that deletes it."""

    id: str
    pop_receipt: str
    content: str
    dequeue_count: int


@dataclass
class _Plain:
    """A service's plain requests (shared/core/storage_requests.py): sent on its SDK client's transport, authorized
    as its client is, tried again as its client's retry policy says, with its API version."""

    transport: _Transport
    authorization: Authorization
    retrying: Retrying
    version: str

    def send(
        self, method: str, url: str, what: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> StorageAnswer:
        headers = {"x-ms-version": self.version, **(headers or {})}
        target = self.authorization.apply(url, headers)
        request = StorageRequest(method, target, headers, body)
        with storage_errors(what):  # a token that cannot be had is the SDK's error too
            return self.retrying.send(self.transport.exchange, request, what)

    @classmethod
    def of(cls, client: BlobServiceClient | QueueServiceClient, transport: _Transport, retry: Any) -> _Plain:
        return cls(
            transport,
            Authorization.of(client, _account_sas(client.account_name)),
            Retrying(retry),
            str(client.api_version),
        )


@dataclass
class Storage:
    """One storage account: its blob and queue service clients, and containers/queues known to exist. The JSON
    records and queue messages go as plain requests (shared/core/storage_requests.py), the rest through the SDK."""

    blobs: BlobServiceClient
    queues: QueueServiceClient
    _plain_blobs: _Plain = field(repr=False)
    _plain_queues: _Plain = field(repr=False)
    requests: RequestCounter | None = None
    # Clients of containers and queues known to exist, built once: building one costs about as much CPU as a
    # small request (a generated client and its serializers each time).
    _containers: dict[str, ContainerClient] = field(default_factory=dict, repr=False)
    _queues: dict[str, QueueClient] = field(default_factory=dict, repr=False)

    @classmethod
    def from_connection(
        cls,
        connection: StorageConnection,
        credential: Any = None,
        counter: RequestCounter | None = None,
        faults: Faults | None = None,
        retry: dict[str, float] | None = None,
    ) -> Storage:
        """Clients for `connection`; an identity-based one authenticates with `credential` (an azure-identity
        credential), else DefaultAzureCredential (with the connection's managed identity client id). With
        `counter`, every request is counted there; with `faults`, requests fail as it decides; `retry` replaces
        RETRY (tests that fail storage on purpose shorten the backoffs)."""
        retry = RETRY if retry is None else retry
        blob_transport, queue_transport = _Transport(counter, faults), _Transport(counter, faults)
        blob_retry, queue_retry = BlobRetry(**retry), QueueRetry(**retry)
        blob_options = {"transport": blob_transport, "retry_policy": blob_retry}
        queue_options = {"transport": queue_transport, "retry_policy": queue_retry}
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
        blob_transport.use_proxies_for(blobs.url)
        queue_transport.use_proxies_for(queues.url)
        return cls(
            blobs=blobs,
            queues=queues,
            _plain_blobs=_Plain.of(blobs, blob_transport, blob_retry),
            _plain_queues=_Plain.of(queues, queue_transport, queue_retry),
            requests=counter,
        )

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        counter: RequestCounter | None = None,
        faults: Faults | None = None,
        retry: dict[str, float] | None = None,
    ) -> Storage:
        connection = StorageConnection(connection_string=connection_string)
        return cls.from_connection(connection, counter=counter, faults=faults, retry=retry)

    # -- containers and queues -------------------------------------------------------------------------------

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

    def send(self, queue: str, body: str, delay: int = 0) -> None:
        """Put a message on `queue`, visible after `delay` seconds (see QUEUE_SENT_EVENT)."""
        client = self.queue(queue)
        url = f"{client.url.partition('?')[0]}/messages" + (f"?visibilitytimeout={delay}" if delay else "")
        message = f"{XML_DECLARATION}<QueueMessage><MessageText>{escape(body)}</MessageText></QueueMessage>"
        what = f"queue {queue!r}"
        answer = self._plain_queues.send("POST", url, what, {"Content-Type": "application/xml"}, message.encode())
        if answer.status_code != 201:
            raise failure(answer, what)
        if not delay:
            sys.audit(QUEUE_SENT_EVENT, client.url)

    def receive(self, queue: str, count: int = 32, visibility: int = 30) -> list[Message]:
        """Take up to `count` visible messages off `queue`, invisible to others for `visibility` seconds (until
        deleted with delete_message, or seen again after)."""
        url = f"{self._queue_url(queue)}/messages?numofmessages={count}&visibilitytimeout={visibility}"
        what = f"queue {queue!r}"
        answer = self._plain_queues.send("GET", url, what)
        if answer.status_code != 200:
            raise failure(answer, what)
        return [
            Message(
                element.findtext("MessageId", ""),
                element.findtext("PopReceipt", ""),
                element.findtext("MessageText", ""),
                int(element.findtext("DequeueCount", "0")),
            )
            for element in ElementTree.fromstring(answer.body).iterfind("QueueMessage")
        ]

    def delete_message(self, queue: str, message: Message) -> bool:
        """Delete a received message; False when it is gone, or was received again since (its receipt is stale)."""
        url = f"{self._queue_url(queue)}/messages/{quote(message.id)}?popreceipt={quote(message.pop_receipt, safe='')}"
        what = f"message {message.id} of queue {queue!r}"
        answer = self._plain_queues.send("DELETE", url, what)
        if answer.status_code == 404 or answer.error_code == "PopReceiptMismatch":
            return False
        if answer.status_code != 204:
            raise failure(answer, what)
        return True

    def _queue_url(self, queue: str) -> str:
        """The queue's URL, the queue created on first use in this process."""
        return self.queue(queue).url.partition("?")[0]

    # -- JSON records ------------------------------------------------------------------------------------------

    def read_json(self, container: str, path: str) -> tuple[Any, str]:
        """The JSON record at `container/path` and its ETag; NotFound when absent."""
        record, etag = self.try_read_json(container, path)
        if etag is None:
            raise NotFound(f"{container}/{path} does not exist")
        return record, etag

    def try_read_json(self, container: str, path: str) -> tuple[Any, str] | tuple[None, None]:
        what = f"{container}/{path}"
        answer = self._plain_blobs.send("GET", self._blob_url(container, path), what)
        if answer.status_code == 404:
            return None, None
        if answer.status_code != 200:
            raise failure(answer, what)
        return json.loads(answer.body), answer.headers["ETag"]

    def create_json(self, container: str, path: str, record: Any, metadata: dict[str, str] | None = None) -> str:
        """Create the record only if nothing is there yet (If-None-Match: *); ConcurrencyConflict otherwise.
        `metadata` is stored with it, for listings to show (see list_with_metadata)."""
        return self._write_once(container, path, record, metadata, {"If-None-Match": "*"})

    def replace_json(
        self, container: str, path: str, record: Any, etag: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Replace the record only if it still has `etag` (If-Match); ConcurrencyConflict otherwise."""
        return self._write_once(container, path, record, metadata, {"If-Match": etag})

    def put_json(self, container: str, path: str, record: Any) -> str:
        """Write the record unconditionally (for records with a single writer)."""
        return self._put(container, path, _dumps(record), {})

    def _put(self, container: str, path: str, data: bytes, headers: dict[str, str]) -> str:
        """PUT a JSON blob with `headers` (metadata, conditions); its new ETag, or the error storage's answer is."""
        url, what = self._blob_url(container, path), f"{container}/{path}"
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": JSON_CONTENT.content_type, **headers}
        answer = self._plain_blobs.send("PUT", url, what, headers, data)
        if answer.status_code != 201:
            raise failure(answer, what)
        etag = answer.headers["ETag"]
        _wrote(url, etag)
        return etag

    def _write_once(
        self, container: str, path: str, record: Any, metadata: dict[str, str] | None, condition: dict[str, str]
    ) -> str:
        """A conditional PUT carrying a token of its own: a refusal caused by this very write, landed on an earlier
        try whose answer was lost, is no refusal (the token is on the blob). Returns the blob's ETag."""
        token = uuid.uuid4().hex
        headers = {f"x-ms-meta-{key}": value for key, value in {**(metadata or {}), WRITE_TOKEN: token}.items()}
        try:
            return self._put(container, path, _dumps(record), {**headers, **condition})
        except ConcurrencyConflict:
            what = f"{container}/{path}"
            answer = self._plain_blobs.send("HEAD", self._blob_url(container, path), what)
            if answer.status_code == 404:
                raise ConcurrencyConflict(f"{what} was changed by another writer") from None
            if answer.status_code != 200:
                raise failure(answer, what) from None
            if answer.headers.get(f"x-ms-meta-{WRITE_TOKEN}") != token:
                raise
            etag = answer.headers["ETag"]
            _wrote(self.blob_url(container, path), etag)
            return etag

    def update_json(self, container: str, path: str, change: Callable[[Any], T], attempts: int = 20) -> T:
        """Read-modify-write with If-Match, retried on conflict. `change` mutates the record in place and
        returns a value; raising from `change` aborts without writing."""
        for _ in range(attempts):
            record, etag = self.read_json(container, path)
            result = change(record)
            try:
                self.replace_json(container, path, record, etag)
                return result
            except ConcurrencyConflict:
                continue
        raise ConcurrencyConflict(f"{container}/{path} kept changing; gave up after {attempts} attempts")

    def upsert_json(self, container: str, path: str, change: Callable[[Any], Any], attempts: int = 20) -> Any:
        """Read-modify-write that creates the record when there is none: `change` gets a copy of the current record
        (None when there is none) and returns the one to write, which is returned. If-Match or If-None-Match,
        retried on conflict."""
        for _ in range(attempts):
            current, etag = self.try_read_json(container, path)
            updated = change(None if current is None else dict(current))
            try:
                if etag is None:
                    self.create_json(container, path, updated)
                else:
                    self.replace_json(container, path, updated, etag)
                return updated
            except ConcurrencyConflict:
                continue
        raise ConcurrencyConflict(f"{container}/{path} kept changing; gave up after {attempts} attempts")

    def delete_blob(self, container: str, path: str, etag: str | None = None) -> bool:
        """Delete a blob (with its snapshots); False when it was already gone."""
        url, what = self._blob_url(container, path), f"{container}/{path}"
        headers = {"x-ms-delete-snapshots": "include"} | ({} if etag is None else {"If-Match": etag})
        answer = self._plain_blobs.send("DELETE", url, what, headers)
        if answer.status_code == 404:
            return False
        if answer.status_code != 202:
            raise failure(answer, what)
        _wrote(url, None)
        return True

    def blob_url(self, container: str, path: str) -> str:
        """The blob's URL, which names it for watch_writes."""
        return f"{self._container_url(container)}/{quote(path, safe='~/')}"

    def _container_url(self, container: str) -> str:
        return f"{self.blobs.url.partition('?')[0].rstrip('/')}/{quote(container)}"

    def _blob_url(self, container: str, path: str) -> str:
        """The blob's URL, its container created on first use in this process."""
        self.container(container)
        return self.blob_url(container, path)

    def etag(self, container: str, path: str, known: str | None = None) -> str | None:
        """The blob's ETag, None when it does not exist: one HEAD request. With `known`, the request is conditional
        (If-None-Match): while the blob still has that ETag storage answers 304, without the blob's properties, and
        `known` is returned."""
        what = f"{container}/{path}"
        headers = None if known is None else {"If-None-Match": known}
        answer = self._plain_blobs.send("HEAD", self.blob_url(container, path), what, headers)
        if answer.status_code == 404:
            return None
        if answer.status_code == 304:
            return known
        if answer.status_code != 200:
            raise failure(answer, what)
        return answer.headers["ETag"]

    def list_names(self, container: str, prefix: str) -> list[str]:
        """Names of the blobs under `prefix`, in lexicographic order."""
        return [listed.name for listed in self._list(container, prefix, metadata=False)]

    def list_with_metadata(self, container: str, prefix: str) -> list[Listed]:
        """The blobs under `prefix` with their ETags and metadata, in lexicographic order: one request per 5,000."""
        return self._list(container, prefix, metadata=True)

    def _list(self, container: str, prefix: str, metadata: bool) -> list[Listed]:
        what = f"{container}/{prefix}*"
        self.container(container)
        url = self._container_url(container)
        found: list[Listed] = []
        marker = ""
        while True:
            query = list_query(prefix, marker, LIST_PAGE, include="metadata" if metadata else "")
            answer = self._plain_blobs.send("GET", f"{url}?{query}", what)
            if answer.status_code != 200:
                raise failure(answer, what)
            blobs, marker = listed_blobs(answer.body)
            for name, blob in blobs:
                entries = {entry.tag: entry.text or "" for entry in blob.iterfind("Metadata/*")}
                found.append(Listed(name, blob.findtext("Properties/Etag", ""), entries))
            if not marker:
                return found

    def read_all_json(self, container: str, prefix: str) -> list[Any]:
        """Every JSON record under `prefix`, in name order; one deleted between the listing and its read is left
        out."""
        return self.read_many_json(container, self.list_names(container, prefix))

    def read_many_json(self, container: str, paths: Sequence[str]) -> list[Any]:
        """The JSON records at `paths`, in their order, READ_THREADS read at once; one that does not exist is left
        out."""

        records = read_at_once(lambda path: self.try_read_json(container, path)[0], paths)
        return [record for record in records if record is not None]


def read_at_once(read: Callable[[Item], T], items: Sequence[Item]) -> list[T]:
    """`read(item)` for each item, in their order, READ_THREADS at once: reads whose time is mostly waiting on
    storage. The first exception raised is raised here."""
    if len(items) < 2:
        return [read(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(min(READ_THREADS, len(items))) as pool:
        return list(pool.map(read, items))


def same_etag(etag: object) -> str:
    """An ETag as listings write it: a listing gives `0x8D...`, a read's properties `"0x8D..."`."""
    return str(etag).strip('"')


def _account_sas(account: str) -> Callable[[str, datetime], str]:
    """Signs an account SAS for the records' requests with an account key: every operation on containers, blobs and
    queue messages, blob and queue services."""

    def sign(key: str, expiry: datetime) -> str:
        return generate_account_sas(
            account,
            key,
            ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(
                read=True, write=True, delete=True, list=True, add=True, create=True, update=True, process=True
            ),
            expiry,
            services="bq",
        )

    return sign


def _dumps(record: Any) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


@lru_cache(maxsize=8)
def _cached(connection: StorageConnection) -> Storage:
    return Storage.from_connection(connection)


def app_storage(name: str = STORAGE_CONNECTION) -> Storage:
    """The app's storage account (connection `AzureWebJobsStorage` by default), one client per process."""
    return _cached(storage_connection(name))
