"""The local host's HTTP side, through a real `fninfer start` over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fninfer._http import tls_context
from fninfer_host.azurite import Azurite
from shared.core.storage import Storage
from tests.hosting import RunningHost, eventually, run_host

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
        # As ASP.NET Core routes: percent-decoded, except an encoded slash, which stays inside its segment.
        assert client.get("/api/models/a%2Fb/3").json()["route_params"] == {"name": "a%2Fb", "version": "3"}
        assert client.get("/api/models/a%20b").json()["route_params"] == {"name": "a b"}
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


def serving_instances(host: RunningHost) -> set[int]:
    """The instance indexes that answer, over fresh connections (which the kernel spreads across instances)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        with httpx.Client(base_url=host.base_url, verify=tls_context()) as fresh:
            seen.add(fresh.get("/admin/host/status").json()["instance"])
    return seen


def instance_pids(host: RunningHost) -> set[int]:
    document = json.loads((host.workdir / ".fninfer" / "instances.json").read_text())
    return {item["pid"] for item in document["instances"]}


def test_both_instances_serve(host: RunningHost) -> None:
    assert serving_instances(host) == {0, 1}
    instances = json.loads((host.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    assert sorted(item["index"] for item in instances) == [0, 1]


def test_function_timeout_fails_the_call_and_replaces_the_worker(host: RunningHost) -> None:
    started_before = host.logs().count("Host started: instance ready")
    with host.client() as client:
        assert client.get("/api/slow", params={"seconds": "4"}).status_code == 500
    output = host.wait_for_log("stopped after a function timeout; starting a replacement")
    assert "Timeout value of 00:00:02 exceeded by function 'Functions.slow'" in output
    host.wait_for_log("Host started: instance ready", count=started_before + 1)
    with host.client() as client:
        assert client.get("/api/plain").status_code == 200


def test_a_crashed_instance_is_replaced(host: RunningHost) -> None:
    pids_before = instance_pids(host)
    with host.client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/crash")
    host.wait_for_log("stopped with exit code 70; starting a replacement")
    pids_after = eventually(lambda: (pids := instance_pids(host)) != pids_before and pids)
    assert len(pids_after) == 2 and len(pids_after & pids_before) == 1  # only the crashed one was replaced
    assert serving_instances(host) == {0, 1}


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
        assert status["extensionBundle"] == {
            "id": "Microsoft.Azure.Functions.ExtensionBundle",
            "version": "[4.*, 5.0.0)",
        }
        deep = b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # RecursionError in json: still a 400
        response = client.post("/admin/functions/on_queue", content=deep)
        assert response.status_code == 400 and "input" in response.json()["error"]


def admin_invocation_logs(host: RunningHost, function_name: str) -> list[str]:
    """The user log lines of `function_name`'s invocations started through the admin API."""
    output = host.logs()
    started = (
        f"Executing 'Functions.{function_name}' (Reason='This function was programmatically called via the host APIs."
    )
    ids = [line.split("Id=")[1].rstrip(")") for line in output.splitlines() if started in line]
    return [line for line in output.splitlines() for i in ids if f"Functions.{function_name} (Id={i}): " in line]


def test_admin_invokes_queue_timer_and_blob_functions(host: RunningHost, storage: Storage, unique: str) -> None:
    storage.container("http-app-admin-blobs").upload_blob(f"{unique}.txt", b"blob content", overwrite=True)
    with host.client() as client:
        assert client.post("/admin/functions/on_queue", json={"input": f"hello {unique}"}).status_code == 202
        assert client.post("/admin/functions/YEARLY", json={"input": ""}).status_code == 202  # names: any case
        assert (
            client.post("/admin/functions/on_blob", json={"input": f"http-app-admin-blobs/{unique}.txt"}).status_code
            == 202
        )
        assert client.post("/admin/functions/on_queue").status_code == 400  # no body
        assert client.post("/admin/functions/nosuch", json={"input": "x"}).status_code == 404
    queue_lines = eventually(lambda: admin_invocation_logs(host, "on_queue"))
    assert any(f"queue message 'hello {unique}', dequeue_count None" in line for line in queue_lines)
    assert any("timer past_due False" in line for line in eventually(lambda: admin_invocation_logs(host, "yearly")))
    blob = f"blob http-app-admin-blobs/{unique}.txt, 12 bytes: 'blob content'"
    eventually(lambda: any(blob in line for line in admin_invocation_logs(host, "on_blob")))
