"""Who may see the studio: a signed-in browser, or a caller presenting what the API accepts.

Locally the sign-in page takes the admin key (FNINFER_ADMIN_KEY) and sets a session cookie, `<expiry>.<nonce>.<mac>`
with an HMAC-SHA256 under the admin key: no session is stored anywhere, and changing the admin key signs every
browser out. In Azure, App Service Authentication (Entra ID) signs users in and passes their ID token in
`X-MS-TOKEN-AAD-ID-TOKEN`; it is checked as the API checks Entra tokens (shared/core/entra.py: signature, issuer,
audience,
lifetime), so a forged header is refused. Forms carry a token derived from the signed-in subject, checked on every
POST (with SameSite=Strict cookies, a second guard against cross-site requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from shared.core.entra import validate_entra_token
from shared.core.errors import Forbidden, Unauthorized
from shared.core.settings import ADMIN_KEY, ENTRA_ISSUER, get_setting

COOKIE = "fninfer_studio"
SESSION_SECONDS = 8 * 3600
#: The header App Service Authentication sets with the signed-in user's ID token (its token store must be on).
EASY_AUTH_ID_TOKEN = "x-ms-token-aad-id-token"


@dataclass(frozen=True)
class Viewer:
    """Someone allowed in: `subject` keys their form tokens; `shown` is how the pages name them."""

    subject: str
    shown: str


def _admin_key() -> bytes:
    key = get_setting(ADMIN_KEY)
    if not key:
        raise Unauthorized(f"the app has no {ADMIN_KEY}: the studio cannot sign anyone in with a key")
    return key.encode()


def _mac(message: str) -> str:
    digest = hmac.new(_admin_key(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_admin_key(presented: str) -> None:
    """Unauthorized unless `presented` is the admin key (compared in constant time)."""
    if not presented or not hmac.compare_digest(presented.encode(), _admin_key()):
        raise Unauthorized("that is not the admin key")


def new_session(now: float | None = None) -> str:
    """A session cookie's value, valid for SESSION_SECONDS."""
    body = f"{int((now or time.time()) + SESSION_SECONDS)}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_mac('studio-session:' + body)}"


def session_viewer(value: str | None, now: float | None = None) -> Viewer | None:
    """The viewer a session cookie signs in, or None when it is missing, forged or expired."""
    if not value or value.count(".") != 2 or not get_setting(ADMIN_KEY):
        return None
    expires, nonce, mac = value.split(".")
    body = f"{expires}.{nonce}"
    if not hmac.compare_digest(mac, _mac("studio-session:" + body)):
        return None
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return Viewer(subject=f"session:{nonce}", shown="signed in with the admin key")


def entra_configured() -> bool:
    return bool(get_setting(ENTRA_ISSUER))


def entra_viewer(id_token: str | None) -> Viewer | None:
    """The viewer an Entra ID token (from App Service Authentication) signs in; None without a token or while Entra
    ID is not configured; Unauthorized naming the problem for a token that does not check out."""
    if not id_token or not entra_configured():
        return None
    claims = validate_entra_token(id_token, client_id_too=True)
    subject = str(claims.get("oid") or claims.get("sub") or "")
    shown = str(claims.get("preferred_username") or claims.get("name") or subject)
    return Viewer(subject=f"entra:{subject}", shown=f"signed in as {shown}")


def form_token(viewer: Viewer) -> str:
    return _mac("studio-form:" + viewer.subject)


def check_form_token(viewer: Viewer, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(presented, form_token(viewer)):
        raise Forbidden("this form has expired or did not come from the studio: reload the page and try again")
