"""Authentication to the app, as `azureml.core.authentication` offers it: each object gives the `Authorization`
header for a workspace config.

Locally the config holds the admin key the host was started with, and every kind of authentication sends it. For an
app in Azure the config names an Entra ID scope (`auth_scope`) and the header carries a token from azure-identity:
an interactive or developer sign-in (Azure CLI, VS Code, browser), a service principal, or a managed identity.
"""

from __future__ import annotations

import os
import time
from enum import Enum
from typing import Any

import httpx

from fninfer._config import WorkspaceConfig, find_config, last_loaded_config
from fninfer._http import tls_context
from shared.core.errors import FninferError, InvalidInput

#: Azure Resource Manager's token audience (Audience.ARM).
ARM_RESOURCE = "https://management.core.windows.net/"
#: Azure ML's token audience, used when no workspace config names the app's own scope (Audience.AZUREML).
AZUREML_RESOURCE = "https://ml.azure.com/"


class Audience(Enum):
    """Mirrors azureml's: the audiences `TokenAuthentication.get_token` takes."""

    ARM = "ARM"
    AZUREML = "AZUREML"


class AbstractAuthentication:
    """What every authentication does: a bearer header for the app a workspace config describes. `cloud` (Azure
    ML's sovereign cloud name) is kept: the app's own endpoint says where it is."""

    def __init__(self, cloud: str | None = None) -> None:
        self._credential: Any = None
        self._cloud = cloud

    def _make_credential(self) -> Any:
        raise NotImplementedError

    def credential(self) -> Any:
        """The azure-identity credential behind this authentication (made on first use): tokens for the app's
        auth_scope, and for the storage account of an app in Azure."""
        if self._credential is None:
            self._credential = self._make_credential()
        return self._credential

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """An access token for `scopes` (azure-core's `AccessToken`), so this object also serves where an
        azure-identity credential is expected, as Azure ML's authentications do."""
        return self.credential().get_token(*scopes, **kwargs)

    def header_for(self, config: WorkspaceConfig) -> dict[str, str]:
        if config.auth_scope:
            return {"Authorization": f"Bearer {self.credential().get_token(config.auth_scope).token}"}
        if not config.admin_key:
            raise FninferError("the workspace config has neither an admin_key nor an auth_scope to authenticate with")
        return {"Authorization": f"Bearer {config.admin_key}"}

    def get_authentication_header(self, config_path: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """The header for the app, as Azure ML's `auth.get_authentication_header()`: pass it to
        `requests.post(endpoint, headers=...)`. The app is the one `config_path` names, else the nearest config
        (`Workspace.from_config`'s search), else the workspace this process loaded last."""
        return self.header_for(_config(config_path))

    def signed_session(self, session: Any = None) -> Any:
        """`session` (anything with a `headers` mapping: a requests Session, an httpx Client), or a new httpx
        Client, with the app's Authorization header on every request it sends, as Azure ML's does."""
        session = session if session is not None else httpx.Client(verify=tls_context())
        session.headers.update(self.get_authentication_header())
        return session


class InteractiveLoginAuthentication(AbstractAuthentication):
    """Mirrors `azureml.core.authentication.InteractiveLoginAuthentication`: a developer's own sign-in."""

    def __init__(self, force: bool = False, tenant_id: str | None = None, cloud: str | None = None) -> None:
        super().__init__(cloud)
        self.tenant_id = tenant_id

    def _make_credential(self) -> Any:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential(
            exclude_interactive_browser_credential=False, interactive_browser_tenant_id=self.tenant_id
        )


class AzureCliAuthentication(AbstractAuthentication):
    """Mirrors `azureml.core.authentication.AzureCliAuthentication`: the account `az login` signed in."""

    def __init__(self, cloud: str | None = None) -> None:
        super().__init__(cloud)

    def _make_credential(self) -> Any:
        from azure.identity import AzureCliCredential

        return AzureCliCredential()


class TokenAuthentication(AbstractAuthentication):
    """Mirrors `azureml.core.authentication.TokenAuthentication`: tokens from a function of yours,
    `get_token_for_audience(audience) -> str`; fninfer passes it the app's auth_scope."""

    def __init__(self, get_token_for_audience: Any, cloud: str | None = None) -> None:
        super().__init__(cloud)
        if not callable(get_token_for_audience):
            raise InvalidInput("TokenAuthentication needs a function get_token_for_audience(audience) -> token")
        self._get_token_for_audience = get_token_for_audience

    def _make_credential(self) -> Any:
        return _CallbackCredential(self._get_token_for_audience)

    def get_token(self, audience: Any = Audience.ARM, *scopes: str, **kwargs: Any) -> Any:
        """With an `Audience` (Azure ML's use): your function's token for it, a string; AZUREML means the app's
        auth_scope when a workspace config names one. With scopes (an azure-identity caller): an AccessToken."""
        if isinstance(audience, Audience):
            if audience is Audience.ARM:
                return str(self._get_token_for_audience(ARM_RESOURCE))
            try:
                scope = _config(None).auth_scope
            except InvalidInput:
                scope = None
            return str(self._get_token_for_audience(scope or AZUREML_RESOURCE))
        return super().get_token(audience, *scopes, **kwargs)


class _CallbackCredential:
    """An azure-identity-shaped credential over a `get_token_for_audience` function."""

    def __init__(self, get_token_for_audience: Any) -> None:
        self._get = get_token_for_audience

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken

        token = self._get(scopes[0] if scopes else None)
        if isinstance(token, AccessToken):
            return token
        return AccessToken(str(token), int(time.time()) + 300)  # no expiry given: ask again within minutes


class ServicePrincipalAuthentication(AbstractAuthentication):
    """Mirrors `azureml.core.authentication.ServicePrincipalAuthentication`: an app registration's secret."""

    def __init__(self, tenant_id: str, service_principal_id: str, service_principal_password: str, **_: Any) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id
        self._secret = service_principal_password

    def _make_credential(self) -> Any:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(self.tenant_id, self.service_principal_id, self._secret)


class MsiAuthentication(AbstractAuthentication):
    """Mirrors `azureml.core.authentication.MsiAuthentication`: the managed identity of the machine it runs on."""

    def __init__(self, identity_config: dict[str, str] | None = None, **_: Any) -> None:
        super().__init__()
        self.client_id = (identity_config or {}).get("client_id")

    def _make_credential(self) -> Any:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=self.client_id)


class TokenCredentialAuthentication(AbstractAuthentication):
    """Any azure-identity credential given as `auth=` (`ClientSecretCredential(...)`, `AzureCliCredential()`, ...)."""

    def __init__(self, credential: Any) -> None:
        super().__init__()
        if not callable(getattr(credential, "get_token", None)):
            raise InvalidInput(
                "auth must be an fninfer.core.authentication object or an azure-identity credential (with "
                f"get_token), not {type(credential).__name__}"
            )
        self._credential = credential


def _config(config_path: str | os.PathLike[str] | None) -> WorkspaceConfig:
    """The workspace config `config_path` names, else the nearest, else the one this process loaded last."""
    try:
        path = find_config(config_path)
    except InvalidInput:
        if config_path is not None or last_loaded_config() is None:
            raise
        path = last_loaded_config()
    return WorkspaceConfig.read(path)


def as_authentication(auth: Any) -> AbstractAuthentication:
    """What `Workspace(auth=...)` was given, as an authentication: ours, a credential, or (None) the default."""
    if auth is None:
        return DefaultSignIn()
    return auth if isinstance(auth, AbstractAuthentication) else TokenCredentialAuthentication(auth)


class DefaultSignIn(InteractiveLoginAuthentication):
    """What a Workspace uses when given no `auth`: the developer's sign-in without a browser prompt."""

    def _make_credential(self) -> Any:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
