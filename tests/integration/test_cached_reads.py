"""Cached reads (shared/core/cached_reads.py): a record is read again only when its ETag changed since this process read
it, however the listing and the read spell the ETag."""

from __future__ import annotations

from fninfer_host.azurite import Azurite
from shared.core.cached_reads import RecordCache
from shared.core.storage import RequestCounter, Storage


def test_a_record_is_read_once_per_version(azurite: Azurite, unique: str) -> None:
    counter = RequestCounter()
    storage = Storage.from_connection_string(azurite.connection_string, counter=counter)
    container = f"cached-{unique}"
    for number in range(5):
        storage.create_json(container, f"r/{number}.json", {"n": number})
    cache = RecordCache()
    assert [r["n"] for r in cache.records(storage, container, "r/").values()] == [0, 1, 2, 3, 4]
    reads = counter.counts()[f"GET {container}"]
    assert reads == 5
    storage.update_json(container, "r/3.json", lambda record: record.update(n=33))
    storage.delete_blob(container, "r/4.json")
    assert [r["n"] for r in cache.records(storage, container, "r/").values()] == [0, 1, 2, 33]
    assert counter.counts()[f"GET {container}"] == reads + 2  # r/3 again (and the update's own read): no others
