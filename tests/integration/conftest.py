"""Integration fixtures: the real app on a real local host, and a workspace talking to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fninfer._workspace import Workspace
from fninfer_host.azurite import Azurite
from fninfer_host.invoker import Invoker
from tests.hosting import RunningHost, run_host

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """fninfer's own function_app.py served by `fninfer start` on the session's Azurite."""
    workdir = tmp_path_factory.mktemp("app-host")
    env = {"FNINFER_MODEL_CACHE": str(workdir / "models"), "FNINFER_SNAPSHOT_CACHE": str(workdir / "snapshots")}
    with run_host(ROOT, workdir, storage=azurite.connection_string, env=env) as host:
        yield host


@pytest.fixture
def ws(app_host: RunningHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("FNINFER_MODEL_CACHE", str(tmp_path / "model-cache"))
    return Workspace.from_config(app_host.config_path)


@pytest.fixture
def invoker() -> Iterator[Invoker]:
    """An Invoker on its own event loop thread, for running listeners in process."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    invoker = Invoker(loop, ".", function_timeout=30, on_timeout=lambda: None)
    yield invoker
    invoker.shutdown()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
