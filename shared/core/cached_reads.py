"""JSON records read once per version, for pages that show many small records on every refresh (services, model
versions, schedules, published pipelines).

A listing gives each blob's ETag; a record is read only when this process has not read that version of it yet, and
those reads run in parallel. Records are shared between callers: treat them as read-only. They are kept by URL: one
process may speak to several storage accounts (the tests do), with the same container and blob names in each.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

from shared.core.storage import Listed, Storage, same_etag

READ_THREADS = 8
#: Records kept per process, at most; past it the cache starts again empty.
MAX_RECORDS = 50_000


class RecordCache:
    def __init__(self) -> None:
        self._records: dict[str, tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def listed(self, storage: Storage, container: str, prefix: str) -> list[Listed]:
        """The blobs under `prefix`, with their ETags (one request per 5,000)."""
        return storage.list_with_metadata(container, prefix)

    def read(self, storage: Storage, container: str, listed: list[Listed]) -> dict[str, Any]:
        """{name: record} for the listed blobs, in their order; one deleted since it was listed is left out."""
        urls = {blob.name: storage.blob_url(container, blob.name) for blob in listed}
        with self._lock:
            known = {blob.name: self._records.get(urls[blob.name]) for blob in listed}
        stale = [blob for blob in listed if known[blob.name] is None or known[blob.name][0] != same_etag(blob.etag)]  # type: ignore[index]
        if stale:
            with concurrent.futures.ThreadPoolExecutor(min(READ_THREADS, len(stale))) as pool:
                fresh = list(pool.map(lambda blob: storage.try_read_json(container, blob.name), stale))
            with self._lock:
                if len(self._records) + len(fresh) > MAX_RECORDS:
                    self._records.clear()
                for blob, (record, etag) in zip(stale, fresh, strict=True):
                    known[blob.name] = None if record is None else (same_etag(etag), record)
                    if record is not None:
                        self._records[urls[blob.name]] = (same_etag(etag), record)
        return {name: entry[1] for name, entry in known.items() if entry is not None}

    def records(self, storage: Storage, container: str, prefix: str) -> dict[str, Any]:
        """{name: record} of every record under `prefix`."""
        return self.read(storage, container, self.listed(storage, container, prefix))


#: This process's cache.
cache = RecordCache()
