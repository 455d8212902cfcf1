"""Entra ID (Azure AD) access tokens, as an app deployed to Azure accepts them from clients using azure-identity.

Configured by app settings: FNINFER_ENTRA_ISSUER (e.g. https://login.microsoftonline.com/<tenant>/v2.0),
FNINFER_ENTRA_AUDIENCE (the app registration's client id or Application ID URI) and optionally FNINFER_ENTRA_JWKS_URI
(default: the tenant's discovery keys). A token is accepted only with an RS256 signature from those keys, that
issuer, that audience, and an unexpired lifetime. With the settings absent, no Entra token is accepted.
"""

from __future__ import annotations

import threading

import jwt

from shared.core.errors import Unauthorized
from shared.core.settings import ENTRA_AUDIENCE, ENTRA_ISSUER, ENTRA_JWKS_URI, get_setting

_clients: dict[str, jwt.PyJWKClient] = {}
_lock = threading.Lock()


def _jwks_uri(issuer: str) -> str:
    explicit = get_setting(ENTRA_JWKS_URI)
    if explicit:
        return explicit
    return issuer.rstrip("/").removesuffix("/v2.0") + "/discovery/v2.0/keys"


def looks_like_entra_token(presented: str) -> bool:
    """A JWT signed with RS256 (fninfer's own service tokens are HS256), while Entra ID is configured."""
    if not get_setting(ENTRA_ISSUER) or presented.count(".") != 2:
        return False
    try:
        return jwt.get_unverified_header(presented).get("alg") == "RS256"
    except jwt.PyJWTError:
        return False


def validate_entra_token(presented: str, client_id_too: bool = False) -> dict[str, object]:
    """The token's claims; Unauthorized naming the problem when it is not a valid token for this app. With
    `client_id_too`, an audience that is the app registration's client id is accepted as well, when the configured
    audience is its Application ID URI `api://<client id>`: the audience of an ID token (the studio's sign-in)."""
    issuer, audience = get_setting(ENTRA_ISSUER), get_setting(ENTRA_AUDIENCE)
    if not issuer or not audience:
        raise Unauthorized(f"Entra ID tokens are not accepted: set {ENTRA_ISSUER} and {ENTRA_AUDIENCE}")
    audiences = [audience, audience.removeprefix("api://")] if client_id_too else [audience]
    uri = _jwks_uri(issuer)
    with _lock:
        client = _clients.setdefault(uri, jwt.PyJWKClient(uri, cache_keys=True, lifespan=3600))
    try:
        key = client.get_signing_key_from_jwt(presented)
        return jwt.decode(presented, key.key, algorithms=["RS256"], audience=audiences, issuer=issuer)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the Entra ID token has expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the Entra ID token is not valid: {exc}") from exc
