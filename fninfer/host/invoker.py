"""Run one function invocation with the Python worker's semantics, for every trigger kind.

- Sync functions run on a thread pool of `PYTHON_THREADPOOL_THREAD_COUNT` threads (default min(32, CPUs + 4));
  `async def` functions run on the instance's event loop.
- A `context` parameter gets a `func.Context` carrying the invocation id.
- `functionTimeout` bounds every invocation. Python threads cannot be killed, so on expiry the host does what the
  real one does for out-of-process workers: logs "Timeout value of ... exceeded", fails the invocation, and asks for
  the worker (this instance process) to be restarted; the supervisor starts a fresh one.
- Log lines follow Core Tools: `Executing 'Functions.<name>' (Reason='...', Id=<guid>)` then
  `Executed 'Functions.<name>' (Succeeded|Failed, Id=<guid>, Duration=<n>ms)`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from fninfer.host.indexing import IndexedFunction

log = logging.getLogger("fninfer.host")


class FunctionTimeout(Exception):
    """The invocation ran past `functionTimeout`."""


class InvocationFailed(Exception):
    """The user function raised; the original exception is chained."""


def thread_pool_size(environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    default = min(32, (os.cpu_count() or 1) + 4)
    raw = env.get("PYTHON_THREADPOOL_THREAD_COUNT")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        log.warning("PYTHON_THREADPOOL_THREAD_COUNT=%r is not a positive integer; using %d", raw, default)
        return default
    return value


class _Context(func.Context):
    """The `context` argument (azure.functions only ships the abstract type)."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()
        self._thread_local_storage.invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class Invoker:
    """Runs invocations for one host instance; shared by the HTTP server and every listener."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app_dir: str,
        function_timeout: float | None,
        on_timeout: Callable[[], None],
        pool_size: int | None = None,
    ) -> None:
        self.loop = loop
        self.app_dir = app_dir
        self.function_timeout = function_timeout
        self.on_timeout = on_timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=pool_size or thread_pool_size(), thread_name_prefix="invocation"
        )

    def _arguments(self, function: IndexedFunction, trigger_value: Any, invocation_id: str) -> dict[str, Any]:
        arguments = {function.trigger_arg: trigger_value}
        if function.wants_context:
            arguments["context"] = _Context(invocation_id, function.name, self.app_dir)
        return arguments

    async def invoke_async(
        self, function: IndexedFunction, trigger_value: Any, reason: str, details: str | None = None
    ) -> Any:
        """Run one invocation from the event loop (the HTTP server). Raises InvocationFailed or FunctionTimeout."""
        invocation_id = str(uuid.uuid4())
        arguments = self._arguments(function, trigger_value, invocation_id)
        # Set in this task's context so log records from the function (async, or sync on the pool through the
        # copied context) name the invocation.
        current_invocation.set(Invocation(function.name, invocation_id))
        started = _log_start(function, reason, invocation_id, details)
        try:
            if function.is_async:
                awaitable = function.callable(**arguments)
            else:
                call = functools.partial(
                    contextvars.copy_context().run, functools.partial(function.callable, **arguments)
                )
                awaitable = self.loop.run_in_executor(self.pool, call)
            result = await asyncio.wait_for(awaitable, self.function_timeout)
        except TimeoutError as exc:
            self._timed_out(function, invocation_id, started)
            raise FunctionTimeout(function.name) from exc
        except Exception as exc:
            _log_end(function, invocation_id, started, exc)
            raise InvocationFailed(f"{type(exc).__name__}: {exc}") from exc
        _log_end(function, invocation_id, started, None)
        return result

    def invoke(self, function: IndexedFunction, trigger_value: Any, reason: str, details: str | None = None) -> Any:
        """Run one invocation from a listener thread and wait for it. Raises InvocationFailed or FunctionTimeout."""
        coroutine = self.invoke_async(function, trigger_value, reason, details)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _timed_out(self, function: IndexedFunction, invocation_id: str, started: float) -> None:
        log.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). Initiating cancellation.",
            _timespan(self.function_timeout or 0),
            function.name,
            invocation_id,
        )
        _log_end(function, invocation_id, started, FunctionTimeout("timeout"))
        log.error(
            "A function timeout has occurred. Restarting worker process executing invocationId '%s'.", invocation_id
        )
        self.on_timeout()

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Invocation:
    function_name: str
    invocation_id: str


#: The invocation whose code is running in this context, for attributing log records to it.
current_invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "current_invocation", default=None
)


def _log_start(function: IndexedFunction, reason: str, invocation_id: str, details: str | None) -> float:
    log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id)
    if details:
        log.info("Trigger Details: %s", details)
    return time.monotonic()


def _log_end(function: IndexedFunction, invocation_id: str, started: float, error: BaseException | None) -> None:
    duration = int((time.monotonic() - started) * 1000)
    if error is None:
        log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", function.name, invocation_id, duration)
    else:
        log.error(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n  %s: %s",
            function.name,
            invocation_id,
            duration,
            type(error).__name__,
            error,
            exc_info=error if not isinstance(error, FunctionTimeout) else None,
        )


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
