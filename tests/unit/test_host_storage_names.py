"""The local host keeps its own state where the real Functions host keeps it (azure-webjobs-hosts, its queues)."""

from __future__ import annotations

from fninfer_host import storage_names


def test_host_paths_match_the_real_host() -> None:
    assert storage_names.HOSTS_CONTAINER == "azure-webjobs-hosts"
    assert storage_names.timer_status("h1", "tick") == "timers/h1/Host.Functions.tick/status"
    assert storage_names.timer_listener_lock("h1", "tick") == "locks/h1/Host.Functions.tick.Listener"
    assert storage_names.blob_scan_lock("h1") == "locks/h1/WebJobs.Internal.Blobs.Listener"
    receipt = storage_names.blob_receipt("h1", "f", '"0x1"', "c", "a/b.txt")
    assert receipt == 'blobreceipts/h1/Host.Functions.f/"0x1"/c/a/b.txt'
    assert storage_names.blob_scan_info("h1", "acct", "c") == "blobscaninfo/h1/acct/c/scanInfo"
    assert storage_names.blob_trigger_queue("h1") == "azure-webjobs-blobtrigger-h1"
    assert storage_names.BLOB_POISON_QUEUE == "webjobs-blobtrigger-poison"


def test_poison_queue_names() -> None:
    assert storage_names.poison_queue("work") == "work-poison"
    assert storage_names.poison_queue("work-poison") is None
    assert storage_names.poison_queue("q" * 57) is None
