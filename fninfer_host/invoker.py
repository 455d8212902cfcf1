"""Run one function invocation with the Python worker's semantics, for every trigger kind.

- Sync functions run on a thread pool of `PYTHON_THREADPOOL_THREAD_COUNT` threads (default min(32, CPUs + 4));
  `async def` functions run on the instance's event loop.
- A `context` parameter gets a `func.Context` carrying the invocation id.
- `functionTimeout` bounds every invocation. Python threads cannot be killed, so on expiry the host does what the
  real one does for out-of-process workers: logs "Timeout value of ... exceeded", fails the invocation, and asks for
  the worker (this instance process) to be restarted; the supervisor starts a fresh one.
- Log lines follow Core Tools: `Executing 'Functions.<name>' (Reason='...', Id=<guid>)` then
  `Executed 'Functions.<name>' (Succeeded|Failed, Id=<guid>, Duration=<n>ms)`, in the category `Function.<name>`
  (host.json's `logging.logLevel` can turn them off: then no record is even made).
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
from typing import Any

import azure.functions as func

from fninfer_host.indexing import IndexedFunction
from fninfer_host.logs import Invocation, LogLevels, console, current_invocation, function_category

log = logging.getLogger("fninfer_host")


def _host_line(level: int, category: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
    """One of the host's lines about an invocation, in `category` (two per invocation, on the event loop). They are
    the host's lines, not the worker's logging: written to the instance's console as they are (making a LogRecord
    was most of a line's cost); a line with a traceback, or one with no console (an Invoker used in-process), is made
    as `log.log` makes it, minus the look up the stack for the caller's file and line, which no host line shows."""
    if not log.isEnabledFor(level):
        return
    writer = console()
    if writer is not None and exc_info is None:
        writer.write(time.time(), category, level, message % args if args else message)
        return
    record = log.makeRecord(log.name, level, __file__, 0, message, args, None, extra={"category": category})
    if exc_info is not None:
        record.exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    log.handle(record)


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
        log_levels: LogLevels | None = None,
    ) -> None:
        self.loop = loop
        self.app_dir = app_dir
        self.function_timeout = function_timeout
        self.on_timeout = on_timeout
        self.log_levels = log_levels or LogLevels()
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
        """Run one invocation from the event loop (the HTTP server). Raises InvocationFailed or FunctionTimeout.

        An `async def` function runs in the caller's task, with no task or thread of its own; a sync one on the
        pool. Either way `functionTimeout` is a deadline on this task, not a wrapper task."""
        invocation_id = str(uuid.uuid4())
        arguments = self._arguments(function, trigger_value, invocation_id)
        # Set in this task's context so log records from the function (async, or sync on the pool through the
        # copied context) name the invocation.
        current_invocation.set(Invocation(function.name, invocation_id))
        category = function_category(function.name)
        logged = self.log_levels.enabled(category, logging.INFO)  # cached per category: no record when off
        if logged:
            _host_line(
                logging.INFO,
                category,
                "Executing 'Functions.%s' (Reason='%s', Id=%s)",
                function.name,
                reason,
                invocation_id,
            )
            if details:
                _host_line(logging.INFO, category, "Trigger Details: %s", details)
        started = time.monotonic()
        deadline = asyncio.timeout(self.function_timeout)
        try:
            async with deadline:
                if function.is_async:
                    result = await function.callable(**arguments)
                else:
                    call = functools.partial(
                        contextvars.copy_context().run, functools.partial(function.callable, **arguments)
                    )
                    result = await self.loop.run_in_executor(self.pool, call)
        except TimeoutError as exc:
            if not deadline.expired():  # the function raised TimeoutError itself: its failure, not the host's
                self._log_end(function, invocation_id, started, exc)
                raise InvocationFailed(f"{type(exc).__name__}: {exc}") from exc
            self._timed_out(function, invocation_id, started)
            raise FunctionTimeout(function.name) from exc
        except Exception as exc:
            self._log_end(function, invocation_id, started, exc)
            raise InvocationFailed(f"{type(exc).__name__}: {exc}") from exc
        if logged:
            self._log_end(function, invocation_id, started, None)
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
            extra={"category": function_category(function.name)},
        )
        self._log_end(function, invocation_id, started, FunctionTimeout("timeout"))
        log.error(
            "A function timeout has occurred. Restarting worker process executing invocationId '%s'.", invocation_id
        )
        self.on_timeout()

    def _log_end(
        self, function: IndexedFunction, invocation_id: str, started: float, error: BaseException | None
    ) -> None:
        duration = int((time.monotonic() - started) * 1000)
        category = function_category(function.name)
        if error is None:
            _host_line(
                logging.INFO,
                category,
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                function.name,
                invocation_id,
                duration,
            )
        else:
            _host_line(
                logging.ERROR,
                category,
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n  %s: %s",
                function.name,
                invocation_id,
                duration,
                type(error).__name__,
                error,
                exc_info=error if not isinstance(error, FunctionTimeout) else None,
            )

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
