"""Storage's REST requests as the app sends its records, without the storage SDK's per-request cost.

The JSON records (run records, lanes, leases, plans, the registry's) and the queue messages that move runs on are
most of the app's storage requests: small GETs, conditional PUTs, HEADs and DELETEs. Through the SDK each costs about
1-1.5 ms of a host instance's CPU (its policy pipeline, a request and a response object per layer, every response
header deserialized); as a plain request on the same transport about 0.4 ms. That CPU, not waiting, bounds a busy
instance, and on Azure it is what a Consumption plan bills.

A request here is what the SDK would send for the same call, authorized as the SDK's client is (Authorization): a SAS
signed with the account key (a connection string's, Azurite's included; signed again well before it ends), the
connection string's own SAS, or the Entra token the SDK would send (the app on Azure, identity-based). It goes
through the Storage's transport (shared/core/storage.py), so requests are counted and faults injected as for the
SDK's, and is tried again as the SDK's retry policy would (the same policy object says when and after how long).
Errors mean what the SDK's translated errors mean: 404 NotFound, 409/412 ConcurrencyConflict, no answer within the
retry budget StorageUnavailable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, unquote, urlencode
from xml.etree import ElementTree

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.core.errors import ConcurrencyConflict, FninferError, NotFound, StorageUnavailable

SAS_LIFETIME = timedelta(hours=1)
#: A SAS is signed again, or a token fetched again, when less than this is left of it (a request that started with
#: it still has time).
SAS_MARGIN = timedelta(minutes=15)
TOKEN_SCOPE = "https://storage.azure.com/.default"
#: Blobs per listing request (Azure's most).
LIST_PAGE = 5000
#: The error codes of a conditional write refused because another writer got there first.
LOST_RACE = frozenset({"BlobAlreadyExists", "ConditionNotMet", "TargetConditionNotMet"})


@dataclass(slots=True)
class StorageRequest:
    """A request as it goes out (a Faults sees it, a RequestCounter counts it)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(slots=True)
class StorageAnswer:
    """Storage's answer: its status, headers (case-insensitive) and whole body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def error_code(self) -> str:
        return self.headers.get("x-ms-error-code", "")


#: Sends one request (no retries) and returns storage's answer; raises azure-core's ServiceRequestError or
#: ServiceResponseError when no answer came.
Exchange = Callable[[StorageRequest], StorageAnswer]


@dataclass
class Authorization:
    """What authorizes a request to one account, as its SDK client's credential does. `sign_sas(expiry)` signs a SAS
    with the account key (None: the client has no key); `query` is the client's own SAS (a SAS connection string);
    `credential` an Entra token credential."""

    credential: Any = None
    query: str = ""
    sign_sas: Callable[[datetime], str] | None = None
    _signed: str = ""
    _token: str = ""
    _renew_at: datetime = field(default_factory=lambda: datetime.max.replace(tzinfo=UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, client: Any, sign_sas: Callable[[str, datetime], str]) -> Authorization:
        """The authorization of an SDK `client` (service or container): its account key signs with
        `sign_sas(key, expiry)`, else its URL's SAS, else its token credential."""
        key = getattr(client.credential, "account_key", None)
        _, _, query = client.url.partition("?")
        if key is not None:
            return cls(sign_sas=lambda expiry: sign_sas(key, expiry))
        if query:
            return cls(query=query)
        tokens = client.credential if callable(getattr(client.credential, "get_token", None)) else None
        return cls(credential=tokens)

    def apply(self, url: str, headers: dict[str, str]) -> str:
        """`url` with what authorizes it; an Entra token goes into `headers`."""
        if self.sign_sas is None and self.credential is None:
            return _with_query(url, self.query)  # the client's own SAS (or none: anonymous), ended by its owner
        now = datetime.now(UTC)
        with self._lock:
            if now >= self._renew_at or not (self._signed or self._token):
                self._renew(now)
            signed, token = self._signed, self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers["x-ms-date"] = formatdate(usegmt=True)
            return url
        return _with_query(url, signed)

    def _renew(self, now: datetime) -> None:
        if self.credential is not None:  # the same token the SDK's own requests carry
            token = self.credential.get_token(TOKEN_SCOPE)
            self._token = token.token
            self._renew_at = datetime.fromtimestamp(token.expires_on, UTC) - SAS_MARGIN
            return
        assert self.sign_sas is not None
        self._signed = self.sign_sas(now + SAS_LIFETIME)
        self._renew_at = now + SAS_LIFETIME - SAS_MARGIN


def _with_query(url: str, query: str) -> str:
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


@dataclass
class Retrying:
    """When and after how long a request is tried again: the SDK's storage retry policy's rules (a request that got
    no answer, 408, and 5xx but 501 and 505), its backoff (`policy.get_backoff_time`) and its number of retries."""

    policy: Any  # azure.storage.*.ExponentialRetry
    sleep: Callable[[float], None] = time.sleep

    def send(self, exchange: Exchange, request: StorageRequest, what: str) -> StorageAnswer:
        """The answer to `request`, tried again as the policy says; StorageUnavailable when none came."""
        retries = int(self.policy.total_retries)
        for count in range(retries + 1):
            try:
                answer = exchange(request)
            except (ServiceRequestError, ServiceResponseError) as exc:
                if count == retries:
                    raise StorageUnavailable(f"storage did not answer while accessing {what}: {exc}") from exc
            else:
                status = answer.status_code
                if not (status == 408 or (status >= 500 and status not in (501, 505))) or count == retries:
                    return answer
            self.sleep(self.policy.get_backoff_time({"count": count + 1}))  # the SDK counts the try to come
        raise AssertionError("unreachable")  # the last try returns or raises


def failure(answer: StorageAnswer, what: str) -> FninferError:
    """The domain error of an answer that is not a success, as shared.core.storage.storage_errors names the SDK's."""
    status, code = answer.status_code, answer.error_code
    if status == 404:
        return NotFound(f"{what} does not exist")
    if status == 412 or (status == 409 and code in LOST_RACE):
        return ConcurrencyConflict(f"{what} was changed by another writer")
    if status == 409:
        return ConcurrencyConflict(f"{what} conflicts with its current state: {code}")
    return StorageUnavailable(f"storage failed while accessing {what}: {status} {code}".rstrip())


def list_query(prefix: str, marker: str, page_size: int, include: str = "") -> str:
    """The query string of one page of a List Blobs request."""
    query = {"restype": "container", "comp": "list", "maxresults": str(page_size)}
    query |= {"prefix": prefix} if prefix else {}
    query |= {"include": include} if include else {}
    query |= {"marker": marker} if marker else {}
    return urlencode(query, quote_via=quote)


def listed_blobs(body: bytes) -> tuple[list[tuple[str, ElementTree.Element]], str]:
    """The blobs of one page of a List Blobs answer, each as its name (as written: an encoded name decoded) and its
    element, and the next page's marker ("" after the last). ValueError for a blob without a name."""
    page = ElementTree.fromstring(body)
    blobs = []
    for blob in page.iter("Blob"):
        name = blob.find("Name")
        if name is None:
            raise ValueError("a listed blob has no name")
        text = name.text or ""
        blobs.append((unquote(text) if name.get("Encoded") == "true" else text, blob))
    return blobs, page.findtext("NextMarker") or ""
