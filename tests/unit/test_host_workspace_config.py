"""The SDK reads the workspace config file the local host writes: the two agree on its place and its shape without
either importing the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from fninfer.core import Workspace
from fninfer_host.workspace_config import CONFIG_FILE_NAME, STATE_DIR_NAME, LocalWorkspaceConfig

CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/x;"
)


def test_workspace_from_config_reads_what_the_host_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = LocalWorkspaceConfig(
        endpoint="http://127.0.0.1:7123", route_prefix="api", admin_key="the-admin-key", storage=CONNECTION
    )
    path = tmp_path / STATE_DIR_NAME / CONFIG_FILE_NAME
    written.write(path)
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the admin key and an account key
    below = tmp_path / "notebooks" / "deep"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)  # found from a subfolder, as `fninfer start` run at the project's root is

    ws = Workspace.from_config()

    assert ws.config.endpoint == "http://127.0.0.1:7123" and ws.config.api_url == "http://127.0.0.1:7123/api"
    assert (ws.config.admin_key, ws.config.storage) == ("the-admin-key", CONNECTION)
    assert ws.config.is_local and ws.name == "local"
    assert LocalWorkspaceConfig.read(path) == written


def test_an_empty_route_prefix_reaches_the_sdk(tmp_path: Path) -> None:
    LocalWorkspaceConfig(endpoint="http://127.0.0.1:7123", route_prefix="", admin_key="k").write(
        tmp_path / STATE_DIR_NAME / CONFIG_FILE_NAME
    )
    ws = Workspace.from_config(tmp_path)
    assert ws.config.api_url == "http://127.0.0.1:7123" and ws.config.storage is None
