"""The studio in Azure: App Service Authentication passes the signed-in user's ID token in X-MS-TOKEN-AAD-ID-TOKEN,
and the studio checks it as the API checks Entra tokens (signature from the JWKS, served on loopback here, issuer,
audience: the app registration's client id, lifetime); a forged or foreign header is refused, never trusted."""

from __future__ import annotations

import azure.functions as func
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.studio import studio_activity, viewer_of
from shared.core.errors import Unauthorized
from tests.integration.test_entra import jwks, new_key, signing_key, token

__all__ = ["jwks", "signing_key"]  # fixtures, used by name

CLIENT_ID = "fninfer-test"  # test_entra's audience is api://fninfer-test: the client id behind that URI


def studio_request(id_token: str, path: str = "/api/studio/activity") -> func.HttpRequest:
    return func.HttpRequest("GET", f"http://app{path}", headers={"x-ms-token-aad-id-token": id_token}, body=b"")


@pytest.mark.usefixtures("jwks")
def test_an_id_token_from_app_service_authentication_signs_in(signing_key: rsa.RSAPrivateKey) -> None:
    viewer = viewer_of(studio_request(token(signing_key, aud=CLIENT_ID, oid="user-1", preferred_username="ada@x")))
    assert viewer is not None and viewer.subject == "entra:user-1" and viewer.shown == "signed in as ada@x"


@pytest.mark.usefixtures("jwks")
@pytest.mark.parametrize(
    "overrides",
    [{"aud": "another-app"}, {"iss": "https://login.microsoftonline.com/other/v2.0"}, {"exp": 1}],
)
def test_a_foreign_or_expired_id_token_is_refused(signing_key: rsa.RSAPrivateKey, overrides: dict[str, object]) -> None:
    claims = {"aud": CLIENT_ID, **overrides}
    with pytest.raises(Unauthorized):
        viewer_of(studio_request(token(signing_key, **claims)))
    answer = studio_activity(studio_request(token(signing_key, **claims)))
    assert answer.status_code == 401 and b"Entra ID token" in answer.get_body()


@pytest.mark.usefixtures("jwks")
def test_a_header_signed_by_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="not valid"):
        viewer_of(studio_request(token(new_key(), aud=CLIENT_ID)))


def test_without_entra_settings_the_header_is_ignored(signing_key: rsa.RSAPrivateKey) -> None:
    assert viewer_of(studio_request(token(signing_key, aud=CLIENT_ID))) is None  # a local app: sign in with the key
