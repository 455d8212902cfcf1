"""Breaking storage on purpose: a shared.core.storage.Faults that fails chosen requests of a Storage's clients.

    faults = StorageFaults()
    storage = Storage.from_connection_string(azurite.connection_string, faults=faults, retry=FAST_RETRY)
    ... a run ...                       # faults.seen: every request's kind, in the order they were sent
    faults.arm(("PUT fninfer-runs/lanes", 3), "lost")

The modes, at the chosen request (its kind, shared.core.storage.request_kind, and its occurrence among that kind):

    refused     storage is down from that request on, for `down` seconds: nothing reaches it, every try fails
    lost        the request reaches storage, its answer is lost, and storage is down for `down` seconds: the
                caller's call fails although its write landed
    lost_once   the request reaches storage and its answer is lost once: the SDK tries again, and storage answers
                that try as it stands after the first (409, 412 or a duplicate)
    forgotten   the request (a blob's PUT) succeeds, and `later` requests on storage forgets the blob, as Azurite
                killed forgets its last seconds of writes (which real Azure Storage never does; the engine must
                come through it all the same)

FAST_RETRY gives up after three tries 50 ms apart, so a call fails inside a short outage instead of waiting out the
app's ~10 s retry budget.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpRequest, HttpResponse

from shared.core.storage import request_kind

FAST_RETRY = {"initial_backoff": 0.05, "increment_base": 0, "retry_total": 2, "random_jitter_range": 0}

Mode = Literal["refused", "lost", "lost_once", "forgotten"]
Point = tuple[str, int]  # (request kind, its occurrence: 1 for the first of its kind)

WRITES = ("PUT ", "POST ", "DELETE ")


class StorageFaults:
    def __init__(self, forget: Callable[[str], None] | None = None) -> None:
        """`forget(url)` deletes a blob behind the clients' backs (a Storage without faults), for `forgotten`."""
        self._forget = forget
        self._forgetting: tuple[str, int] | None = None  # (url, at which request)
        self.seen: list[str] = []
        self.fired = False
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._point: Point | None = None
        self._mode: Mode = "refused"
        self._down = 0.0
        self._down_until = 0.0
        self._losing: HttpRequest | None = None

    def arm(self, point: Point, mode: Mode, down: float = 0.5, later: int = 5) -> None:
        """Fail the request at `point` (counted from now) as `mode` says."""
        with self._lock:
            self.seen, self._counts, self.fired = [], Counter(), False
            self._point, self._mode, self._down, self._later = point, mode, down, later
            self._forgetting = None

    def points(self, writes_only: bool = True) -> list[Point]:
        """Every request seen so far as a point: (kind, occurrence)."""
        counts: Counter[str] = Counter()
        found = []
        for kind in self.seen:
            counts[kind] += 1
            if not writes_only or kind.startswith(WRITES):
                found.append((kind, counts[kind]))
        return found

    def before(self, request: HttpRequest) -> None:
        split = urlsplit(request.url)
        kind = request_kind(request.method, f"{split.path}?{split.query}")
        forget = None
        with self._lock:
            self.seen.append(kind)
            self._counts[kind] += 1
            if self._forgetting is not None and len(self.seen) >= self._forgetting[1]:
                forget, self._forgetting = self._forgetting[0], None
        if forget is not None and self._forget is not None:
            self._forget(forget)
        with self._lock:
            if time.monotonic() < self._down_until:
                raise ServiceRequestError("storage is down (injected)")
            if self._point != (kind, self._counts[kind]):
                return
            self.fired = True
            if self._mode == "refused":
                self._down_until = time.monotonic() + self._down
                raise ServiceRequestError(f"storage is down (injected at {kind} #{self._counts[kind]})")
            self._losing = request

    def after(self, request: HttpRequest, response: HttpResponse) -> None:
        with self._lock:
            if request is not self._losing:
                return
            self._losing = None
            if self._mode == "forgotten":
                if response.status_code < 300:
                    self._forgetting = (request.url.split("?")[0], len(self.seen) + self._later)
                return
            if self._mode == "lost":
                self._down_until = time.monotonic() + self._down
        raise ServiceResponseError("the answer was lost (injected)")
