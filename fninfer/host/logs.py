"""Console logging for a host instance, in Core Tools' shape: `[2026-11-22T09:00:00.123Z] message`.

Records emitted while an invocation runs (the function's own `logging` calls) are attributed to it, as the real
host does with its `Function.<name>.User` category: `[...Z] Functions.score (Id=<guid>): message`.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from fninfer.host.invoker import current_invocation


def utc_stamp(created: float) -> str:
    """`[2026-11-22T09:00:00.123Z]`: the prefix Core Tools puts on every host log line."""
    return "[" + datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z]"


class HostFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        invocation = current_invocation.get()
        if invocation is not None and not record.name.startswith("fninfer.host"):
            message = f"Functions.{invocation.function_name} (Id={invocation.invocation_id}): {message}"
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        return f"{utc_stamp(record.created)} {message}"


def configure_logging(level: int = logging.INFO) -> None:
    """Send every record to stdout (the supervisor forwards it) in the host's format."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(HostFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The storage SDK logs every HTTP request at INFO; the real host keeps those out of the console too.
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
