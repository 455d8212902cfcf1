"""How the SDK authenticates: the admin key locally; Entra ID tokens from the given authentication or credential for
an app in Azure, for its API and its storage account."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fninfer._config import WorkspaceConfig
from fninfer._workspace import Workspace
from fninfer.core.authentication import (
    Audience,
    InteractiveLoginAuthentication,
    ServicePrincipalAuthentication,
    TokenAuthentication,
)
from shared.core.errors import FninferError, InvalidInput

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


def test_signed_sessions_and_token_audiences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = WorkspaceConfig(endpoint="http://127.0.0.1:7071", admin_key="k")
    local.write(tmp_path / "config.json")
    monkeypatch.chdir(tmp_path)
    session = InteractiveLoginAuthentication().signed_session()
    assert session.headers["Authorization"] == "Bearer k"
    given = SimpleNamespace(headers={})
    assert InteractiveLoginAuthentication().signed_session(given) is given and given.headers == {
        "Authorization": "Bearer k"
    }
    asked: list[str] = []
    auth = TokenAuthentication(lambda audience: asked.append(audience) or f"t-{len(asked)}")
    assert auth.get_token(Audience.ARM) == "t-1" and asked[-1] == "https://management.core.windows.net/"
    assert auth.get_token(Audience.AZUREML) == "t-2" and asked[-1] == "https://ml.azure.com/"  # no auth_scope here
    assert auth.get_token("api://app/.default").token == "t-3"  # as an azure-identity credential
