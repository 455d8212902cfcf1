"""Batch input reads without the SDK (shared/blob_reads.py) against a real Azurite: the same bytes as the SDK reads,
the same errors, and the SDK where no SAS can be had."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from shared import blob_reads
from shared.errors import NotFound, StorageUnavailable
from shared.storage import RequestCounter, Storage

CONTAINER = "fninfer-test"


def put(storage: Storage, name: str, data: bytes) -> None:
    storage.container(CONTAINER).upload_blob(name, data, overwrite=True)


def read(container: Any, name: str, counter: RequestCounter | None = None) -> bytes:
    handle = io.BytesIO()
    blob_reads.read_into(container, counter, name, handle, f"test/{name}")
    return handle.getvalue()


def test_an_account_key_client_reads_by_sas_the_bytes_the_sdk_reads(storage: Storage, unique: str) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: several reads of the socket
    names = [f"{unique}/plain.csv", f"{unique}/a folder/é and #?&=+%.csv"]  # names that must be quoted
    for name in names:
        put(storage, name, data)
    container = storage.container(CONTAINER)
    assert isinstance(blob_reads.reader(container, None), blob_reads.BlobReader)
    counter = RequestCounter()
    for name in names:
        assert read(container, name, counter) == data
    assert counter.counts() == {f"GET {CONTAINER}": 2}  # each read is one request, counted


def test_a_missing_blob_is_not_found_naming_it(storage: Storage, unique: str) -> None:
    with pytest.raises(NotFound, match=f"test/{unique}/missing.csv does not exist"):
        read(storage.container(CONTAINER), f"{unique}/missing.csv")


def test_a_client_addressed_with_a_sas_reads_with_it(storage: Storage, unique: str, azurite: Any) -> None:
    put(storage, f"{unique}/f.csv", b"a,b\n1,2\n")
    parts = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if part)
    sas = generate_container_sas(
        parts["AccountName"],
        CONTAINER,
        account_key=parts["AccountKey"],
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(minutes=5),
    )
    by_sas = BlobServiceClient(f"{parts['BlobEndpoint']}?{sas}").get_container_client(CONTAINER)
    assert isinstance(blob_reads.reader(by_sas, None), blob_reads.BlobReader)
    assert read(by_sas, f"{unique}/f.csv") == b"a,b\n1,2\n"


def test_a_refused_read_goes_through_the_sdk_which_names_the_status(storage: Storage, unique: str) -> None:
    put(storage, f"{unique}/f.csv", b"x")
    container = storage.container(CONTAINER)
    reader = blob_reads.reader(container, None)
    assert reader is not None
    reader._sas_renew_at = datetime.now(UTC) + timedelta(hours=1)
    reader._sas = "sv=2020-08-04&sr=c&sp=r&se=2000-01-01T00:00:00Z&sig=bm90IGEgc2lnbmF0dXJl"  # expired, forged
    try:
        assert read(container, f"{unique}/f.csv") == b"x"  # the SDK, with the account key, reads it
    finally:
        reader._sas = ""  # signed again on the next read


def test_a_client_without_key_or_sas_reads_through_the_sdk(storage: Storage, unique: str, azurite: Any) -> None:
    public = storage.container("fninfer-test-public")
    public.set_container_access_policy(signed_identifiers={}, public_access="blob")
    public.upload_blob(f"{unique}/f.csv", b"x", overwrite=True)
    parts = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if part)
    anonymous = BlobServiceClient(parts["BlobEndpoint"]).get_container_client("fninfer-test-public")
    assert blob_reads.reader(anonymous, None) is None
    assert read(anonymous, f"{unique}/f.csv") == b"x"
    with pytest.raises(NotFound, match="does not exist"):
        read(anonymous, f"{unique}/missing.csv")


def test_no_answer_is_storage_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blob_reads, "RETRY", blob_reads.urllib3.Retry(total=0))
    monkeypatch.setattr(blob_reads, "_pool", blob_reads.urllib3.PoolManager(retries=blob_reads.RETRY))
    dead = Storage.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    container = dead.blobs.get_container_client(CONTAINER)
    with pytest.raises(StorageUnavailable, match=r"storage did not answer while accessing test/x\.csv"):
        read(container, "x.csv")
