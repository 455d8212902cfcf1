"""Where the Functions host keeps its own state, named as the real host names it (Azure Functions host, WebJobs SDK:
HostQueueNames, StorageBlobScanInfoManager, BlobReceiptManager, TimerListener; see the Functions host's semantics),
so a storage account one of them used reads the same to the other.

    azure-webjobs-hosts/
        locks/<host id>/<lock name>                                       singleton listener leases
        timers/<host id>/Host.Functions.<function>/status                 a timer's last and next run
        blobreceipts/<host id>/Host.Functions.<function>/<etag>/<container>/<blob>   a blob already queued
        blobscaninfo/<host id>/<account>/<container>/scanInfo             a container's scan cursor
    queues: azure-webjobs-blobtrigger-<host id>, <queue>-poison, webjobs-blobtrigger-poison

The app's own names are the app's (shared/core/layout.py); none of these is one of them.
"""

from __future__ import annotations

HOSTS_CONTAINER = "azure-webjobs-hosts"
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"
#: Queue names are at most 63 characters; the host has no poison queue when `<queue>-poison` would exceed that.
MAX_QUEUE_NAME = 63


def function_id(function_name: str) -> str:
    return f"Host.Functions.{function_name}"


def host_lock(host_id: str, lock_name: str) -> str:
    return f"locks/{host_id}/{lock_name}"


def timer_listener_lock(host_id: str, function_name: str) -> str:
    return host_lock(host_id, f"{function_id(function_name)}.Listener")


def blob_scan_lock(host_id: str) -> str:
    return host_lock(host_id, "WebJobs.Internal.Blobs.Listener")


def timer_status(host_id: str, function_name: str) -> str:
    return f"timers/{host_id}/{function_id(function_name)}/status"


def blob_receipt(host_id: str, function_name: str, etag: str, container: str, blob_name: str) -> str:
    return f"blobreceipts/{host_id}/{function_id(function_name)}/{etag}/{container}/{blob_name}"


def blob_scan_info(host_id: str, account: str, container: str) -> str:
    return f"blobscaninfo/{host_id}/{account}/{container}/scanInfo"


def blob_trigger_queue(host_id: str) -> str:
    return f"azure-webjobs-blobtrigger-{host_id}"


def poison_queue(queue_name: str) -> str | None:
    """`<queue>-poison`, or None when the queue is itself a poison queue or the name would be too long."""
    if queue_name.endswith("-poison"):
        return None
    name = f"{queue_name}-poison"
    return name if len(name) <= MAX_QUEUE_NAME else None
