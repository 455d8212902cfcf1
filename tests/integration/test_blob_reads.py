"""Batch input reads without the SDK (shared/core/blob_reads.py) against a real
Azurite: the same bytes as the SDK reads,
the same errors, and the SDK where nothing authorizes a plain GET. An Entra identity's reads (Azurite takes tokens
only in its OAuth mode) are checked against a loopback TLS server: the token's header, and when it is fetched."""

from __future__ import annotations

import http.server
import io
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from azure.core.credentials import AccessToken
from azure.storage.blob import BlobServiceClient, ContainerClient, ContainerSasPermissions, generate_container_sas
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.core import blob_reads
from shared.core.errors import NotFound, StorageUnavailable
from shared.core.storage import RequestCounter, Storage
from shared.core.storage_requests import TOKEN_SCOPE

CONTAINER = "fninfer-test"


def put(storage: Storage, name: str, data: bytes) -> None:
    storage.container(CONTAINER).upload_blob(name, data, overwrite=True)


def read_only_by_sas(azurite: Any) -> ContainerClient:
    """The test container's client addressed with a read-only SAS (no key)."""
    parts = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if part)
    sas = generate_container_sas(
        parts["AccountName"],
        CONTAINER,
        account_key=parts["AccountKey"],
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(minutes=5),
    )
    return BlobServiceClient(f"{parts['BlobEndpoint']}?{sas}").get_container_client(CONTAINER)


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


def test_a_listing_by_plain_gets_is_the_sdks_page_by_page(
    storage: Storage, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{unique}/in/{i:02d}.csv" for i in range(12)] + [f"{unique}/in/a folder/é & <x>.csv"]
    for i, name in enumerate(names):
        put(storage, name, b"x" * i)
    put(storage, f"{unique}/other.csv", b"not under the prefix")
    monkeypatch.setattr(blob_reads, "LIST_PAGE", 5)  # three pages
    container, counter = storage.container(CONTAINER), RequestCounter()
    listed = blob_reads.list_sizes(container, counter, f"{unique}/in/", "test listing")
    by_sdk = [(b.name, b.size) for b in container.list_blobs(name_starts_with=f"{unique}/in/")]
    assert listed == by_sdk and len(listed) == 13 and dict(listed)[names[-1]] == 12
    assert counter.counts() == {f"GET {CONTAINER} (list)": 3}
    assert blob_reads.list_sizes(container, None, f"{unique}/nothing/", "test listing") == []


def test_a_refused_listing_goes_through_the_sdk(storage: Storage, unique: str, azurite: Any) -> None:
    put(storage, f"{unique}/f.csv", b"x")
    read_only = read_only_by_sas(azurite)  # storage refuses a listing with it
    with pytest.raises(StorageUnavailable, match="403"):  # the SDK's own error, naming the status
        blob_reads.list_sizes(read_only, None, f"{unique}/", "test listing")


def test_a_missing_blob_is_not_found_naming_it(storage: Storage, unique: str) -> None:
    with pytest.raises(NotFound, match=f"test/{unique}/missing.csv does not exist"):
        read(storage.container(CONTAINER), f"{unique}/missing.csv")


def test_a_client_addressed_with_a_sas_reads_with_it(storage: Storage, unique: str, azurite: Any) -> None:
    put(storage, f"{unique}/f.csv", b"a,b\n1,2\n")
    by_sas = read_only_by_sas(azurite)
    assert isinstance(blob_reads.reader(by_sas, None), blob_reads.BlobReader)
    assert read(by_sas, f"{unique}/f.csv") == b"a,b\n1,2\n"


def test_a_refused_read_goes_through_the_sdk_which_names_the_status(storage: Storage, unique: str) -> None:
    put(storage, f"{unique}/f.csv", b"x")
    container = storage.container(CONTAINER)
    reader = blob_reads.reader(container, None)
    assert reader is not None
    reader.authorization._renew_at = datetime.now(UTC) + timedelta(hours=1)
    reader.authorization._signed = "sv=2020-08-04&sr=c&sp=r&se=2000-01-01T00:00:00Z&sig=bm90IGEgc2lnbmF0dXJl"  # forged
    try:
        assert read(container, f"{unique}/f.csv") == b"x"  # the SDK, with the account key, reads it
    finally:
        reader.authorization._signed = ""  # signed again on the next read


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


# -- an app on an Entra identity (Azure): its token in the header ------------------------------------------------


class Tokens:
    """An azure-identity credential's shape: tokens that end `lifetime` seconds after they are fetched."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.fetched: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.fetched.append(scopes)
        return AccessToken(f"token-{len(self.fetched)}", int(time.time() + self.lifetime))


@pytest.fixture
def tls_blob_server(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]], Path]]:
    """A loopback HTTPS server answering every GET with the path's bytes, recording each request's headers (a token
    credential is only sent over TLS, as Azure Storage has it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = self.path.split("?")[0].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/account", seen, tmp_path / "cert.pem"
    server.shutdown()


def test_an_entra_identity_reads_with_its_token_fetched_again_before_it_ends(
    tls_blob_server: tuple[str, list[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen, certificate = tls_blob_server
    monkeypatch.setattr(blob_reads, "_pool", urllib3.PoolManager(ca_certs=str(certificate)))  # trusts the server
    long_lived, short_lived = Tokens(3600), Tokens(60)  # the second ends inside SAS_MARGIN: fetched per read
    for tokens in (long_lived, short_lived):
        container = ContainerClient(url, "inputs", credential=tokens)
        assert isinstance(blob_reads.reader(container, None), blob_reads.BlobReader)
        assert read(container, "a/f 1.csv") == b"/account/inputs/a/f%201.csv"
        assert read(container, "a/f 1.csv") == b"/account/inputs/a/f%201.csv"
    assert long_lived.fetched == [(TOKEN_SCOPE,)]  # once for both reads
    assert len(short_lived.fetched) == 2
    authorizations = [request["authorization"] for request in seen]
    assert authorizations == ["Bearer token-1", "Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert all("sig=" not in request["path"] and request["x-ms-version"] for request in seen)
