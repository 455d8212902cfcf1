"""How the SDK's waits watch a run or a service: long polls on the app (`GET <resource>?wait=...`, see
functions/_waiting.py), so a wait returns right after the end, with one request per change or per LONG_POLL_SECONDS
rather than one per polling interval.

A wait that prints progress asks for any change (`?wait=<ETag>`); one that does not, for a change of status only
(`?wait=Running`), so the steps' progress costs it nothing. Against an app that answers at once instead of waiting
(one from before long polls), the loop falls back to polling with a growing pause rather than asking in a tight loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from fninfer._client import AppClient
from shared.core.errors import FninferError

Document = dict[str, Any]

#: How long one request waits at most (the app bounds it too). Azure ML polls every 1 to 5 s; a long poll costs
#: nothing while it waits, so it can wait far longer, well under the client's read timeout.
LONG_POLL_SECONDS = 20.0
#: Reading again after a connection to a host instance that went away was reset (reading is safe to repeat).
READ_TRIES = 3
RETRY_PAUSE_SECONDS = 0.5
#: The pause when the app answered a long poll early with nothing new (an app that does not wait), growing to MAX.
FALLBACK_PAUSE_SECONDS = 0.5
MAX_FALLBACK_PAUSE_SECONDS = 2.0


def read(client: AppClient, path: str, params: dict[str, str] | None = None) -> tuple[Document, str | None]:
    """The document at `path` and its ETag, asked again when the connection was reset."""
    for _ in range(READ_TRIES - 1):
        try:
            body, etag = client.get_with_etag(path, params)
            return dict(body), etag
        except FninferError as exc:
            if not isinstance(exc.__cause__, httpx.TransportError):
                raise
            time.sleep(RETRY_PAUSE_SECONDS)
    body, etag = client.get_with_etag(path, params)
    return dict(body), etag


def watch(
    client: AppClient,
    path: str,
    settled: Callable[[Document], bool],
    timeout: float | None = None,
    on_document: Callable[[Document], None] | None = None,
    any_change: bool = False,
    status_key: str = "status",
    poll_seconds: float = LONG_POLL_SECONDS,
) -> tuple[Document, bool]:
    """Follow the document at `path` until `settled` says so, calling `on_document` with each answer (the first,
    then one per change or per `poll_seconds`). With `any_change` every change is asked for (progress too), else
    only a change of `status_key`. Returns the last document and whether `timeout` seconds passed before it
    settled."""
    started = time.monotonic()
    document, etag = read(client, path)
    if on_document is not None:
        on_document(document)
    pause = FALLBACK_PAUSE_SECONDS
    while not settled(document):
        left = None if timeout is None else timeout - (time.monotonic() - started)
        if left is not None and left <= 0:
            return document, True
        bound = poll_seconds if left is None else min(poll_seconds, left)
        wait = etag if any_change and etag else str(document.get(status_key))
        asked = time.monotonic()
        latest, latest_etag = read(client, path, {"wait": wait, "timeout": f"{bound:.3f}"})
        changed = latest_etag != etag if any_change else latest.get(status_key) != document.get(status_key)
        if not changed and time.monotonic() - asked < bound / 2:
            time.sleep(pause if left is None else max(0.0, min(pause, left - (time.monotonic() - asked))))
            pause = min(pause * 1.5, MAX_FALLBACK_PAUSE_SECONDS)
        document, etag = latest, latest_etag
        if on_document is not None:
            on_document(document)
    return document, False
