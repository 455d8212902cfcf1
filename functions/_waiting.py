"""`?wait=` on a GET of a run or a service: the HTTP side of shared/core/watch.py's long polls.

    GET <resource>                          the document now, with its ETag
    GET <resource>?wait=<ETag>[&timeout=s]  once the document's ETag differs from this one (any change)
    GET <resource>?wait=<status>[&timeout=s]  once its status differs from this one (`Running`, `Transitioning`)

Either way the answer is a 200 with the document and its ETag; after `timeout` seconds (default 20, at most 60)
without the change it is the document as it is, and the caller asks again. The handlers are `async`: a waiting
request holds no thread of the instance's pool.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable

import azure.functions as func

from shared.core.errors import InvalidInput
from shared.core.storage import app_storage
from shared.core.watch import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, Blob, Document, Until, etag_of, long_poll


def _timeout(req: func.HttpRequest) -> float:
    raw = req.params.get("timeout")
    if raw is None:
        return DEFAULT_WAIT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise InvalidInput(f"'timeout' must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}", field="timeout")
    return seconds


async def watched(
    req: func.HttpRequest,
    read: Callable[[], Document],
    primary: list[Blob],
    status_key: str = "status",
    secondary: Callable[[Document], list[Blob]] | None = None,
) -> func.HttpResponse:
    """Answer a GET of the document `read` makes, waiting first when the request says `?wait=` (see above).
    `primary`: the blobs its status comes from; `secondary`: the others it shows."""
    wait, timeout = req.params.get("wait"), _timeout(req)
    if wait is None:
        document = await asyncio.to_thread(read)
    else:
        if not wait.strip():
            raise InvalidInput("'wait' must be an ETag (as the ETag header gives it) or a status", field="wait")
        until = Until.parse(wait, status_key)
        document = await long_poll(app_storage(), read, primary, until, timeout, secondary)
    return func.HttpResponse(
        json.dumps(document), status_code=200, mimetype="application/json", headers={"ETag": etag_of(document)}
    )
