"""The blob trigger (notes §5): a singleton scanner that notices blob versions, and a queue every instance drains.

Scanner (one per host ID, under a lease): every `blob_scan_interval` it lists each watched container; a blob written
since the previous sweep (cursor in `blobscaninfo/...`) is a candidate. For each function whose `path` matches, a
receipt `blobreceipts/<host id>/Host.Functions.<f>/<etag>/<container>/<blob>` is created with If-None-Match (flagged
`Incomplete`), a message is put on `azure-webjobs-blobtrigger-<host id>`, and the flag is removed. A receipt means
"queued once", so each blob version (ETag) is processed once; a rewrite gets a new ETag and triggers again.

Executor (every instance): a queue listener on that queue. It drops messages whose function is unknown, whose blob
is gone or whose ETag changed (the scanner reports the new version), invokes with `func.InputStream`, and after
`poisonBlobThreshold` failures moves the message to `webjobs-blobtrigger-poison`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.blob import InputStream

from fninfer_host import storage_names
from fninfer_host.errors import HostError
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import Invoker
from fninfer_host.leases import SingletonLease
from fninfer_host.options import HostOptions, QueueOptions, resolve_app_settings
from fninfer_host.queues import QueueListener
from fninfer_host.storage import HostStorage

log = logging.getLogger("fninfer_host")


class BlobPathError(ValueError):
    """A blob trigger `path` is malformed."""


@dataclass(frozen=True)
class BlobPattern:
    container: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, path: str) -> BlobPattern:
        container, _, pattern = path.strip("/").partition("/")
        if not container or "{" in container:
            raise BlobPathError(f"blob trigger path {path!r} must start with a literal container name")
        regex, index = "", 0
        while index < len(pattern):
            if pattern.startswith("{{", index) or pattern.startswith("}}", index):
                regex += re.escape(pattern[index])
                index += 2
            elif pattern[index] == "{":
                end = pattern.find("}", index)
                if end < 0:
                    raise BlobPathError(f"blob trigger path {path!r} has an unclosed '{{'")
                name = pattern[index + 1 : end]
                # Greedy and crossing '/': in "{name}.{ext}" the name takes everything up to the last dot.
                regex += f"(?P<{name}>.*)" if name.isidentifier() else ".*"
                index = end + 1
            else:
                regex += re.escape(pattern[index])
                index += 1
        return cls(container, re.compile(regex or ".*"))

    def matches(self, container: str, blob_name: str) -> bool:
        return container == self.container and self.regex.fullmatch(blob_name) is not None


def quoted_etag(etag: object) -> str:
    """ETags as the host writes them in receipts and messages: with their quotes (the SDK strips them sometimes)."""
    return '"' + str(etag).strip('"') + '"'


def _account_name(storage: HostStorage) -> str:
    return str(storage.blobs.account_name or "account")


class BlobScanner:
    def __init__(
        self,
        functions: list[IndexedFunction],
        storage: HostStorage,
        host_id: str,
        scan_interval: float,
        lock_period: float,
        recovery_interval: float,
        holder: str,
    ) -> None:
        self.name = "blob-scanner"
        self.functions = [
            (function, BlobPattern.parse(resolve_app_settings(str(function.trigger["path"])))) for function in functions
        ]
        self.storage = storage
        self.host_id = host_id
        self.scan_interval = scan_interval
        self.recovery_interval = recovery_interval
        self.lease = SingletonLease(storage, storage_names.blob_scan_lock(host_id), lock_period, holder)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.lease.try_acquire():
                stop.wait(self.recovery_interval)
                continue
            try:
                self.scan()
            except (AzureError, HostError) as exc:
                log.warning("Blob scan failed: %s", exc)
            stop.wait(self.scan_interval)
        self.lease.release()

    def scan(self) -> int:
        """One sweep of every watched container; returns how many blob versions it queued."""
        queued = 0
        for container in sorted({pattern.container for _, pattern in self.functions}):
            info_path = storage_names.blob_scan_info(self.host_id, _account_name(self.storage), container)
            info = self.storage.read_json(storage_names.HOSTS_CONTAINER, info_path)
            since = datetime.fromisoformat(info["LatestScan"]) if info else None
            client = self.storage.blobs.get_container_client(container)
            newest = since
            try:
                blobs = list(client.list_blobs())
            except ResourceNotFoundError:
                continue
            for blob in blobs:
                if since is not None and blob.last_modified < since:
                    continue
                newest = blob.last_modified if newest is None else max(newest, blob.last_modified)
                for function, pattern in self.functions:
                    if pattern.matches(container, blob.name):
                        queued += self.notify(function, container, blob.name, quoted_etag(blob.etag))
            if newest is not None and newest != since:
                # Stored 1 ms early, as the host does, so a blob written in the same millisecond is seen again.
                marker = {"LatestScan": (newest - timedelta(milliseconds=1)).isoformat()}
                self.storage.write_json(storage_names.HOSTS_CONTAINER, info_path, marker)
        return queued

    def notify(self, function: IndexedFunction, container: str, blob_name: str, etag: str) -> int:
        receipts = self.storage.container(storage_names.HOSTS_CONTAINER)
        receipt = receipts.get_blob_client(
            storage_names.blob_receipt(self.host_id, function.name, etag, container, blob_name)
        )
        try:
            receipt.upload_blob(b"", overwrite=False, metadata={"Incomplete": "true"})
        except ResourceExistsError:
            if "Incomplete" not in (receipt.get_blob_properties().metadata or {}):
                return 0  # this version was queued already
            # A scanner died between creating the receipt and queuing: queue it now.
        message = {
            "Type": "BlobTrigger",
            "FunctionId": storage_names.function_id(function.name),
            "BlobType": "BlockBlob",
            "ContainerName": container,
            "BlobName": blob_name,
            "ETag": etag,
        }
        queue = self.storage.queue(storage_names.blob_trigger_queue(self.host_id))
        queue.send_message(base64.b64encode(json.dumps(message).encode()).decode())
        receipt.set_blob_metadata({})
        return 1


def blob_executor(
    functions: list[IndexedFunction], storage: HostStorage, host_id: str, options: HostOptions, invoker: Invoker
) -> QueueListener:
    """The listener every instance runs on the shared blob-trigger queue."""
    by_id = {storage_names.function_id(function.name): function for function in functions}
    parallelism = options.blobs.max_degree_of_parallelism
    batch_size = min(32, parallelism // 2 + 1)
    queue_options = QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=max(0, parallelism - batch_size),
        max_polling_interval=options.queues.max_polling_interval,
        visibility_timeout=0.0,
        max_dequeue_count=options.blobs.poison_blob_threshold,
        message_encoding="base64",
    )

    def handle(message: func.QueueMessage) -> None:
        document = json.loads(message.get_body())
        function = by_id.get(document.get("FunctionId", ""))
        if function is None:
            log.debug("Dropping blob trigger message %s: function %s is gone", message.id, document.get("FunctionId"))
            return
        container, blob_name = document["ContainerName"], document["BlobName"]
        blob = storage.blobs.get_blob_client(container, blob_name)
        try:
            properties = blob.get_blob_properties()
        except ResourceNotFoundError:
            log.debug("Dropping blob trigger message %s: %s/%s was deleted", message.id, container, blob_name)
            return
        if quoted_etag(properties.etag) != document["ETag"]:
            log.debug("Dropping blob trigger message %s: %s/%s changed since", message.id, container, blob_name)
            return  # the scanner queues the new version
        data = blob.download_blob().readall()
        stream = InputStream(
            data=data,
            name=f"{container}/{blob_name}",
            uri=blob.url,
            length=len(data),
            blob_properties={
                "ETag": quoted_etag(properties.etag),
                "LastModified": properties.last_modified.isoformat(),
            },
            metadata=dict(properties.metadata or {}),
        )
        invoker.invoke(
            function,
            stream,
            f"New blob detected(LogsAndContainerScan): {container}/{blob_name}",
            f"MessageId: {message.id}, DequeueCount: {message.dequeue_count}",
        )

    return QueueListener(
        "blob-executor",
        storage,
        storage_names.blob_trigger_queue(host_id),
        handle,
        queue_options,
        poison_queue=storage_names.BLOB_POISON_QUEUE,
    )
