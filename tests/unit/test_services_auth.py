"""Service credentials: keys derived from the app secret, tokens, and which failure is 401 and which 403."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from shared.core.errors import Forbidden, InvalidInput, Unauthorized
from shared.services import auth


def record(name: str, mode: str) -> dict[str, Any]:
    return {"name": name, "auth": {"mode": mode, "nonces": auth.new_nonces()}}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(auth.SIGNING_KEY, "unit-test-secret")


def test_both_keys_open_their_service_and_a_key_of_another_service_is_forbidden() -> None:
    service, other = record("svc", "key"), record("other", "key")
    for key in auth.keys_of(service):
        auth.authenticate(service, f"Bearer {key}")
    with pytest.raises(Forbidden, match="another service"):
        auth.authenticate(service, f"Bearer {auth.keys_of(other)[0]}")


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic abc", "Bearer svc.primary.0000.forged"])
def test_no_credential_or_a_wrong_one_is_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        auth.authenticate(record("svc", "key"), header)


def test_a_key_made_with_another_secret_is_unauthorized(monkeypatch: pytest.MonkeyPatch) -> None:
    service = record("svc", "key")
    key = auth.keys_of(service)[0]
    monkeypatch.setenv(auth.SIGNING_KEY, "another-app")
    with pytest.raises(Unauthorized):
        auth.authenticate(service, f"Bearer {key}")


def test_regenerating_a_key_revokes_only_that_key() -> None:
    service = record("svc", "key")
    primary, secondary = auth.keys_of(service)
    auth.regenerate(service, "Primary")
    with pytest.raises(Unauthorized, match="regenerated"):
        auth.authenticate(service, f"Bearer {primary}")
    auth.authenticate(service, f"Bearer {secondary}")
    auth.authenticate(service, f"Bearer {auth.keys_of(service)[0]}")
    with pytest.raises(InvalidInput, match="'Primary' or 'Secondary'"):
        auth.regenerate(service, "Tertiary")


def test_keys_are_not_in_the_record() -> None:
    service = record("svc", "key")
    assert not any(key in repr(service) for key in auth.keys_of(service))


def test_tokens_open_their_service_only_and_expire() -> None:
    service = record("svc", "token")
    token, refresh_after = auth.issue_token(service)
    auth.authenticate(service, f"Bearer {token}")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == auth.TOKEN_LIFETIME and claims["iat"] < refresh_after < claims["exp"]
    with pytest.raises(Forbidden, match="another service"):
        auth.authenticate(record("other", "token"), f"Bearer {token}")
    expired = jwt.encode({**claims, "exp": claims["iat"] - 10}, auth._token_key(), algorithm="HS256")
    with pytest.raises(Unauthorized, match="expired"):
        auth.authenticate(service, f"Bearer {expired}")


def test_a_key_is_not_a_token_nor_a_token_a_key() -> None:
    keyed, tokened = record("svc", "key"), record("svc", "token")
    with pytest.raises(Unauthorized):
        auth.authenticate(tokened, f"Bearer {auth.keys_of(keyed)[0]}")
    with pytest.raises(Unauthorized):
        auth.authenticate(keyed, f"Bearer {auth.issue_token(tokened)[0]}")


def test_a_service_without_auth_takes_any_caller() -> None:
    auth.authenticate(record("svc", "none"), None)
