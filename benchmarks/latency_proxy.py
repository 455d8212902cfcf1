"""A TCP proxy that adds a fixed one-way delay to every byte it forwards: Azure Storage's latency in front of Azurite.

    proxy = LatencyProxy(target_port=azurite_blob_port, one_way_ms=10)   # ~20 ms per request/response round trip
    proxy.start(); ... proxy.port ...; proxy.stop()

Each chunk read from one side is written to the other `one_way_ms` after it arrived, in order, so a request and its
response each wait once: latency, not bandwidth, and connections that overlap their waits overlap them here too
(what parallel lanes should gain from on Azure). `proxied_connection_string` rewrites an Azurite connection string
so every client of the benchmark (host instances, SDK, plain loops) goes through proxies, and `count` tells how many
requests (connections' request heads) went through, for the benchmark's requests-per-mini-batch figures, and
`kinds` counts them by method and path (shared.core.storage.request_kind), to see where they go.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections import Counter, deque

from shared.core.storage import request_kind


class LatencyProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target_port>, each chunk delayed by `one_way_ms`."""

    def __init__(self, target_port: int, one_way_ms: float) -> None:
        self.target_port = target_port
        self.delay = one_way_ms / 1000
        self.port = 0
        self.requests = 0  # HTTP request lines seen (client to server), for counting storage requests
        self.kinds: Counter[str] = Counter()  # the same, by shared.core.storage.request_kind
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> LatencyProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shut_down() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _listen(self) -> asyncio.AbstractServer:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer, count_requests=True),
                self._pump(server_reader, client_writer, count_requests=False),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            # stop(): end quietly (asyncio's server logs a traceback for a connection task that ends cancelled)
            client_writer.close()
            server_writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count_requests: bool) -> None:
        """Read as fast as data comes; write each chunk once its delay has passed (a second task keeps order)."""
        pending: deque[tuple[float, bytes]] = deque()
        arrived = asyncio.Event()
        done = False

        async def deliver() -> None:
            while True:
                while not pending:
                    if done:
                        return
                    arrived.clear()
                    await arrived.wait()
                due, chunk = pending.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if chunk:
                    writer.write(chunk)
                    await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                if count_requests:
                    for method, path in _REQUEST_LINE.findall(chunk):
                        self.requests += 1
                        self.kinds[request_kind(method.decode(), path.decode())] += 1
                pending.append((time.monotonic() + self.delay, chunk))
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            done = True
            arrived.set()
            with contextlib.suppress(ConnectionError, OSError):
                await delivering
            writer.close()


_REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|PUT|POST|DELETE|HEAD|PATCH|OPTIONS) (/\S*) HTTP/1\.1\r\n")


def proxied_connection_string(connection_string: str, proxies: dict[str, LatencyProxy]) -> str:
    """The connection string with each `<Service>Endpoint`'s port replaced by its proxy's (keys: Blob, Queue)."""

    def swap(match: re.Match[str]) -> str:
        service = match.group(1)
        proxy = proxies.get(service)
        return match.group(0) if proxy is None else f"{service}Endpoint=http://127.0.0.1:{proxy.port}/"

    return re.sub(r"(Blob|Queue|Table)Endpoint=http://127\.0\.0\.1:\d+/", swap, connection_string)


def endpoint_port(connection_string: str, service: str) -> int:
    """The port of `<service>Endpoint` in an Azurite connection string."""
    match = re.search(rf"{service}Endpoint=http://127\.0\.0\.1:(\d+)/", connection_string)
    if match is None:
        raise ValueError(f"no {service}Endpoint on 127.0.0.1 in the connection string")
    return int(match.group(1))
