"""Service authentication, as Azure ML has it: keys (primary and secondary) or short-lived tokens.

Keys are never stored. A key is `<service>.<slot>.<nonce>.<mac>` where mac = HMAC-SHA256(app secret, the rest); the
record keeps only each slot's nonce, so regenerating a key (a new nonce) revokes the old one, a storage leak reveals
no key, and a valid key for another service is recognised as such (403, not 401). Tokens are JWTs (HS256, audience =
the service, 1 hour) signed with a key derived from the same secret. In Azure, an Entra ID token for the app
(shared/core/entra.py) is accepted too. The secret is app setting FNINFER_SIGNING_KEY,
else FNINFER_ADMIN_KEY. Comparisons are constant-time.

A key the user chooses (`deploy_configuration(primary_key=...)`, `regen_key(key, set_key=...)`, as Azure ML allows)
cannot be derived, so its slot records it as `chosen`: an HMAC of it under the secret (what calls are checked
against) and the key sealed (Fernet, with a key derived from the secret) for `get_keys()`. Neither reveals the key
to someone who reads storage without the app's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import NotRequired, TypedDict

import jwt
from cryptography.fernet import Fernet

from shared.core.entra import looks_like_entra_token, validate_entra_token
from shared.core.errors import Forbidden, InvalidInput, KeyRegenerated, Unauthorized
from shared.core.settings import ADMIN_KEY, SIGNING_KEY, get_setting

TOKEN_LIFETIME = 3600
TOKEN_ISSUER = "fninfer"
SLOTS = ("primary", "secondary")


class ChosenKey(TypedDict):
    """A key the user chose for a slot: never stored as it is."""

    mac: str  # HMAC of the key under the secret: what calls are checked against
    sealed: str  # the key, Fernet-sealed with a key derived from the secret: what get_keys() answers


class ServiceAuth(TypedDict):
    """A service record's `auth` (service_records.ServiceRecord): how calls are checked. Public views leave it out."""

    mode: str  # "none", "key" or "token"
    nonces: dict[str, str]  # by slot: the nonce its derived key is made from (a new one revokes the old key)
    chosen: NotRequired[dict[str, ChosenKey]]  # by slot; absent from records written before keys could be chosen


class KeyedService(TypedDict):
    """What this module reads of a service record (service_records.ServiceRecord has these and more)."""

    name: str
    auth: ServiceAuth


def _secret() -> bytes:
    value = get_setting(SIGNING_KEY) or get_setting(ADMIN_KEY)
    if not value:
        raise Unauthorized(f"the app has no {SIGNING_KEY} (or {ADMIN_KEY}) to check service credentials with")
    return value.encode()


def _mac(message: str) -> str:
    digest = hmac.new(_secret(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_nonces() -> dict[str, str]:
    return {slot: secrets.token_hex(8) for slot in SLOTS}


def service_key(service: str, slot: str, nonce: str) -> str:
    body = f"{service}.{slot}.{nonce}"
    return f"{body}.{_mac('key:' + body)}"


def _sealer() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hmac.new(_secret(), b"chosen-service-keys", hashlib.sha256).digest()))


def _chosen_mac(service: str, slot: str, key: str) -> str:
    return _mac(f"chosen-key:{service}.{slot}.{key}")


def choose_keys(service: str, keys: object) -> dict[str, ChosenKey]:
    """Keys given by the user ({"primary": ..., "secondary": ...}) as record['auth']['chosen'] holds them."""
    if keys is None:
        return {}
    if not isinstance(keys, dict) or set(keys) - set(SLOTS):
        raise InvalidInput("'keys' must be {primary, secondary}", field="keys")
    chosen = {}
    for slot, key in keys.items():
        if not isinstance(key, str) or not key or len(key) > 256 or any(c.isspace() for c in key):
            raise InvalidInput(f"the {slot} key must be 1-256 characters without spaces", field=f"{slot}_key")
        chosen[slot] = ChosenKey(mac=_chosen_mac(service, slot, key), sealed=_sealer().encrypt(key.encode()).decode())
    return chosen


def _chosen_key(record: KeyedService, slot: str) -> str | None:
    sealed = (record["auth"].get("chosen") or {}).get(slot)
    return _sealer().decrypt(sealed["sealed"].encode()).decode() if sealed else None


def _is_chosen_key(record: KeyedService, presented: str) -> bool:
    return any(
        hmac.compare_digest(sealed["mac"], _chosen_mac(record["name"], slot, presented))
        for slot, sealed in (record["auth"].get("chosen") or {}).items()
    )


def keys_of(record: KeyedService) -> tuple[str, str]:
    nonces = record["auth"]["nonces"]
    primary, secondary = (
        _chosen_key(record, slot) or service_key(record["name"], slot, nonces[slot]) for slot in SLOTS
    )
    return primary, secondary


def regenerate(record: KeyedService, key_type: str, set_key: str | None = None) -> None:
    slot = str(key_type).lower()
    if slot not in SLOTS:
        raise InvalidInput(f"key type {key_type!r} must be 'Primary' or 'Secondary'", field="keyType")
    chosen = record["auth"].setdefault("chosen", {})
    chosen.pop(slot, None)
    if set_key is not None:
        chosen.update(choose_keys(record["name"], {slot: set_key}))
    record["auth"]["nonces"][slot] = secrets.token_hex(8)


def issue_token(record: KeyedService) -> tuple[str, int]:
    """A token for the service and the time (epoch seconds) after which to refresh it."""
    issued = int(time.time())
    claims = {"iss": TOKEN_ISSUER, "aud": record["name"], "iat": issued, "exp": issued + TOKEN_LIFETIME}
    token = jwt.encode(claims, _token_key(), algorithm="HS256")
    return token, issued + TOKEN_LIFETIME // 2


def _token_key() -> bytes:
    return hmac.new(_secret(), b"service-tokens", hashlib.sha256).digest()


def _check_key(record: KeyedService, presented: str) -> None:
    if _is_chosen_key(record, presented):
        return
    parts = presented.rsplit(".", 3)
    if len(parts) != 4:
        raise Unauthorized("the key is not valid")
    service, slot, nonce, mac = parts
    if not hmac.compare_digest(mac, _mac(f"key:{service}.{slot}.{nonce}")):
        raise Unauthorized("the key is not valid")
    if service != record["name"]:
        raise Forbidden(f"this key belongs to another service, not {record['name']!r}")
    if slot in (record["auth"].get("chosen") or {}):
        raise Unauthorized("the key is not valid (this slot holds a key chosen by the user)")
    if slot not in SLOTS or not hmac.compare_digest(nonce, record["auth"]["nonces"][slot]):
        raise KeyRegenerated("the key is not valid (it was regenerated)")


def _check_token(record: KeyedService, presented: str) -> None:
    try:
        claims = jwt.decode(
            presented, _token_key(), algorithms=["HS256"], issuer=TOKEN_ISSUER, options={"verify_aud": False}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired: get a new one with service.get_token()") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("the token is not valid") from exc
    if claims.get("aud") != record["name"]:
        raise Forbidden(f"this token was issued for another service, not {record['name']!r}")


def authenticate(record: KeyedService, authorization: str | None) -> bool:
    """Check `Authorization: Bearer <key or token>` against the service's auth mode ('none', 'key' or 'token').
    True when what was presented is one of the record's keys: valid for as long as the record is unchanged (a token
    expires, so it is checked on every call)."""
    mode = record["auth"]["mode"]
    if mode == "none":
        return False
    scheme, _, presented = (authorization or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized(f"service {record['name']!r} needs 'Authorization: Bearer <{mode}>'")
    if looks_like_entra_token(presented):
        validate_entra_token(presented)  # in Azure, callers may also present an Entra ID token for the app
        return False
    if mode == "key":
        _check_key(record, presented)
        return True
    _check_token(record, presented)
    return False
