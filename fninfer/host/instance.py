"""One host instance: the process that plays the Functions host and its Python worker for one app.

Started by the supervisor (`fninfer start`), N of them per app. Each indexes `function_app.py`, serves HTTP on the
shared port (SO_REUSEPORT, so the kernel spreads connections across instances), and runs the queue, timer and blob
listeners. It prints READY_LINE once it serves, which is how the supervisor knows. Exit codes: 0 after a requested
stop, RESTART_EXIT_CODE when a function timeout asks for a fresh worker, STARTUP_EXIT_CODE when it could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import threading
from pathlib import Path

import uvicorn

from fninfer.host.admin import AdminApi
from fninfer.host.http_server import HttpApp
from fninfer.host.indexing import IndexedFunction, IndexingError, index_functions
from fninfer.host.invoker import Invoker
from fninfer.host.logs import configure_logging
from fninfer.host.options import HostConfigError, HostOptions, compute_host_id, load_host_options
from fninfer.host.routing import RouteTemplateError

log = logging.getLogger("fninfer.host")

READY_LINE = "Host started: instance ready"
RESTART_EXIT_CODE = 3
STARTUP_EXIT_CODE = 2


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


def describe_functions(functions: list[IndexedFunction], options: HostOptions, port: int) -> list[str]:
    """The function list Core Tools prints at start."""
    lines = ["Functions:", ""]
    for function in functions:
        if function.trigger_type == "httpTrigger":
            methods = ",".join(function.trigger.get("methods") or ["ALL"])
            route = str(function.trigger.get("route") or function.name)
            prefix = f"/{options.route_prefix}" if options.route_prefix else ""
            lines.append(f"        {function.name}: [{methods}] http://127.0.0.1:{port}{prefix}/{route}")
        else:
            lines.append(f"        {function.name}: {function.trigger_type}")
    return lines


class Instance:
    def __init__(self, app_dir: Path, port: int, index: int, banner: bool) -> None:
        self.app_dir = app_dir
        self.banner = banner
        self.port = port
        self.index = index
        self.exit_code = 0
        self.stop_listeners = threading.Event()
        self.server: uvicorn.Server | None = None

    def request_restart(self) -> None:
        """A function timed out: like the real host, replace the worker process (the supervisor starts a new one)."""
        self.exit_code = RESTART_EXIT_CODE
        if self.server is not None:
            self.server.should_exit = True

    async def serve(self) -> None:
        options = load_host_options(self.app_dir)
        functions = index_functions(self.app_dir)
        host_id = compute_host_id(self.app_dir)
        loop = asyncio.get_running_loop()
        invoker = Invoker(loop, str(self.app_dir), options.function_timeout, on_timeout=self.request_restart)
        app = HttpApp(functions, options, invoker, AdminApi(functions, invoker, host_id, self.index))
        listeners = []
        if any(function.trigger_type != "httpTrigger" for function in functions):
            from fninfer.host.listeners import build_listeners

            listeners = build_listeners(functions, host_id, options, invoker)
        sock = bind_shared_socket(self.port)
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        threads = [
            threading.Thread(target=listener.run, args=(self.stop_listeners,), name=listener.name, daemon=True)
            for listener in listeners
        ]
        if self.banner:
            for line in describe_functions(functions, options, self.port):
                print(line, flush=True)
        for thread in threads:
            thread.start()
        log.info("%s (index %d, host id %s, pid %d)", READY_LINE, self.index, host_id, os.getpid())
        try:
            await self.server.serve(sockets=[sock])
        finally:
            self.stop_listeners.set()
            for thread in threads:
                thread.join(timeout=5)
            invoker.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One fninfer host instance (started by `fninfer start`).")
    parser.add_argument("--app-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--banner", action="store_true", help="print the function list (the first instance)")
    args = parser.parse_args(argv)
    configure_logging()
    instance = Instance(args.app_dir.resolve(), args.port, args.index, args.banner)
    try:
        asyncio.run(instance.serve())
    except (IndexingError, HostConfigError, RouteTemplateError, OSError) as exc:
        print(f"Error: {exc}", flush=True)
        sys.exit(STARTUP_EXIT_CODE)
    sys.stdout.flush()
    # Threads of a timed-out invocation cannot be joined; leave without waiting for them.
    os._exit(instance.exit_code)


if __name__ == "__main__":
    main()
