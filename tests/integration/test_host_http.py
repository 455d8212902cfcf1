"""The local host's HTTP side, through a real `fninfer start` over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fninfer.host.azurite import Azurite
from tests.hosting import RunningHost, run_host

APP = Path(__file__).resolve().parents[1] / "apps" / "http_app"


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    with run_host(APP, tmp_path_factory.mktemp("http-host"), storage=azurite.connection_string, instances=2) as host:
        yield host


def test_route_templates_params_headers_and_body(host: RunningHost) -> None:
    with host.client() as client:
        response = client.post("/api/Models/abc/3", params={"x": "1"}, headers={"X-Test-Header": "hi"}, content="b")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "route_params": {"name": "abc", "version": "3"},
            "params": {"x": "1"},
            "method": "POST",
            "body": "b",
            "header": "hi",
        }
        assert client.get("/api/models/abc").json()["route_params"] == {"name": "abc"}  # optional omitted
        assert client.get("/api/models/abc/notanint").status_code == 404  # constraint
        assert client.get("/api/items/recent").text == "recent"
        assert client.get("/api/items/7").text == "item 7"
        assert client.delete("/api/items/7").status_code == 404  # method mismatch is 404, as in the host
        assert client.get("/items/7").status_code == 404  # outside the route prefix
        assert client.get("/api/plain").text == "plain text"
        assert client.get("/api/plain").headers["x-served-by"] == "fninfer-test"  # host.json customHeaders


def test_async_functions_run_on_the_loop(host: RunningHost) -> None:
    with host.client() as client:
        response = client.post("/api/async-echo", content=b"echo")
    assert (response.status_code, response.content) == (201, b"echo")


def test_an_exception_is_a_bare_500_and_the_traceback_is_in_the_log(host: RunningHost) -> None:
    with host.client() as client:
        response = client.get("/api/boom")
    assert response.status_code == 500
    assert b"secret" not in response.content and b"Traceback" not in response.content
    output = host.wait_for_log("RuntimeError: secret internal detail")
    failed = [line for line in output.splitlines() if "Executed 'Functions.boom' (Failed, Id=" in line]
    invocation_id = failed[0].split("Id=")[1].split(",")[0]
    assert f"Functions.boom (Id={invocation_id}): about to fail in invocation {invocation_id}" in output


def test_an_oversized_body_is_413(azurite: Azurite, tmp_path: Path) -> None:
    env = {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"}
    with run_host(APP, tmp_path, storage=azurite.connection_string, env=env) as small, small.client() as client:
        assert client.post("/api/async-echo", content=b"x" * 1001).status_code == 413
        assert client.post("/api/async-echo", content=b"x" * 1000).status_code == 201


def test_both_instances_serve(host: RunningHost) -> None:
    seen = set()
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        with httpx.Client(base_url=host.base_url) as fresh:  # a new connection each time, spread by the kernel
            seen.add(fresh.get("/admin/host/status").json()["instance"])
    assert seen == {0, 1}
    instances = json.loads((host.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    assert sorted(item["index"] for item in instances) == [0, 1]


def test_function_timeout_fails_the_call_and_replaces_the_worker(host: RunningHost) -> None:
    restarts_before = host.logs().count("starting a replacement")
    with host.client() as client:
        assert client.get("/api/slow", params={"seconds": "4"}).status_code == 500
    output = host.wait_for_log("starting a replacement", count=restarts_before + 1)
    assert "Timeout value of 00:00:02 exceeded by function 'Functions.slow'" in output
    host.wait_for_log("Host started: instance ready", count=3)  # two at start, one replacement
    with host.client() as client:
        assert client.get("/api/plain").status_code == 200


def test_admin_endpoints(host: RunningHost) -> None:
    with host.client() as client:
        status = client.get("/admin/host/status").json()
        assert status["state"] == "Running" and status["id"]
        names = {function["name"] for function in client.get("/admin/functions").json()}
        assert {"get_item", "boom", "async_echo"} <= names
        assert client.get("/admin/functions/get_item").json()["trigger"] == "httpTrigger"
        assert client.get("/admin/functions/nosuch").status_code == 404
        assert client.post("/admin/functions/get_item", json={"input": "x"}).status_code == 400
        assert client.post("/admin/functions/get_item", content=b"not json").status_code == 400
