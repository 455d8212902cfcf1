"""What a service's init() and run() print or log, collected per host instance and readable across instances.

While service code runs, `capture(service)` routes `print` output and `logging` records (from that thread) into the
service's buffer; a background thread appends buffers every second to `fninfer-logs/services/<name>/<instance>.log`
(an append blob per instance, so instances never contend). `read_logs` merges every instance's lines by time.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from azure.core.exceptions import AzureError, ResourceExistsError

from shared import layout
from shared.storage import Storage

FLUSH_INTERVAL = 1.0

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("fninfer_service_log", default=None)


def instance_name() -> str:
    """This host instance, as the log blob is named: the platform's instance id in Azure, else index and pid."""
    explicit = os.environ.get("WEBSITE_INSTANCE_ID")
    if explicit:
        return explicit[:32]
    return f"i{os.environ.get('FNINFER_INSTANCE_INDEX', '0')}-{os.getpid()}"


class _RoutingStream:
    """Stands in for sys.stdout/sys.stderr: service code's writes also go to its log buffer."""

    def __init__(self, original: TextIO, collector: ServiceLogs) -> None:
        self._original = original
        self._collector = collector

    def write(self, text: str) -> int:
        service = _current.get()
        if service is not None and text.strip():
            self._collector.add(service, text.rstrip("\n"))
        return self._original.write(text)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._original, name)


class _RoutingHandler(logging.Handler):
    def __init__(self, collector: ServiceLogs) -> None:
        super().__init__(logging.DEBUG)
        self._collector = collector

    def emit(self, record: logging.LogRecord) -> None:
        service = _current.get()
        if service is not None:
            message = f"{record.levelname}:{record.name}:{record.getMessage()}"
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self._collector.add(service, message)


class ServiceLogs:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.instance = instance_name()
        self._buffers: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._created: set[str] = set()
        self._flusher: threading.Thread | None = None

    def install(self) -> None:
        """Route output once per process and start the background flusher."""
        if self._flusher is not None:
            return
        sys.stdout = _RoutingStream(sys.stdout, self)  # type: ignore[assignment]
        sys.stderr = _RoutingStream(sys.stderr, self)  # type: ignore[assignment]
        logging.getLogger().addHandler(_RoutingHandler(self))
        self._flusher = threading.Thread(target=self._flush_forever, name="service-logs", daemon=True)
        self._flusher.start()

    @contextlib.contextmanager
    def capture(self, service: str) -> Iterator[None]:
        token = _current.set(service)
        try:
            yield
        finally:
            _current.reset(token)

    def add(self, service: str, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines = [f"{stamp} {line}" for line in text.splitlines() or [""]]
        with self._lock:
            self._buffers.setdefault(service, []).extend(lines)

    def flush(self) -> None:
        with self._lock:
            pending, self._buffers = self._buffers, {}
        for service, lines in pending.items():
            blob = self.storage.container(layout.LOGS_CONTAINER).get_blob_client(
                layout.service_log(service, self.instance)
            )
            try:
                if blob.blob_name not in self._created:
                    with contextlib.suppress(ResourceExistsError):
                        blob.create_append_blob(if_none_match="*")
                    self._created.add(blob.blob_name)
                data = ("\n".join(lines) + "\n").encode()
                for start in range(0, len(data), 4 * 1024 * 1024):  # an append block holds at most 4 MiB
                    blob.append_block(data[start : start + 4 * 1024 * 1024])
            except AzureError as exc:
                sys.__stderr__.write(f"fninfer: writing logs of service {service!r} failed: {exc}\n")

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL)
            self.flush()


def read_logs(storage: Storage, service: str) -> str:
    """Every instance's log lines for `service`, merged in time order."""
    lines: list[str] = []
    container = storage.container(layout.LOGS_CONTAINER)
    for name in storage.list_names(layout.LOGS_CONTAINER, layout.service_logs_prefix(service)):
        lines.extend(container.download_blob(name).readall().decode(errors="replace").splitlines())
    # Continuation lines of a multi-line entry share its timestamp, so a stable sort keeps them together.
    return "\n".join(sorted(lines, key=lambda line: line[:27]))
