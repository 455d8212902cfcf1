"""The SDK's HTTP client for the app: one httpx client, one auth header, errors rebuilt as `shared.errors`."""

from __future__ import annotations

from typing import Any

import httpx

from fninfer._auth import AbstractAuthentication, as_authentication
from fninfer._config import WorkspaceConfig
from shared.errors import FninferError, error_from_body

TIMEOUT = httpx.Timeout(120.0, connect=10.0)


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
        self._http = httpx.Client(base_url=config.api_url + "/", timeout=TIMEOUT, transport=transport)

    def auth_header(self) -> dict[str, str]:
        return self.auth.header_for(self.config)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to `<api>/<path>`; the JSON answer, or the domain error its body describes."""
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
        return body

    def close(self) -> None:
        self._http.close()
