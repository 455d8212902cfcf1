"""Long polls: a request that waits until the records behind a document change, and then answers at once.

The SDK's waits (`wait_for_completion`, `wait_for_deployment`) ask the app for a run or a service with
`?wait=<ETag or status>`; the app answers when the document's ETag (or its status) differs from the one the caller
has, or after a bound well under any HTTP timeout, and the caller asks again. So a wait returns right after the end
at the cost of a request every bound, where polling would trade one for the other.

While a request waits it holds no thread: it awaits. One watcher per event loop checks every blob someone waits on,
every WATCH_SECONDS, with a conditional HEAD (If-None-Match: <ETag>), which storage answers 304 with no body while
the blob is unchanged; however many requests wait on a blob, it is checked once per round. A write this process
makes to a watched blob (Storage's write notifications) wakes its waiters without asking storage at all: most ends
are written by the instance that holds the wait when the app has one instance.

Which blobs: the `primary` ones hold what ends a wait (a run's status lives in its record), and are read for their
ETag *before* the document is made, so no change between the two can be missed. The `secondary` ones are the rest of
what the document shows (a pipeline run's step records); they are found in the document, so a waiter for any change
also makes the document again every RECHECK_SECONDS, which bounds what a change in the gap costs, and shows figures
that live outside records (a ParallelRunStep's mini-batch counts, listed from its lanes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.core.storage import Storage, watch_writes

Document = dict[str, Any]

#: How often a watched blob is checked (one conditional HEAD, shared by its waiters): how late, at most, a wait
#: hears of a change written by another instance.
WATCH_SECONDS = 0.05
#: How often a wait for any change makes its document again, changed blobs or not (see the module's docstring).
RECHECK_SECONDS = 1.0
#: The longest a request waits, and how long when the caller does not say: well under the 230 s after which Azure's
#: front end gives up on an HTTP request, and under the SDK's read timeout.
MAX_WAIT_SECONDS = 60.0
DEFAULT_WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class Blob:
    container: str
    path: str


def etag_of(document: Any) -> str:
    """The document's ETag: a hash of its JSON, so equal documents have equal ETags whoever made them."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Until:
    """What a wait waits for: the document's ETag to differ from `etag`, or its `status_key` to differ from
    `status`. A wait for a status ignores every other change (no answer for each step's progress)."""

    etag: str | None = None
    status: str | None = None
    status_key: str = "status"

    @classmethod
    def parse(cls, value: str, status_key: str) -> Until:
        """`?wait=` as sent: a quoted ETag (`"..."`, as the ETag header has it; W/ taken too) or a status name."""
        value = value.strip()
        if value.startswith(('"', 'W/"')):
            return cls(etag=value.removeprefix("W/"))
        return cls(status=value, status_key=status_key)

    def reached(self, document: Document) -> bool:
        if self.etag is not None:
            return etag_of(document) != self.etag
        return str(document.get(self.status_key)) != self.status


@dataclass
class _Watched:
    etag: str | None
    waiters: set[asyncio.Event] = field(default_factory=set)
    unwatch: Callable[[], None] | None = None


class Watcher:
    """The blobs waited on in one event loop, checked together (see the module's docstring)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.loop = asyncio.get_running_loop()
        self.blobs: dict[Blob, _Watched] = {}
        self.task: asyncio.Task[None] | None = None

    async def etags(self, blobs: list[Blob]) -> dict[Blob, str | None]:
        """Each blob's current ETag (None: absent): what a waiter knows before it reads the document."""
        return await asyncio.to_thread(lambda: {blob: self.storage.etag(blob.container, blob.path) for blob in blobs})

    async def changed(self, known: dict[Blob, str | None], timeout: float) -> dict[Blob, str | None] | None:
        """Wait until one of `known`'s blobs has another ETag than it says, then return their ETags as they are
        now; None when `timeout` passes first."""
        event = asyncio.Event()
        for blob, etag in known.items():
            watched = self.blobs.get(blob)
            if watched is None:
                watched = self.blobs[blob] = _Watched(etag)
                url = self.storage.blob_url(blob.container, blob.path)
                watched.unwatch = watch_writes(url, lambda new, blob=blob: self._threadsafe_write(blob, new))
            watched.waiters.add(event)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._check())
        try:
            if not self._differs(known):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
            return {blob: self.blobs[blob].etag for blob in known} if self._differs(known) else None
        finally:
            for blob in known:
                watched = self.blobs[blob]
                watched.waiters.discard(event)
                if not watched.waiters:
                    del self.blobs[blob]
                    if watched.unwatch is not None:
                        watched.unwatch()

    def _differs(self, known: dict[Blob, str | None]) -> bool:
        return any(self.blobs[blob].etag != etag for blob, etag in known.items())

    def _threadsafe_write(self, blob: Blob, etag: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(self._set, blob, etag)

    def _set(self, blob: Blob, etag: str | None) -> None:
        watched = self.blobs.get(blob)
        if watched is not None and watched.etag != etag:
            watched.etag = etag
            for event in watched.waiters:
                event.set()

    async def _check(self) -> None:
        """While anyone waits: a conditional HEAD per watched blob every WATCH_SECONDS."""
        while self.blobs:
            await asyncio.sleep(WATCH_SECONDS)
            snapshot = {blob: watched.etag for blob, watched in self.blobs.items()}
            try:
                found = await asyncio.to_thread(self._heads, snapshot)
            except Exception:  # storage hiccup: the waiters' bound still holds; try again next round
                continue
            for blob, etag in found.items():
                self._set(blob, etag)

    def _heads(self, snapshot: dict[Blob, str | None]) -> dict[Blob, str | None]:
        return {blob: self.storage.etag(blob.container, blob.path, known=etag) for blob, etag in snapshot.items()}


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Watcher]] = weakref.WeakKeyDictionary()


def watcher(storage: Storage) -> Watcher:
    """This event loop's watcher of `storage`."""
    by_storage = _watchers.setdefault(asyncio.get_running_loop(), {})
    found = by_storage.get(id(storage))
    if found is None or found.storage is not storage:
        found = by_storage[id(storage)] = Watcher(storage)
    return found


async def long_poll(
    storage: Storage,
    read: Callable[[], Document],
    primary: list[Blob],
    until: Until,
    timeout: float,
    secondary: Callable[[Document], list[Blob]] | None = None,
) -> Document:
    """The document once `until` is reached, or as it is after `timeout` seconds (see the module's docstring)."""
    watch = watcher(storage)
    deadline = watch.loop.time() + timeout
    known = await watch.etags(primary)
    document = await asyncio.to_thread(read)
    any_change = until.etag is not None
    while not until.reached(document):
        left = deadline - watch.loop.time()
        if left <= 0:
            break
        if any_change and secondary is not None:
            extra = [blob for blob in secondary(document) if blob not in known]
            known.update(await watch.etags(extra))
        now_known = await watch.changed(known, min(left, RECHECK_SECONDS) if any_change else left)
        if now_known is not None:
            known = now_known
        elif not any_change:
            continue  # the bound passed
        document = await asyncio.to_thread(read)
    return document
