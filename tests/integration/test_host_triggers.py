"""Queue, timer and blob triggers through a real `fninfer start` with two instances on one storage account."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fninfer_host import storage_names
from fninfer_host.azurite import Azurite
from fninfer_host.ncrontab import parse_schedule
from fninfer_host.options import compute_host_id
from shared.core.storage import Storage
from tests.hosting import RunningHost, eventually, run_host

APP = Path(__file__).resolve().parents[1] / "apps" / "triggers"
RECORDS = "trigger-records"


def records(storage: Storage, kind: str) -> list[dict[str, Any]]:
    return [storage.read_json(RECORDS, name)[0] for name in storage.list_names(RECORDS, f"{kind}/")]


@pytest.fixture(scope="module")
def host_and_storage(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningHost, Storage]]:
    storage = Storage.from_connection_string(azurite.connection_string)
    host_id = compute_host_id(APP)
    # A status saying the last run was ten minutes ago: the host must catch up once, with past_due set.
    schedule = parse_schedule("*/2 * * * * *", datetime.now().astimezone().tzinfo or UTC)
    last = datetime.now().astimezone() - timedelta(minutes=10)
    status = {
        "Last": last.isoformat(),
        "Next": schedule.next_occurrence(last).isoformat(),
        "LastUpdated": last.isoformat(),
    }
    storage.put_json(storage_names.HOSTS_CONTAINER, storage_names.timer_status(host_id, "tick"), status)
    env = {"WORK_QUEUE": "trigger-work", "FNINFER_BLOB_SCAN_INTERVAL": "1"}
    with run_host(
        APP, tmp_path_factory.mktemp("triggers"), storage=azurite.connection_string, instances=2, env=env
    ) as host:
        yield host, storage


def test_queue_messages_run_and_failures_go_to_poison_after_max_dequeue_count(
    host_and_storage: tuple[RunningHost, Storage],
) -> None:
    host, storage = host_and_storage
    queue = storage.queue("trigger-work")
    queue.send_message(base64.b64encode(b"hello").decode())
    queue.send_message(base64.b64encode(b"fail-me").decode())
    eventually(lambda: [r for r in records(storage, "queue") if r["body"] == "hello"])
    poison = storage.queue("trigger-work-poison")
    poisoned = eventually(lambda: list(poison.peek_messages()))
    assert [base64.b64decode(m.content) for m in poisoned] == [b"fail-me"]
    attempts = sorted(r["dequeue_count"] for r in records(storage, "queue") if r["body"] == "fail-me")
    assert attempts == [1, 2]  # maxDequeueCount is 2 in this app's host.json
    host.wait_for_log("Moving message to queue 'trigger-work-poison'")  # console lines are written off the loop
    # An undecodable (not base64) message goes to poison without running.
    queue.send_message("not base64 !!")
    eventually(lambda: len(list(poison.peek_messages(max_messages=5))) == 2)
    host.wait_for_log("Message decoding has failed!")


def test_timer_catches_up_once_and_fires_each_occurrence_once_across_two_instances(
    host_and_storage: tuple[RunningHost, Storage],
) -> None:
    _, storage = host_and_storage
    eventually(lambda: len([r for r in records(storage, "timer") if not r["past_due"]]) >= 4, timeout=40)
    ticks = records(storage, "timer")
    assert len([r for r in ticks if r["past_due"]]) == 1  # ten minutes of missed ticks: one catch-up run
    slots = [r["slot"] for r in ticks if not r["past_due"]]
    assert len(slots) == len(set(slots))  # never twice for one occurrence, although two instances run
    assert len({r["instance"] for r in ticks}) == 1  # only the lease holder fires


def test_each_blob_version_is_processed_once_and_failures_go_to_poison(
    host_and_storage: tuple[RunningHost, Storage],
) -> None:
    _, storage = host_and_storage
    drops = storage.container("drops")
    drops.upload_blob("a/first.txt", b"one", overwrite=True)
    eventually(lambda: [r for r in records(storage, "blob") if r["content"] == "one"])
    for later in ("b/later-1.txt", "b/later-2.txt"):  # each seen by a scan after the first blob's: two more scans
        drops.upload_blob(later, b"later", overwrite=True)
        eventually(lambda later=later: [r for r in records(storage, "blob") if r["name"] == f"drops/{later}"])
    assert len([r for r in records(storage, "blob") if r["name"] == "drops/a/first.txt"]) == 1  # never again
    drops.upload_blob("a/first.txt", b"two", overwrite=True)  # a new version (ETag) triggers again
    eventually(lambda: [r for r in records(storage, "blob") if r["content"] == "two"])
    drops.upload_blob("bad.txt", b"fail", overwrite=True)
    poison = storage.queue(storage_names.BLOB_POISON_QUEUE)  # shared by every test on this storage account

    def poisoned() -> list[dict[str, Any]]:
        documents = [json.loads(base64.b64decode(m.content)) for m in poison.peek_messages(max_messages=32)]
        return [d for d in documents if d["ContainerName"] == "drops"]

    assert [d["BlobName"] for d in eventually(poisoned)] == ["bad.txt"]
    assert len([r for r in records(storage, "blob") if r["name"] == "drops/bad.txt"]) == 2  # poisonBlobThreshold
    receipts = storage.list_names(storage_names.HOSTS_CONTAINER, "blobreceipts/")
    assert len([name for name in receipts if name.endswith("/drops/a/first.txt")]) == 2
