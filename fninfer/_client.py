"""The SDK's HTTP client for the app: one httpx client, one auth header, errors rebuilt as `shared.core.errors`."""

from __future__ import annotations

import re
from typing import Any

import httpx

from fninfer._auth import AbstractAuthentication, as_authentication
from fninfer._config import WorkspaceConfig
from fninfer._exceptions import UserErrorException
from fninfer._http import tls_context
from shared.core import validators
from shared.core.errors import FninferError, InvalidInput, error_from_body

TIMEOUT = httpx.Timeout(120.0, connect=10.0)

#: What one segment of a management URL may be: a name as the app accepts it (shared/core/layout.py) or a version.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def check_path(path: str) -> str:
    """Refuse a URL path that is not made of names: a name holding '/', '..', '%', '?', '#', spaces or control
    characters would otherwise address another resource of the app (`Webservice(ws, "../models/x/1")`). Every
    request goes through here, so every SDK module is covered, whoever built the path."""
    for segment in path.split("/"):
        if not _SEGMENT.fullmatch(segment) or ".." in segment:
            raise UserErrorException(
                f"{segment!r} cannot be part of a name: names use 1-255 letters, digits, '-', '_' or '.', start "
                f"with a letter or digit, and hold no '/', '..' or other characters (in request path {path!r})",
                field="name",
            )
    return path


def check_name(kind: str, name: object) -> str:
    """A name the app would accept (shared/core/layout.py's rule), checked here so the SDK's own error says so."""
    try:
        return validators.validate_name(kind, name)
    except InvalidInput as exc:
        raise UserErrorException(exc.message, **exc.details) from exc


def api_path(*parts: str | int) -> str:
    """A management URL path from its parts, each checked to be one name (a name holding '/' is refused rather
    than read as more path)."""
    for part in parts:
        if "/" in str(part):
            raise UserErrorException(f"name {str(part)!r} cannot hold '/'", field="name")
    return check_path("/".join(str(part) for part in parts))


class AppClient:
    """Talks to the app's management API. Locally the admin key authenticates; for an app in Azure whose config
    names an `auth_scope`, an Entra ID token from azure-identity does."""

    def __init__(
        self,
        config: WorkspaceConfig,
        transport: httpx.BaseTransport | None = None,
        auth: Any = None,
    ) -> None:
        self.config = config
        self.auth: AbstractAuthentication = as_authentication(auth)
        self._http = httpx.Client(
            base_url=config.api_url + "/", timeout=TIMEOUT, transport=transport, verify=tls_context()
        )

    def auth_header(self) -> dict[str, str]:
        return self.auth.header_for(self.config)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to `<api>/<path>`; the JSON answer, or the domain error its body describes."""
        return self._exchange(method, path, **kwargs)[0]

    def get_with_etag(self, path: str, params: dict[str, str] | None = None) -> tuple[Any, str | None]:
        """GET `<api>/<path>`: the JSON answer and its ETag (what `?wait=` takes, see fninfer/_waiting.py)."""
        return self._exchange("GET", path, params=params)

    def _exchange(self, method: str, path: str, **kwargs: Any) -> tuple[Any, str | None]:
        check_path(path)
        try:
            response = self._http.request(method, path, headers=self.auth_header(), **kwargs)
        except httpx.TransportError as exc:
            raise FninferError(f"the app at {self.config.endpoint} did not answer: {exc}") from exc
        body: Any
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.is_error:
            raise error_from_body(response.status_code, body)
        return body, response.headers.get("etag")

    def close(self) -> None:
        self._http.close()
