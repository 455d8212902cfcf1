"""What a service's init() and run() print or log, collected per host instance and readable across instances.

While service code runs, `capture(service)` routes `print` output and `logging` records (from that thread) into the
service's buffer (with the capture every entry script has: shared/core/user_scripts.py); a background thread appends
buffers every second to `fninfer-logs/services/<name>/<instance>.log` (an append blob per instance, so instances
never contend). `read_logs` merges every instance's lines by time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

from azure.core.exceptions import AzureError, ResourceExistsError

from shared.core import clock, layout
from shared.core.storage import Storage, storage_errors
from shared.core.user_scripts import capturing

FLUSH_INTERVAL = 1.0


def instance_name() -> str:
    """This host instance, as the log blob is named: the platform's instance id in Azure, else index and pid."""
    explicit = os.environ.get("WEBSITE_INSTANCE_ID")
    if explicit:
        return explicit[:32]
    return f"i{os.environ.get('FNINFER_INSTANCE_INDEX', '0')}-{os.getpid()}"


class _ServiceSink:
    """Where a service's user code writes (shared/core/user_scripts.py routes it here): its log buffer, and through to
    the host's console."""

    echo = True
    formatter = logging.Formatter("%(levelname)s:%(name)s:%(message)s")

    def __init__(self, collector: ServiceLogs, service: str) -> None:
        self._collector = collector
        self._service = service

    def write(self, text: str) -> None:
        if text.strip():
            self._collector.add(self._service, text.rstrip("\n"))


class ServiceLogs:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.instance = instance_name()
        self._buffers: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._created: set[str] = set()
        self._sinks: dict[str, _ServiceSink] = {}
        self._flusher: threading.Thread | None = None

    def install(self) -> None:
        """Start the background flusher (once)."""
        if self._flusher is not None:
            return
        self._flusher = threading.Thread(target=self._flush_forever, name="service-logs", daemon=True)
        self._flusher.start()

    def sink(self, service: str) -> _ServiceSink:
        """Where `service`'s user code writes (see shared/core/user_scripts.py)."""
        sink = self._sinks.get(service)
        if sink is None:
            sink = self._sinks.setdefault(service, _ServiceSink(self, service))
        return sink

    def capture(self, service: str) -> contextlib.AbstractContextManager[None]:
        """While the block runs, what this thread prints or logs goes to `service`'s log (and the console)."""
        return capturing(self.sink(service))

    def add(self, service: str, text: str) -> None:
        stamp = clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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


def tail_logs(storage: Storage, service: str, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of every instance's log for `service` (at most `max_bytes` of each, whole lines), merged in
    time order: what a page shows without reading a long log whole."""
    lines: list[str] = []
    container = storage.container(layout.LOGS_CONTAINER)
    with storage_errors(f"the logs of service {service!r}"):
        for blob in container.list_blobs(name_starts_with=layout.service_logs_prefix(service)):
            if not blob.size:
                continue
            start = max(0, int(blob.size) - max_bytes)
            text = container.download_blob(blob.name, offset=start).readall().decode(errors="replace")
            found = text.splitlines()
            lines.extend(found[1:] if start else found)  # the first line read mid-way is cut: left out
    return sorted(lines, key=lambda line: line[:27])


def read_logs(storage: Storage, service: str) -> str:
    """Every instance's log lines for `service`, merged in time order."""
    lines: list[str] = []
    container = storage.container(layout.LOGS_CONTAINER)
    for name in storage.list_names(layout.LOGS_CONTAINER, layout.service_logs_prefix(service)):
        lines.extend(container.download_blob(name).readall().decode(errors="replace").splitlines())
    # Continuation lines of a multi-line entry share its timestamp, so a stable sort keeps them together.
    return "\n".join(sorted(lines, key=lambda line: line[:27]))
