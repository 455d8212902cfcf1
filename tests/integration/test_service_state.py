"""Service state is what the instances see: Healthy, Unhealthy when an instance cannot init(), Healthy again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
from pathlib import Path

import pytest

from fninfer.core import Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, Webservice
from shared.core.errors import InvalidInput, NotFound, ServiceUnavailable
from shared.services.calling import ScoringRequest
from shared.services.raw_http import Headers
from shared.services.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"


def call(runtime: Runtime, name: str) -> object:
    """One POST of `{}` to the service, straight to the runtime (as the scoring endpoint calls it): the decoded body."""
    request = ScoringRequest(
        "POST", "http://h/score", "/score", b"", Headers({"Content-Type": "application/json"}), b"{}"
    )
    return json.loads(asyncio.run(runtime.score(name, request)).body)


def test_an_instance_that_cannot_init_makes_the_service_unhealthy_until_one_can(
    ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(FIXTURES / "once.py", folder / "score.py")
    marker = tmp_path / "marker"
    (folder / "marker_path.txt").write_text(str(marker))
    service = Model.deploy(
        ws,
        f"once-{unique}",
        [],
        InferenceConfig("score.py", source_directory=folder),
        AciWebservice.deploy_configuration(),
    )
    service.wait_for_deployment()  # the host's instance ran init() and wrote the marker
    assert service.state == "Healthy" and marker.exists()

    # A second instance (its own runtime, its own snapshot cache) cannot init(): the service is Unhealthy.
    monkeypatch.setenv("FNINFER_SNAPSHOT_CACHE", str(tmp_path / "second-instance"))
    second = Runtime(ws.storage)
    with pytest.raises(ServiceUnavailable, match="Unhealthy"):
        call(second, service.name)
    current = Webservice(ws, service.name)
    assert current.state == "Unhealthy" and "cannot load the model" in (current.error or "")
    second.logs.flush()  # the background flusher would within a second; the test does not wait for it
    assert "RuntimeError: this instance cannot load the model" in current.get_logs()

    marker.unlink()  # the instance recovers: the next call loads, and the service is Healthy again
    assert call(second, service.name) == "ok"
    assert Webservice(ws, service.name).state == "Healthy"


def test_an_overwrite_that_is_not_true_or_false_is_refused_before_anything_is_written(
    ws: Workspace, unique: str
) -> None:
    body = {"snapshot": {"id": "none", "files": []}, "entry_script": "score.py", "overwrite": "false"}
    with pytest.raises(InvalidInput, match="'overwrite' must be true or false"):
        ws.client.request("POST", f"services/flag-{unique}", json=body)
    with pytest.raises(NotFound):
        ws.client.request("GET", f"services/flag-{unique}")


def test_a_deployment_whose_service_was_deleted_meanwhile_is_dropped(ws: Workspace, unique: str) -> None:
    Runtime(ws.storage).deploy(f"deleted-{unique}", 1)  # the queued message finds no service: nothing to retry


def test_concurrent_first_calls_on_an_instance_run_init_once(
    ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(FIXTURES / "once.py", folder / "score.py")  # init() raises if it already ran (its marker exists)
    marker = tmp_path / "marker"
    (folder / "marker_path.txt").write_text(str(marker))
    config = InferenceConfig("score.py", source_directory=folder)
    service = Model.deploy(ws, f"burst-{unique}", [], config, AciWebservice.deploy_configuration())
    service.wait_for_deployment()
    marker.unlink()  # a fresh instance, which has not run init() yet

    monkeypatch.setenv("FNINFER_SNAPSHOT_CACHE", str(tmp_path / "fresh-instance"))
    fresh = Runtime(ws.storage)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: call(fresh, service.name), range(32)))
    assert answers == ["ok"] * 32 and Webservice(ws, service.name).state == "Healthy"
