"""CPU per storage request on the client side: fninfer's Storage beside the Azure SDK's clients used as its samples
use them, in the same run, against one local Azurite.

Every record read, write, listing, message and queue poll of the app, the host and the SDK goes through
shared/core/storage.py (records, listings and messages as plain requests, shared/core/storage_requests.py), so the
Python CPU a request costs the caller is paid hundreds of thousands of times by a batch run and by the test suite.
The baseline is the SDK's documented way: a BlobServiceClient from the connection string, `get_blob_client` per
call, and requests' default session (which reads the environment's proxy settings on each request). Rounds
alternate between the two so the machine's load falls on both alike; the ratio is the figure to read.

    .venv/bin/python benchmarks/storage_calls.py [--calls 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from fninfer_host.azurite import start_azurite
from shared.core.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
CONTAINER = "bench-storage-calls"
QUEUE = "bench-storage-calls"


def cpu_per_call(call: Callable[[int], object], calls: int) -> float:
    """Microseconds of this process's CPU per call."""
    started = time.process_time()
    for index in range(calls):
        call(index)
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    azurite = start_azurite(ROOT)
    try:
        fninfer = Storage.from_connection_string(azurite.connection_string)
        sdk_blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        sdk_queue = QueueServiceClient.from_connection_string(azurite.connection_string).get_queue_client(QUEUE)
        fninfer.put_json(CONTAINER, "record.json", {"status": "Running", "lanes": list(range(50))})
        fninfer.queue(QUEUE)
        body = json.dumps({"status": "Running", "lanes": list(range(50))}).encode()

        operations: dict[str, tuple[Callable[[int], object], Callable[[int], object]]] = {
            "read a record": (
                lambda i: fninfer.read_json(CONTAINER, "record.json"),
                lambda i: json.loads(sdk_blobs.get_blob_client(CONTAINER, "record.json").download_blob().readall()),
            ),
            "write a record": (
                lambda i: fninfer.put_json(CONTAINER, f"w/{i % 20}.json", {"i": i}),
                lambda i: sdk_blobs.get_blob_client(CONTAINER, f"w/{i % 20}.json").upload_blob(body, overwrite=True),
            ),
            "list 20 records": (
                lambda i: fninfer.list_with_metadata(CONTAINER, "w/"),
                lambda i: list(
                    sdk_blobs.get_container_client(CONTAINER).list_blobs(name_starts_with="w/", include=["metadata"])
                ),
            ),
            "poll an empty queue": (
                lambda i: fninfer.receive(QUEUE),
                lambda i: list(sdk_queue.receive_messages(max_messages=32)),
            ),
            "send a message": (
                lambda i: fninfer.send(QUEUE, "{}", delay=600),
                lambda i: sdk_queue.send_message("{}", visibility_timeout=600),
            ),
        }
        for name, (ours, baseline) in operations.items():
            ours(0), baseline(0)  # connections open, caches warm
            mine, theirs = [], []
            for _ in range(args.rounds):
                mine.append(cpu_per_call(ours, args.calls))
                theirs.append(cpu_per_call(baseline, args.calls))
            ratio = statistics.median(m / t for m, t in zip(mine, theirs, strict=True))
            print(
                f"{name:22} fninfer {statistics.median(mine):6.0f} us CPU/call   "
                f"SDK as documented {statistics.median(theirs):6.0f} us   ratio {ratio:.2f}x"
            )
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
