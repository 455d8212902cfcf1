"""How the SDK authenticates: the admin key locally; Entra ID tokens from the given authentication or credential for
an app in Azure, for its API and its storage account."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fninfer._config import WorkspaceConfig
from fninfer._workspace import Workspace
from fninfer.core.authentication import InteractiveLoginAuthentication, ServicePrincipalAuthentication
from shared.errors import FninferError, InvalidInput

AZURE = WorkspaceConfig(
    endpoint="https://fninfer-demo.azurewebsites.net", storage_account="fninferdemo", auth_scope="api://app/.default"
)


class FakeCredential:
    """Stands in for an azure-identity credential: records the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_: Any) -> Any:
        self.scopes += scopes
        return SimpleNamespace(token=f"token-for-{scopes[0]}", expires_on=2**40)


def test_locally_the_admin_key_is_sent_whatever_the_authentication(tmp_path: Path) -> None:
    local = WorkspaceConfig(endpoint="http://127.0.0.1:7071", admin_key="k")
    assert Workspace(local).client.auth_header() == {"Authorization": "Bearer k"}
    assert Workspace(local, auth=FakeCredential()).client.auth_header() == {"Authorization": "Bearer k"}
    path = tmp_path / "config.json"
    local.write(path)
    assert InteractiveLoginAuthentication().get_authentication_header(path) == {"Authorization": "Bearer k"}


def test_in_azure_a_credential_gets_tokens_for_the_app_and_the_storage_account() -> None:
    credential = FakeCredential()
    ws = Workspace(AZURE, auth=credential)
    assert ws.client.auth_header() == {"Authorization": "Bearer token-for-api://app/.default"}
    assert credential.scopes == ["api://app/.default"]
    assert ws.storage.blobs.credential is credential  # identity-based storage uses the same credential
    assert ws.storage.blobs.url.startswith("https://fninferdemo.blob.core.windows.net")
    sp = ServicePrincipalAuthentication("tenant", "client", "secret")
    assert type(Workspace(AZURE, auth=sp).storage.blobs.credential).__name__ == "ClientSecretCredential"


def test_what_cannot_authenticate_is_named() -> None:
    with pytest.raises(InvalidInput, match="azure-identity credential"):
        Workspace(AZURE, auth="my-password")
    with pytest.raises(FninferError, match="neither an admin_key nor an auth_scope"):
        Workspace(WorkspaceConfig(endpoint="http://x")).client.auth_header()
