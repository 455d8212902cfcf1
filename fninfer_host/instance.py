"""One host instance: the process that plays the Functions host and its Python worker for one app.

Started by the supervisor (`fninfer start`), N of them per app. Each indexes `function_app.py`, serves HTTP on the
shared port (SO_REUSEPORT, so the kernel spreads connections across instances), and runs the queue, timer and blob
listeners. It prints READY_LINE once it serves, which is how the supervisor knows. Exit codes: 0 after a requested
stop, RESTART_EXIT_CODE when a function timeout asks for a fresh worker, STARTUP_EXIT_CODE when it could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from fninfer_host.admin import AdminApi
from fninfer_host.bindings import invalid_storage_names, missing_extensions
from fninfer_host.http_server import HttpApp
from fninfer_host.indexing import IndexingError, index_functions
from fninfer_host.invoker import Invoker
from fninfer_host.lifetime import watch_parent
from fninfer_host.logs import close_logging, configure_logging
from fninfer_host.options import HostConfigError, compute_host_id, load_host_options
from fninfer_host.routing import RouteTemplateError

log = logging.getLogger("fninfer_host")

READY_LINE = "Host started: instance ready"
RESTART_EXIT_CODE = 3
STARTUP_EXIT_CODE = 2
#: How long a stopping instance waits for its listeners to release their leases.
LISTENER_STOP_SECONDS = 5.0


def bind_shared_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket that every instance of the app binds at once (SO_REUSEPORT)."""
    # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it every response waits
    # ~40 ms for the client's delayed ACK (Nagle), since headers and body are written separately.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising SIGTERM/SIGINT once it has stopped.

    uvicorn re-raises a captured signal after a graceful shutdown, which kills the process before the instance
    stops its listeners; they would then keep their singleton leases until expiry, and the next `fninfer start`
    would wait that long for its timers and blob scans.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class Instance:
    def __init__(self, app_dir: Path, port: int, index: int) -> None:
        self.app_dir = app_dir
        self.port = port
        self.index = index
        self.exit_code = 0
        self.stop_listeners = threading.Event()
        self.server: _Server | None = None
        self.stopping = False

    def request_restart(self) -> None:
        """A function timed out: like the real host, replace the worker process (the supervisor starts a new one)."""
        self.exit_code = RESTART_EXIT_CODE
        if self.server is not None:
            self.server.should_exit = True

    def request_stop(self) -> None:
        """Stop as on SIGTERM (the supervisor is gone)."""
        self.stopping = True
        if self.server is not None:
            self.server.should_exit = True

    async def serve(self) -> None:
        options = load_host_options(self.app_dir)
        configure_logging(options.log_levels)
        functions = index_functions(self.app_dir)
        metadata = [(function.name, function.bindings) for function in functions]
        problem = missing_extensions(metadata, options.extension_bundle) or invalid_storage_names(metadata)
        if problem:
            raise IndexingError(problem)
        host_id = compute_host_id(self.app_dir)
        loop = asyncio.get_running_loop()
        invoker = Invoker(
            loop,
            str(self.app_dir),
            options.function_timeout,
            on_timeout=self.request_restart,
            log_levels=options.log_levels,
        )
        app = HttpApp(
            functions, options, invoker, AdminApi(functions, invoker, host_id, self.index, options.extension_bundle)
        )
        listeners = []
        if any(function.trigger_type != "httpTrigger" for function in functions):
            from fninfer_host.listeners import build_listeners

            listeners = build_listeners(functions, host_id, options, invoker)
        sock = bind_shared_socket(self.port)
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        self.server = _Server(config)
        self.server.should_exit = self.stopping
        threads = [
            threading.Thread(target=listener.run, args=(self.stop_listeners,), name=listener.name, daemon=True)
            for listener in listeners
        ]
        for thread in threads:
            thread.start()
        log.info("%s (index %d, host id %s, pid %d)", READY_LINE, self.index, host_id, os.getpid())
        try:
            await self.server.serve(sockets=[sock])
        finally:
            self.stop_listeners.set()
            deadline = time.monotonic() + LISTENER_STOP_SECONDS  # one budget for all: storage may be gone
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            invoker.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One fninfer host instance (started by `fninfer start`).")
    parser.add_argument("--app-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args(argv)
    configure_logging()
    instance = Instance(args.app_dir.resolve(), args.port, args.index)
    watch_parent(instance.request_stop)
    try:
        asyncio.run(instance.serve())
    except (IndexingError, HostConfigError, RouteTemplateError, OSError) as exc:
        close_logging()
        print(f"Error: {exc}", flush=True)
        sys.exit(STARTUP_EXIT_CODE)
    close_logging()
    sys.stdout.flush()
    # Threads of a timed-out invocation cannot be joined; leave without waiting for them.
    os._exit(instance.exit_code)


if __name__ == "__main__":
    main()
