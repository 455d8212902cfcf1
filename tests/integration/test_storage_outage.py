"""A storage outage longer than the app's retry budget ends in a clear 503 naming storage, not a hang: through the
SDK (its own StorageUnavailable) and over plain HTTP, on a real host whose Azurite is stopped."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from fninfer.core import Model, Workspace
from fninfer_host.azurite import start_azurite
from shared.core.errors import StorageUnavailable
from shared.core.storage import RETRY
from tests.hosting import run_host

# A fault trial (storage stopped under a host): `make test` and CI run it, the inner loop does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Generous for a busy 2-core machine: the app gives up after about 10 s of backoffs (shared/core/storage.py RETRY); a
#: hang would be the SDK's 120 s timeout or more. This bounds the wait; it is not a speed claim.
BOUND_SECONDS = 60


def test_storage_down_answers_503_naming_storage(tmp_path: Path) -> None:
    assert RETRY["retry_total"] <= 3
    azurite = start_azurite(ROOT)
    try:
        with run_host(ROOT, tmp_path / "host", storage=azurite.connection_string) as host:
            ws = Workspace.from_config(host.config_path)
            assert Model.list(ws) == []  # storage up: the registry answers
            azurite.stop()

            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="storage did not answer") as raised:
                Model.list(ws)
            assert time.monotonic() - started < BOUND_SECONDS
            assert "fninfer-registry" in raised.value.message  # what it was reading

            started = time.monotonic()
            token = {"Authorization": f"Bearer {ws.config.admin_key}"}
            with host.client() as client:
                response = client.get("/api/pipelines/runs", headers=token, timeout=httpx.Timeout(120.0))
            assert time.monotonic() - started < BOUND_SECONDS
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["code"] == "storage_unavailable" and "storage" in error["message"]
    finally:
        azurite.stop()
