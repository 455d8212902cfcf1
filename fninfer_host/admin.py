"""The host's `/admin/...` endpoints (notes §2): status, function metadata, and invoking non-HTTP functions.

`POST /admin/functions/<name>` with `{"input": "..."}` answers 202 at once and runs the invocation in the background:
a queue function gets an in-memory message with that body (nothing is enqueued), a timer function runs with
`past_due` false, a blob function gets the blob `container/name` read from storage.

`GET|POST /admin/warmup` runs the app's warmup-triggered function (named `warmup`), once per instance process, and
answers 200 when it has ended (later calls answer at once): what Azure calls on a Premium or Dedicated plan's new
instance before it routes requests to it, and what Core Tools leaves to the developer to call, as here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable
from typing import Any

import azure.functions as func
from azure.functions.blob import InputStream
from azure.functions.timer import TimerRequest
from azure.functions.warmup import WarmUpContext

from fninfer_host.bindings import ExtensionBundle
from fninfer_host.errors import HostError
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import FunctionTimeout, InvocationFailed, Invoker
from fninfer_host.settings import STORAGE_CONNECTION, storage_connection
from fninfer_host.storage import HostStorage, storage_errors

log = logging.getLogger("fninfer_host")

ADMIN_REASON = "This function was programmatically called via the host APIs."
HOST_VERSION = "4.0.0-fninfer"

Response = tuple[int, list[tuple[str, str]], bytes]


def json_response(status: int, document: Any) -> Response:
    return status, [("content-type", "application/json; charset=utf-8")], json.dumps(document).encode()


class AdminApi:
    def __init__(
        self,
        functions: list[IndexedFunction],
        invoker: Invoker,
        host_id: str,
        instance_index: int,
        extension_bundle: ExtensionBundle | None = None,
    ) -> None:
        self.extension_bundle = extension_bundle
        self.functions = {function.name.lower(): function for function in functions}
        self.invoker = invoker
        self.host_id = host_id
        self.instance_index = instance_index
        self.started = time.monotonic()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._warmup: asyncio.Task[None] | None = None

    async def handle(self, method: str, path: str, body: bytes) -> Response:
        parts = [part for part in path.split("/") if part][1:]  # after "admin"
        lowered = [part.lower() for part in parts]
        if lowered == ["host", "status"] and method == "GET":
            return json_response(200, self.status())
        if lowered == ["host", "ping"] and method in ("GET", "POST"):
            return 200, [], b""
        if lowered == ["warmup"] and method in ("GET", "POST"):
            await self.warm_up()
            return 200, [], b""
        if lowered == ["functions"] and method == "GET":
            return json_response(200, [self.describe(f) for f in self.functions.values()])
        if len(parts) == 2 and lowered[0] == "functions":
            function = self.functions.get(lowered[1])
            if function is None:
                return json_response(404, {"error": f"function '{parts[1]}' does not exist"})
            if method == "GET":
                return json_response(200, self.describe(function))
            if method == "POST":
                return self.invoke(function, body)
        return 404, [], b""

    async def warm_up(self) -> None:
        """Run the warmup function once per process; a caller while it runs waits for the same run."""
        function = next((f for f in self.functions.values() if f.trigger_type == "warmupTrigger"), None)
        if function is None:
            return
        if self._warmup is None:
            self._warmup = asyncio.ensure_future(self._invoke_warmup(function))
        await asyncio.shield(self._warmup)

    async def _invoke_warmup(self, function: IndexedFunction) -> None:
        # A failure is logged by the invoker; as in Azure, the instance serves anyway.
        with contextlib.suppress(InvocationFailed, FunctionTimeout):
            await self.invoker.invoke_async(function, WarmUpContext(), ADMIN_REASON)

    def status(self) -> dict[str, Any]:
        bundle = self.extension_bundle
        return {
            "id": self.host_id,
            "state": "Running",
            "version": HOST_VERSION,
            "versionDetails": f"fninfer local host, Python worker in process {os.getpid()}",
            "processUptime": int((time.monotonic() - self.started) * 1000),
            "instance": self.instance_index,
            "functionAppContentEditingState": "Unknown",
            **({"extensionBundle": {"id": bundle.id, "version": bundle.version}} if bundle else {}),
        }

    @staticmethod
    def describe(function: IndexedFunction) -> dict[str, Any]:
        return {"name": function.name, "trigger": function.trigger_type, "bindings": list(function.bindings)}

    def invoke(self, function: IndexedFunction, body: bytes) -> Response:
        try:
            document = json.loads(body) if body else None
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("input", ""), str):
            return json_response(400, {"error": 'the body must be JSON like {"input": "<string>"}'})
        if function.trigger_type == "httpTrigger":
            return json_response(400, {"error": f"'{function.name}' is an HTTP function: call its URL instead"})
        self._run_in_background(self._invoke(function, str(document.get("input", ""))))
        return 202, [], b""

    async def _invoke(self, function: IndexedFunction, text: str) -> None:
        try:
            value = await asyncio.to_thread(_trigger_value, function, text)
            await self.invoker.invoke_async(function, value, ADMIN_REASON)
        except (InvocationFailed, FunctionTimeout):
            pass  # already logged by the invoker
        except HostError as exc:
            log.error("Admin invocation of '%s' failed: %s", function.name, exc)

    def _run_in_background(self, coroutine: Awaitable[None]) -> None:
        # Keep a reference: the event loop holds tasks only weakly.
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _trigger_value(function: IndexedFunction, text: str) -> Any:
    if function.trigger_type == "queueTrigger":
        return func.QueueMessage(body=text.encode())
    if function.trigger_type == "timerTrigger":
        return TimerRequest(past_due=False, schedule_status={}, schedule={"AdjustForDST": True})
    container, _, blob_name = text.partition("/")
    storage = HostStorage.from_connection(storage_connection(function.trigger.get("connection") or STORAGE_CONNECTION))

    with storage_errors(f"blob {text!r}"):
        blob = storage.blobs.get_blob_client(container, blob_name)
        downloader = blob.download_blob()
        data = downloader.readall()
        return InputStream(
            data=data, name=text, uri=blob.url, length=len(data), metadata=dict(downloader.properties.metadata or {})
        )
