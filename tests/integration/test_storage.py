"""The storage boundary against a real Azurite: conditional writes are what concurrent instances agree through."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from azure.core.exceptions import ServiceResponseError

from fninfer_host.azurite import Azurite
from shared.core.errors import ConcurrencyConflict, NotFound, StorageUnavailable
from shared.core.storage import Storage
from tests.faults import FAST_RETRY
from tests.hosting import free_port


def test_create_is_refused_when_the_record_exists(storage: Storage, unique: str) -> None:
    storage.create_json("fninfer-test", f"{unique}/r.json", {"v": 1})
    with pytest.raises(ConcurrencyConflict):
        storage.create_json("fninfer-test", f"{unique}/r.json", {"v": 2})
    assert storage.read_json("fninfer-test", f"{unique}/r.json")[0] == {"v": 1}


def test_replace_with_a_stale_etag_is_refused(storage: Storage, unique: str) -> None:
    etag = storage.create_json("fninfer-test", f"{unique}/r.json", {"v": 1})
    storage.replace_json("fninfer-test", f"{unique}/r.json", {"v": 2}, etag)
    with pytest.raises(ConcurrencyConflict):
        storage.replace_json("fninfer-test", f"{unique}/r.json", {"v": 3}, etag)
    assert storage.read_json("fninfer-test", f"{unique}/r.json")[0] == {"v": 2}


def test_concurrent_read_modify_write_loses_no_update(storage: Storage, unique: str) -> None:
    path = f"{unique}/counter.json"
    storage.create_json("fninfer-test", path, {"count": 0})

    def bump(record: dict[str, int]) -> None:
        record["count"] += 1

    def worker() -> None:
        for _ in range(10):
            storage.update_json("fninfer-test", path, bump, attempts=200)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.read_json("fninfer-test", path)[0] == {"count": 60}


def test_missing_records_and_dead_storage_are_domain_errors(storage: Storage, unique: str) -> None:
    with pytest.raises(NotFound, match=unique):
        storage.read_json("fninfer-test", f"{unique}/absent.json")
    assert storage.try_read_json("fninfer-test", f"{unique}/absent.json") == (None, None)
    assert storage.delete_blob("fninfer-test", f"{unique}/absent.json") is False
    dead = Storage.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    dead.blobs._config.retry_policy.total_retries = 0  # fail fast: this test is about translation, not retries
    with pytest.raises(StorageUnavailable):
        dead.read_json("fninfer-test", "x.json")


@pytest.mark.parametrize("bypassed", [False, True])
def test_the_environments_proxy_carries_requests_unless_no_proxy_names_the_endpoint(
    azurite: Azurite, unique: str, monkeypatch: pytest.MonkeyPatch, bypassed: bool
) -> None:
    """Storage reads HTTP(S)_PROXY and NO_PROXY once for its endpoint (not requests' per-request lookup): a proxy
    that does not answer fails the request, unless NO_PROXY names the endpoint's host."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1" if bypassed else "")
    storage = Storage.from_connection_string(azurite.connection_string, retry=FAST_RETRY)
    if bypassed:
        storage.put_json("fninfer-test", f"{unique}/r.json", {"v": 1})
        assert storage.read_json("fninfer-test", f"{unique}/r.json")[0] == {"v": 1}
    else:
        with pytest.raises(StorageUnavailable):
            storage.put_json("fninfer-test", f"{unique}/r.json", {"v": 1})


def test_requests_skip_requests_session_and_answer_as_the_sdk_does(
    azurite: Azurite, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage's requests go to urllib3 directly (requests' Session preparing each one again costs about a fifth
    of a small request's client CPU: benchmarks/storage_calls.py), and the SDK reads their answers as before: records,
    conditional writes, listings, queue messages, a download of several chunks."""

    def through_requests(*args: object, **kwargs: object) -> None:
        raise AssertionError("a storage request went through requests' Session")

    monkeypatch.setattr(requests.Session, "request", through_requests)
    storage = Storage.from_connection_string(azurite.connection_string)
    etag = storage.create_json("fninfer-test", f"{unique}/r.json", {"v": 1})
    with pytest.raises(ConcurrencyConflict):
        storage.create_json("fninfer-test", f"{unique}/r.json", {"v": 2})
    storage.replace_json("fninfer-test", f"{unique}/r.json", {"v": 3}, etag)
    assert storage.read_json("fninfer-test", f"{unique}/r.json")[0] == {"v": 3}
    assert storage.list_names("fninfer-test", f"{unique}/") == [f"{unique}/r.json"]
    storage.send(f"q{unique}", "hello")
    assert [message.content for message in storage.queue(f"q{unique}").receive_messages()] == ["hello"]
    data = bytes(range(256)) * 40_000  # 10 MB: downloaded in several ranged requests
    storage.container("fninfer-test").upload_blob(f"{unique}/big.bin", data)
    assert storage.container("fninfer-test").download_blob(f"{unique}/big.bin", max_concurrency=4).readall() == data


def test_a_connection_closed_before_the_answer_is_storage_not_answering(unique: str) -> None:
    """A storage endpoint that takes the request and closes the connection without answering: the request fails as
    azure-core's ServiceResponseError (tried again by the SDK), which the domain sees as StorageUnavailable."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[int] = []

    def hang_up() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(65536)
            accepted.append(1)
            connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    closing = Storage.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
        retry=FAST_RETRY,
    )
    try:
        with pytest.raises(StorageUnavailable, match="did not answer") as raised:
            closing.read_json("fninfer-test", f"{unique}/r.json")
    finally:
        listener.close()
    assert isinstance(raised.value.__cause__, ServiceResponseError)
    assert len(accepted) == 3  # the first try and FAST_RETRY's two more
