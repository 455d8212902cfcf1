"""The blob trigger in process on a real Azurite: scanner, receipts and executor as `build_listeners` wires them."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from fninfer_host import storage_names
from fninfer_host.azurite import Azurite
from fninfer_host.blobs import BlobPattern
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import Invoker
from fninfer_host.listeners import build_listeners
from fninfer_host.options import BlobOptions, HostOptions, QueueOptions
from shared.core.storage import Storage
from tests.hosting import eventually

OPTIONS = HostOptions(
    queues=QueueOptions(max_polling_interval=0.2),
    blobs=BlobOptions(poison_blob_threshold=2),
    listener_lock_period=15,
    listener_lock_recovery_polling_interval=0.5,
    blob_scan_interval=0.3,
)
#: What the function saw: name, length, content, metadata.
Received = tuple[str | None, int | None, bytes, dict[str, Any] | None]


@pytest.fixture
def blob_host(
    azurite: Azurite, storage: Storage, invoker: Invoker, unique: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[Received]]]:
    """A blob-triggered function on container `drops-<unique>` with its listeners running; yields what it got."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    container = f"drops-{unique}"
    storage.container(container)
    received: list[Received] = []

    def dropped(blob: func.InputStream) -> None:
        content = blob.read()
        received.append((blob.name, blob.length, content, blob.metadata))
        if content.startswith(b"fail"):
            raise RuntimeError("asked to fail")

    trigger = {"type": "blobTrigger", "name": "blob", "path": f"{container}/{{name}}"}
    function = IndexedFunction(name="dropped", trigger=trigger, bindings=(trigger,), callable=dropped)
    listeners = build_listeners([function], f"host-{unique}", OPTIONS, invoker)
    stop = threading.Event()
    threads = [threading.Thread(target=listener.run, args=(stop,)) for listener in listeners]
    for thread in threads:
        thread.start()
    yield container, received
    stop.set()
    for thread in threads:
        thread.join()


def test_each_blob_version_runs_once_and_a_rewrite_runs_again(
    storage: Storage, blob_host: tuple[str, list[Received]], unique: str
) -> None:
    container, received = blob_host
    storage.container(container).upload_blob("a/first.txt", b"one", metadata={"k": "v"})
    assert eventually(lambda: received) == [(f"{container}/a/first.txt", 3, b"one", {"k": "v"})]
    for later in ("b/later-1.txt", "b/later-2.txt"):  # each seen by a scan after the first blob's: two more scans
        storage.container(container).upload_blob(later, b"later")
        eventually(lambda later=later: any(name.endswith(later) for name, *_ in received))
    assert [name for name, *_ in received].count(f"{container}/a/first.txt") == 1  # the same version never again
    storage.container(container).upload_blob("a/first.txt", b"two", overwrite=True)  # a new ETag
    firsts = eventually(lambda: [r for r in received if r[0] == f"{container}/a/first.txt"][1:] or None)
    assert firsts[0][2] == b"two"
    receipts = storage.list_names(storage_names.HOSTS_CONTAINER, f"blobreceipts/host-{unique}/Host.Functions.dropped/")
    assert len([name for name in receipts if name.endswith(f"/{container}/a/first.txt")]) == 2


def test_a_failing_blob_goes_to_the_poison_queue_after_the_threshold(
    storage: Storage, blob_host: tuple[str, list[Received]]
) -> None:
    container, received = blob_host
    storage.container(container).upload_blob("bad.txt", b"fail")
    poison = storage.queue(storage_names.BLOB_POISON_QUEUE)

    def poisoned() -> list[dict[str, Any]]:
        documents = [json.loads(base64.b64decode(m.content)) for m in poison.peek_messages(max_messages=32)]
        return [d for d in documents if d["ContainerName"] == container]

    [message] = eventually(poisoned)
    assert message["BlobName"] == "bad.txt" and message["FunctionId"] == "Host.Functions.dropped"
    assert len(received) == 2  # poisonBlobThreshold attempts


@pytest.mark.parametrize(
    ("path", "blob", "captured"),
    [
        ("c/{name}", "a/b.txt", {"name": "a/b.txt"}),
        ("c/{name}.{ext}", "a.b.txt", {"name": "a.b", "ext": "txt"}),
        ("c/in/{name}", "out/x", None),
        ("c/{{literal}}/{name}", "{literal}/x", {"name": "x"}),
    ],
)
def test_path_patterns_are_greedy_and_anchored(path: str, blob: str, captured: dict[str, str] | None) -> None:
    match = BlobPattern.parse(path).regex.fullmatch(blob)
    assert (match.groupdict() if match else None) == captured
