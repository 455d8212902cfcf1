"""The app's warm-up: `/admin/warmup` on a fresh instance loads every deployed service (init() runs) before any call,
once per instance process, so the first calls find them loaded; without it (the Consumption plan) a service loads
on its first call."""

from __future__ import annotations

from pathlib import Path

import httpx

from fninfer.core import Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice
from fninfer_host.azurite import Azurite
from tests.hosting import run_host

ROOT = Path(__file__).resolve().parents[2]
COUNTING = """import os


def init():
    with open({marker!r}, "a") as handle:
        handle.write(str(os.getpid()) + "\\n")


def run(raw_data):
    return [1]
"""


def inits(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def test_warmup_loads_every_service_once_before_the_first_call(lone_azurite: Azurite, tmp_path: Path) -> None:
    markers = {name: tmp_path / f"{name}.inits" for name in ("one", "two")}
    connection = lone_azurite.connection_string
    with run_host(ROOT, tmp_path / "deploying", storage=connection) as host:
        ws = Workspace.from_config(host.config_path)
        for name, marker in markers.items():
            source = tmp_path / f"src-{name}"
            source.mkdir()
            (source / "score.py").write_text(COUNTING.format(marker=str(marker)))
            config = InferenceConfig(entry_script="score.py", source_directory=source)
            Model.deploy(ws, name, [], config, AciWebservice.deploy_configuration()).wait_for_deployment()
    assert all(len(inits(marker)) == 1 for marker in markers.values())  # the deployments' health checks

    env = {"FNINFER_MODEL_CACHE": str(tmp_path / "m"), "FNINFER_SNAPSHOT_CACHE": str(tmp_path / "s")}
    with run_host(ROOT, tmp_path / "fresh", storage=connection, env=env) as host:
        assert all(len(inits(marker)) == 1 for marker in markers.values())  # nothing loads by itself
        assert httpx.post(f"{host.base_url}/admin/warmup", timeout=60).status_code == 200
        warmed = {name: inits(marker) for name, marker in markers.items()}
        assert all(len(pids) == 2 for pids in warmed.values())  # init() ran on this instance, before any call
        assert httpx.get(f"{host.base_url}/admin/warmup", timeout=60).status_code == 200  # once per process
        for name in markers:
            assert httpx.post(f"{host.base_url}/api/services/{name}/score", content=b"{}").json() == [1]
        assert {name: inits(marker) for name, marker in markers.items()} == warmed  # the calls found them loaded
        assert "Warm-up: loaded 2 service(s): one, two" in host.logs()
