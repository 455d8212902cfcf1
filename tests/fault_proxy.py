"""An HTTP/1.1 proxy in front of one Azurite service that breaks storage on demand, for the chaos tests.

    proxy = FaultProxy(target_port=azurite.blob_port, seed=7).start()
    ... clients use proxy.port ...
    proxy.down(5)                 # refuse connections and cut open ones for 5 s: storage unreachable
    proxy.errors(0.2, seconds=10) # answer 503 ServerBusy to a fifth of the requests (seeded) for 10 s
    proxy.swallow("/lanes/1/")    # answer 201 to PUTs whose path has this, without passing them on: a write
                                  # storage acknowledges and never keeps
    proxy.retarget(new_port)      # a restarted Azurite on other ports
    proxy.stop()

Requests are parsed with h11, one upstream connection per client connection, so each request is decided on alone.
`connection_string` rewrites an Azurite connection string's Blob and Queue endpoints to proxies.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time

import h11

_SWALLOWED_HEADERS = [
    (b"content-length", b"0"),
    (b"etag", b'"0x8DEADBEEF0000"'),
    (b"last-modified", b"Sat, 05 Dec 2026 00:00:00 GMT"),
    (b"x-ms-request-server-encrypted", b"true"),
]


class FaultProxy:
    def __init__(self, target_port: int, seed: int = 0) -> None:
        self.target_port = target_port
        self.port = 0
        self.requests = 0
        self.injected = 0  # requests answered 503 or cut
        self._random = random.Random(seed)
        self._down_until = 0.0
        self._error_fraction = 0.0
        self._errors_until = 0.0
        self._swallow: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- control (from any thread) ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shut_down() -> None:
            if self._server is not None:
                self._server.close()
            self._cut_all()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def down(self, seconds: float) -> None:
        """Storage unreachable for `seconds`: new connections are refused (closed at once), open ones are cut."""
        self._down_until = time.monotonic() + seconds
        self._loop.call_soon_threadsafe(self._cut_all)

    def errors(self, fraction: float, seconds: float) -> None:
        """Answer `fraction` of the requests 503 (ServerBusy) for `seconds`."""
        self._error_fraction, self._errors_until = fraction, time.monotonic() + seconds

    def swallow(self, path_part: str | None) -> None:
        """Acknowledge PUTs whose path contains `path_part` without passing them on (None: stop)."""
        self._swallow = path_part

    def retarget(self, target_port: int) -> None:
        self.target_port = target_port

    # -- the proxy ---------------------------------------------------------------------------------------------

    def _is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _listen(self) -> asyncio.AbstractServer:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._is_down():
            writer.transport.abort()
            return
        self._writers.add(writer)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        client = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(client, reader)
                if request is None:
                    return
                head, body = request
                self.requests += 1
                if self._is_down():
                    return
                if time.monotonic() < self._errors_until and self._random.random() < self._error_fraction:
                    self.injected += 1
                    await self._answer(client, writer, 503, [(b"x-ms-error-code", b"ServerBusy")], b"")
                elif self._swallow and head.method == b"PUT" and self._swallow in head.target.decode():
                    self.injected += 1
                    await self._answer(client, writer, 201, list(_SWALLOWED_HEADERS), b"")
                else:
                    if upstream is None:
                        upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
                        self._writers.add(upstream[1])
                        server = h11.Connection(h11.CLIENT)
                    response = await self._forward(server, upstream, head, body)
                    if response is None:
                        return
                    status, headers, data = response
                    if head.method != b"HEAD" and not any(n.lower() == b"content-length" for n, _ in headers):
                        headers.append((b"content-length", str(len(data)).encode()))  # it came chunked
                    await self._answer(client, writer, status, headers, data)
                    if server.our_state is h11.MUST_CLOSE or server.their_state is h11.MUST_CLOSE:
                        upstream[1].close()
                        self._writers.discard(upstream[1])
                        upstream = None
                    else:
                        server.start_next_cycle()
                if client.our_state is h11.MUST_CLOSE:
                    return
                client.start_next_cycle()
        except (ConnectionError, OSError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # stop(): end quietly (asyncio logs a connection task that ends cancelled)
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            if upstream is not None:
                self._writers.discard(upstream[1])
                upstream[1].transport.abort()

    async def _read_request(
        self, client: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        head: h11.Request | None = None
        body = b""
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data and client.their_state is h11.IDLE:
                    return None
                client.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, body
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _forward(
        self,
        server: h11.Connection,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        head: h11.Request,
        body: bytes,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        up_reader, up_writer = upstream
        headers = [(name, value) for name, value in head.headers if name.lower() != b"transfer-encoding"]
        if body or head.method in (b"PUT", b"POST"):
            headers = [(name, value) for name, value in headers if name.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        data = server.send(h11.Request(method=head.method, target=head.target, headers=headers))
        if body:
            data += server.send(h11.Data(data=body))
        data += server.send(h11.EndOfMessage())
        up_writer.write(data)
        await up_writer.drain()
        status, response_headers, response_body = 0, [], b""
        while True:
            event = server.next_event()
            if event is h11.NEED_DATA:
                chunk = await up_reader.read(65536)
                server.receive_data(chunk)
                if not chunk and server.their_state is not h11.DONE:
                    return None
            elif isinstance(event, h11.Response):
                status, response_headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                response_body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, response_headers, response_body
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _answer(
        self,
        client: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        kept = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
        if not any(n.lower() == b"content-length" for n, _ in kept):
            kept.append((b"content-length", str(len(body)).encode()))
        data = client.send(h11.Response(status_code=status, headers=kept))
        if body:
            data += client.send(h11.Data(data=body))
        data += client.send(h11.EndOfMessage())
        writer.write(data)
        await writer.drain()


def connection_string(connection_string: str, blob: FaultProxy, queue: FaultProxy) -> str:
    """The Azurite connection string with its Blob and Queue endpoints moved to the proxies."""
    for service, proxy in (("Blob", blob), ("Queue", queue)):
        connection_string = re.sub(
            rf"{service}Endpoint=http://127\.0\.0\.1:\d+/",
            f"{service}Endpoint=http://127.0.0.1:{proxy.port}/",
            connection_string,
        )
    return connection_string
