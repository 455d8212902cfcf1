"""The storage boundary against a real Azurite: conditional writes are what concurrent instances agree through."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import AccountSasPermissions

from fninfer_host.azurite import Azurite
from shared.core.errors import ConcurrencyConflict, NotFound, StorageUnavailable
from shared.core.storage import Storage, same_etag
from tests.faults import FAST_RETRY, StorageFaults
from tests.hosting import eventually, free_port, sas_connection_string


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


def test_records_and_messages_sent_plainly_are_what_the_sdk_reads(storage: Storage, unique: str) -> None:
    """The records and queue messages go as plain requests (shared/core/storage_requests.py): the SDK reads back the
    same bytes, ETags, metadata and message text, and the conditions refuse what they should."""
    path = f"{unique}/r.json"
    etag = storage.create_json("fninfer-test", path, {"v": 1}, metadata={"state": "Running"})
    sdk_blob = storage.container("fninfer-test").get_blob_client(path)
    properties = sdk_blob.get_blob_properties()
    assert (str(properties.etag), properties.content_settings.content_type) == (etag, "application/json")
    assert sdk_blob.download_blob().readall() == b'{"v":1}'
    [listed] = storage.list_with_metadata("fninfer-test", f"{unique}/")
    assert listed.metadata["state"] == "Running"
    assert storage.etag("fninfer-test", path) == etag
    assert storage.etag("fninfer-test", path, known=etag) == etag  # 304: not modified
    assert storage.etag("fninfer-test", f"{unique}/absent.json") is None
    newer = storage.put_json("fninfer-test", path, {"v": 2})
    assert storage.etag("fninfer-test", path, known=etag) == newer
    with pytest.raises(ConcurrencyConflict, match="changed by another writer"):
        storage.delete_blob("fninfer-test", path, etag=etag)
    assert storage.read_json("fninfer-test", path) == ({"v": 2}, newer)
    assert storage.delete_blob("fninfer-test", path, etag=newer) is True
    assert storage.delete_blob("fninfer-test", path) is False

    text = '<run id="a&b"> ünïcode \' ]]>'
    storage.send(f"q{unique}", text)
    storage.send(f"q{unique}", "later", delay=60)
    assert [message.content for message in storage.queue(f"q{unique}").receive_messages(max_messages=5)] == [text]


def test_a_shared_access_signature_connection_string_authorizes_the_plain_requests(
    azurite: Azurite, unique: str
) -> None:
    """A connection string with a SAS instead of a key (BlobEndpoint=...;SharedAccessSignature=...): the records and
    messages carry that SAS; one that does not allow writes makes a write fail naming storage's refusal."""

    def with_sas(permission: AccountSasPermissions) -> Storage:
        return Storage.from_connection_string(sas_connection_string(azurite, permission), retry=FAST_RETRY)

    everything = with_sas(AccountSasPermissions(read=True, write=True, create=True, add=True, process=True, list=True))
    etag = everything.create_json("fninfer-test", f"{unique}/r.json", {"v": 1})
    assert everything.read_json("fninfer-test", f"{unique}/r.json") == ({"v": 1}, etag)
    everything.send(f"q{unique}", "hello")
    assert [message.content for message in everything.queue(f"q{unique}").receive_messages()] == ["hello"]
    reader = with_sas(AccountSasPermissions(read=True, list=True, create=True))  # creates, never overwrites
    assert reader.read_json("fninfer-test", f"{unique}/r.json")[0] == {"v": 1}
    with pytest.raises(StorageUnavailable, match="403 AuthorizationPermissionMismatch"):
        reader.put_json("fninfer-test", f"{unique}/r.json", {"v": 2})


def test_a_conditional_write_whose_answer_was_lost_is_the_writers_own(
    azurite: Azurite, storage: Storage, unique: str
) -> None:
    """A create whose first try landed but whose answer was lost is tried again and refused (409): the write token on
    the blob says the refusal was caused by this very write, so the create succeeds; another writer's is refused."""
    faults = StorageFaults()
    losing = Storage.from_connection_string(azurite.connection_string, faults=faults, retry=FAST_RETRY)
    losing.container("fninfer-test")
    faults.arm(("PUT fninfer-test", 1), "lost_once")
    etag = losing.create_json("fninfer-test", f"{unique}/r.json", {"v": 1})
    assert faults.fired
    assert faults.seen == ["PUT fninfer-test", "PUT fninfer-test", "HEAD fninfer-test"]
    assert storage.read_json("fninfer-test", f"{unique}/r.json") == ({"v": 1}, etag)
    with pytest.raises(ConcurrencyConflict):
        losing.create_json("fninfer-test", f"{unique}/r.json", {"v": 2})


def test_listings_page_and_keep_names_as_written(
    storage: Storage, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings are plain GETs too, a page at a time: names with spaces, '+', '%' and non-ASCII come back as written,
    in order, with their ETags (a listing's form: unquoted) and metadata."""
    monkeypatch.setattr("shared.core.storage.LIST_PAGE", 2)
    names = [f"{unique}/a b.json", f"{unique}/a+b%20.json", f"{unique}/é/ü.json", f"{unique}/z.json", f"{unique}z.json"]
    etags = [storage.create_json("fninfer-test", name, {}, metadata={"n": str(i)}) for i, name in enumerate(names)]
    assert storage.list_names("fninfer-test", f"{unique}/") == sorted(names[:4])
    listed = storage.list_with_metadata("fninfer-test", f"{unique}/a ")
    assert [(one.name, one.etag, one.metadata["n"]) for one in listed] == [(names[0], same_etag(etags[0]), "0")]
    assert storage.list_names("fninfer-test", f"{unique}/nothing/") == []


def test_messages_are_received_hidden_for_their_window_and_deleted_with_their_receipt(
    storage: Storage, unique: str
) -> None:
    queue = f"q{unique}"
    storage.queue(queue).send_message("from the sdk <&>")
    storage.send(queue, "sent plainly")
    first = storage.receive(queue, visibility=1)
    assert sorted(message.content for message in first) == ["from the sdk <&>", "sent plainly"]
    assert storage.receive(queue) == []  # hidden while their window lasts
    again = eventually(lambda: storage.receive(queue, count=1, visibility=30), timeout=10)
    assert [message.dequeue_count for message in again] == [2]
    [stale] = [message for message in first if message.id == again[0].id]
    assert storage.delete_message(queue, stale) is False  # received again since: its first receipt is no good
    assert storage.delete_message(queue, again[0]) is True
    assert storage.delete_message(queue, again[0]) is False
