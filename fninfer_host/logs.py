"""Console logging for a host instance, in Core Tools' shape (`[2026-11-22T09:00:00.123Z] message`), filtered by
host.json's `logging.logLevel` and written off the event loop.

Categories, as the real host names them (notes §1, §6):
- `Function.<name>`: the host's lines about an invocation (Executing, Trigger Details, Executed, a timeout);
- `Function.<name>.User`: what the function's own code logs while it runs, from any logger, shown as
  `[...Z] Functions.<name> (Id=<guid>): message`;
- `Host.General`: the host's own lines outside invocations (start, listeners, ...);
- `Host.Function.Console`: what app code logs outside any invocation (background threads).
A category's level is the one of the longest configured prefix (`Function` covers `Function.score.User`), else
`default` (Information). Levels: Trace, Debug, Information, Warning, Error, Critical, None. `Host.Results` and
`Host.Aggregator` are accepted as the real host accepts them; they name Application Insights' telemetry, which
the local console has none of.

Writing: a record is filtered and its message rendered on the thread that logs it (the event loop, for the HTTP
path), then handed to a writer thread that stamps, formats and writes whatever has piled up in one write. A console
read slowly (the supervisor's pipe, a terminal) then never blocks the event loop.
"""

from __future__ import annotations

import contextvars
import logging
import math
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

#: host.json's level names (Microsoft.Extensions.Logging's LogLevel), as Python levels.
LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}
HOST_CATEGORY = "Host.General"
CONSOLE_CATEGORY = "Host.Function.Console"


@dataclass(frozen=True)
class Invocation:
    function_name: str
    invocation_id: str


#: The invocation whose code is running in this context, for attributing log records to it.
current_invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "current_invocation", default=None
)


_second: tuple[int, str] = (-1, "")  # the last whole second stamped, and its text up to the seconds


def utc_stamp(created: float) -> str:
    """`[2026-11-22T09:00:00.123Z]`: the prefix Core Tools puts on every host log line (the date and time are
    formatted once per second: lines come in bursts)."""
    global _second
    fraction, whole_seconds = math.modf(created)
    micros, whole = round(fraction * 1_000_000), int(whole_seconds)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        micros, whole = micros - 1_000_000, whole + 1
    second, text = _second
    if second != whole:
        text = datetime.fromtimestamp(whole, UTC).strftime("[%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)
    return f"{text}.{micros // 1000:03d}Z]"


def function_category(function_name: str) -> str:
    return f"Function.{function_name}"


@dataclass
class LogLevels:
    """host.json's `logging.logLevel`: the level of each category, by its longest configured prefix."""

    configured: Mapping[str, int] = field(default_factory=dict)  # lower-case category prefix -> level
    _cache: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, section: Mapping[str, Any], where: str = "host.json logging.logLevel") -> LogLevels:
        """From the `logLevel` object; a level that is not one of LEVELS is a ValueError naming the category."""
        configured = {}
        for category, name in section.items():
            level = LEVELS.get(str(name).lower())
            if level is None:
                raise ValueError(f"{where}.{category}: {name!r} is not one of {[n.title() for n in LEVELS]}")
            configured[str(category).lower()] = level
        return cls(configured)

    def level(self, category: str) -> int:
        found = self._cache.get(category)
        if found is None:
            key = category.lower()
            matches = [p for p in self.configured if p != "default" and (key == p or key.startswith(p + "."))]
            best = max(matches, key=len, default="default")
            found = self._cache[category] = self.configured.get(best, logging.INFO)
        return found

    def enabled(self, category: str, level: int) -> bool:
        return level >= self.level(category)

    def lowest(self) -> int:
        return min([logging.INFO, *self.configured.values()])


def category_of(record: logging.LogRecord, invocation: Invocation | None) -> str:
    explicit: str | None = getattr(record, "category", None)
    if explicit is not None:
        return explicit
    host = record.name == "fninfer_host" or record.name.startswith("fninfer_host.")
    if invocation is not None and not host:
        return f"{function_category(invocation.function_name)}.User"
    return HOST_CATEGORY if host else CONSOLE_CATEGORY


#: How long the writer lets lines pile up before writing them: one wake-up and one write per burst, not per line.
WRITE_DELAY = 0.05

_Line = tuple[float, str, "Invocation | None"]  # created, message, the invocation a user line is attributed to


class ConsoleHandler(logging.Handler):
    """Filters by category and renders the message on the logging thread; a thread of its own stamps and writes
    the lines (see the module's docstring). Logging a line costs the caller a list append: the writer is woken
    once per burst, not per line."""

    def __init__(self, stream: TextIO, levels: LogLevels | None = None) -> None:
        super().__init__(logging.NOTSET)
        self.stream = stream
        self.levels = levels or LogLevels()
        self._lines: list[_Line] = []
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._stopping = False
        self._writer = threading.Thread(target=self._write_forever, name="console-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        invocation = current_invocation.get()
        category = category_of(record, invocation)
        if record.levelno < self.levels.level(category):
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            self._append((record.created, message, invocation if category.endswith(".User") else None))
        except Exception:
            self.handleError(record)

    def write(self, created: float, category: str, level: int, message: str) -> None:
        """A host line without a record: what emit() does with a record in `category` whose message is `message`."""
        if level >= self.levels.level(category):
            self._append((created, message, None))

    def _append(self, line: _Line) -> None:
        with self._lock:
            self._lines.append(line)
            first = len(self._lines) == 1
        if first:  # the first line of a burst wakes the writer
            self._pending.set()

    def _write_forever(self) -> None:
        while True:
            self._pending.wait()
            # Read before taking the lines: once stop() was seen, every line queued before it is in this take.
            stopping = self._stopping
            if not stopping:
                time.sleep(WRITE_DELAY)
            with self._lock:
                if not self._stopping:  # a stop() since stays signalled: the next wait returns at once
                    self._pending.clear()
                lines, self._lines = self._lines, []
            if lines:
                try:
                    self.stream.write("".join(_render(*line) for line in lines))
                    self.stream.flush()
                except (OSError, ValueError):
                    pass  # the console is gone (the supervisor died): nothing to show the lines on
            if stopping:
                return

    def stop(self) -> None:
        """Write what is queued, then stop the writer (the instance is about to exit). Not `close()`: logging calls
        that on every handler when something reconfigures logging (uvicorn does, at start), and the console stays."""
        with self._lock:
            self._stopping = True
            self._pending.set()
        self._writer.join(timeout=5)


def _render(created: float, message: str, invocation: Invocation | None) -> str:
    if invocation is not None:
        message = f"Functions.{invocation.function_name} (Id={invocation.invocation_id}): {message}"
    return f"{utc_stamp(created)} {message}\n"


_console: ConsoleHandler | None = None


def console() -> ConsoleHandler | None:
    """The instance's console, once configure_logging made it."""
    return _console


def configure_logging(levels: LogLevels | None = None) -> ConsoleHandler:
    """Send every record to stdout (the supervisor forwards it) in the host's format, at host.json's levels; called
    again once host.json is read, it applies its levels."""
    global _console
    if _console is None:
        _console = ConsoleHandler(sys.stdout)
    if levels is not None:
        _console.levels = levels
    root = logging.getLogger()
    root.handlers[:] = [_console]
    root.setLevel(_console.levels.lowest())
    # The storage SDK logs every HTTP request at INFO; the real host keeps those out of the console too.
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    return _console


def close_logging() -> None:
    """Write every queued line before the process exits."""
    if _console is not None:
        _console.stop()
