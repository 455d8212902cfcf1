"""Entra ID tokens: signature from the JWKS named in app settings (served on loopback), issuer, audience, expiry."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from functions._http import require_admin
from shared.core import entra
from shared.core.errors import Unauthorized
from shared.services.auth import authenticate

ISSUER = "https://login.microsoftonline.com/tenant-id/v2.0"
AUDIENCE = "api://fninfer-test"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def jwks(signing_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(entra.ENTRA_ISSUER, ISSUER)
    monkeypatch.setenv(entra.ENTRA_AUDIENCE, AUDIENCE)
    monkeypatch.setenv(entra.ENTRA_JWKS_URI, f"http://127.0.0.1:{server.server_port}/keys")
    monkeypatch.setenv("FNINFER_ADMIN_KEY", "admin")
    entra._clients.clear()
    yield
    server.shutdown()


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "sub": "client", **overrides}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


RECORD = {"name": "svc", "auth": {"mode": "key", "nonces": {"primary": "a", "secondary": "b"}}}


def admin_request(bearer: str) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://x/api/models", headers={"authorization": f"Bearer {bearer}"}, body=b"")


@pytest.mark.usefixtures("jwks")
def test_a_valid_entra_token_is_accepted(signing_key: rsa.RSAPrivateKey) -> None:
    authenticate(RECORD, f"Bearer {token(signing_key)}")
    require_admin(admin_request(token(signing_key)))


@pytest.mark.usefixtures("jwks")
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "api://someone-else"}, "not valid"),
        ({"iss": "https://login.microsoftonline.com/other/v2.0"}, "not valid"),
        ({"exp": int(time.time()) - 60}, "expired"),
    ],
)
def test_wrong_claims_are_refused(signing_key: rsa.RSAPrivateKey, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        authenticate(RECORD, f"Bearer {token(signing_key, **overrides)}")
    with pytest.raises(Unauthorized):
        require_admin(admin_request(token(signing_key, **overrides)))


@pytest.mark.usefixtures("jwks")
def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="not valid"):
        authenticate(RECORD, f"Bearer {token(new_key())}")


def test_without_settings_no_entra_token_is_accepted(
    signing_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FNINFER_ADMIN_KEY", "admin")
    with pytest.raises(Unauthorized):
        authenticate(RECORD, f"Bearer {token(signing_key)}")
    with pytest.raises(Unauthorized):
        require_admin(admin_request(token(signing_key)))
