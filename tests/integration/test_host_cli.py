"""`fninfer start` as a user runs it: its own Azurite, config.json, one-line errors, Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fninfer._config import WorkspaceConfig
from fninfer_host import storage_names
from fninfer_host.azurite import Azurite
from fninfer_host.instance import bind_shared_socket
from fninfer_host.storage import HostStorage
from tests.hosting import free_port, run_host

APP = Path(__file__).resolve().parents[1] / "apps" / "http_app"


def start_and_fail(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fninfer_cli", "start", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_starts_its_own_azurite_writes_config_and_stops_everything(tmp_path: Path) -> None:
    with run_host(APP, tmp_path) as host:
        config = WorkspaceConfig.read(host.config_path)
        assert config.endpoint == host.base_url and config.admin_key and config.storage
        assert "BlobEndpoint=http://127.0.0.1:" in config.storage
        azurite_pid = int(
            subprocess.run(["pgrep", "-f", f"azurite.*{tmp_path}"], capture_output=True, text=True).stdout.split()[0]
        )
        with host.client() as client:
            assert client.get("/api/plain").text == "plain text"
        # The Core Tools function list, printed once every instance serves.
        output = host.wait_for_log("on_blob: blobTrigger")
        assert f"        model_route: [GET,POST] {host.base_url}/api/models/{{name}}/{{version:int?}}" in output
        assert "        on_queue: queueTrigger" in output and output.count("Functions:") == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # Ctrl-C stops instances and Azurite within seconds
    assert host.process.returncode == 0
    assert not host.config_path.exists()  # a stopped host leaves no config pointing at it
    assert subprocess.run(["kill", "-0", str(azurite_pid)], capture_output=True).returncode != 0
    assert "Host stopped." in host.logs()
    try:
        httpx.get(f"{host.base_url}/admin/host/status", timeout=2)
        raise AssertionError("the host still answers after Ctrl-C")
    except httpx.ConnectError:
        pass


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = start_and_fail(["--app-dir", str(APP), "--port", str(port), "--storage", "x"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: port {port} is already in use; choose another with --port"
    assert "Traceback" not in result.stdout + result.stderr


def test_a_folder_without_function_app_is_a_one_line_error(tmp_path: Path) -> None:
    result = start_and_fail(["--app-dir", str(tmp_path), "--port", str(free_port())], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: ") and "function_app.py does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_storage_that_does_not_answer_is_a_one_line_error(tmp_path: Path) -> None:
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    )
    result = start_and_fail(["--app-dir", str(APP), "--port", str(free_port()), "--storage", dead], tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: storage does not answer") and len(result.stderr.strip().splitlines()) == 1


def test_an_app_that_fails_to_index_is_a_one_line_error(azurite: Azurite, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text("import azure.functions as func\nraise ImportError('missing thing')\n")
    result = start_and_fail(
        ["--app-dir", str(app), "--port", str(free_port()), "--storage", azurite.connection_string], tmp_path
    )
    assert result.returncode == 1
    assert "Error: importing" in result.stderr and "missing thing" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_lets_instances_release_their_singleton_leases(azurite: Azurite, tmp_path: Path, unique: str) -> None:
    """Otherwise the next start would wait for the lease to expire before its timers run again."""
    lock = HostStorage.from_connection_string(azurite.connection_string).container(storage_names.HOSTS_CONTAINER)
    lock_blob = lock.get_blob_client(storage_names.timer_listener_lock(unique, "yearly"))
    env = {"AzureFunctionsWebHost__hostid": unique}
    with run_host(APP, tmp_path, storage=azurite.connection_string, env=env) as host:
        host.wait_for_log("The next 5 occurrences of the 'yearly' schedule")
        assert lock_blob.get_blob_properties().lease.state == "leased"
    assert host.process.returncode == 0
    assert lock_blob.get_blob_properties().lease.state == "available"


def test_a_port_left_in_time_wait_by_a_stopped_host_can_be_reused(azurite: Azurite, tmp_path: Path) -> None:
    with bind_shared_socket(0) as server:  # the socket options a host instance listens with
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, as a stopping host does: its end stays in TIME_WAIT
        time.sleep(0.1)
        client.close()
    with run_host(APP, tmp_path, storage=azurite.connection_string, port=port) as host, host.client() as client:
        assert client.get("/api/plain").text == "plain text"


def test_an_app_with_queue_or_blob_functions_and_no_extension_bundle_is_refused(
    azurite: Azurite, tmp_path: Path
) -> None:
    """The real host could not index such functions (Storage bindings come from the bundle): refused at start."""
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    host_json = json.loads((APP / "host.json").read_text())
    del host_json["extensionBundle"]
    (app / "host.json").write_text(json.dumps(host_json))
    result = start_and_fail(
        ["--app-dir", str(app), "--port", str(free_port()), "--storage", azurite.connection_string], tmp_path
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'on_queue' (queueTrigger)" in result.stderr and "'on_blob' (blobTrigger)" in result.stderr
    assert '"extensionBundle"' in result.stderr and "plain" not in result.stderr  # HTTP functions need none


def running(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a reaper has stopped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow  # kills instances: `make test` and CI run it, the inner loop does not
def test_instances_and_azurite_die_with_a_supervisor_killed_with_sigkill(tmp_path: Path) -> None:
    with run_host(APP, tmp_path, instances=2) as host:
        children = [int(pid) for pid in subprocess.check_output(["pgrep", "-P", str(host.process.pid)]).split()]
        instances = json.loads((host.config_path.parent / "instances.json").read_text())["instances"]
        assert len(children) == 3 and {i["pid"] for i in instances} < set(children)  # two instances and Azurite
        host.process.kill()
        host.process.wait()
        killed = time.monotonic()
        deadline = killed + 60
        while any(running(pid) for pid in children):
            assert time.monotonic() < deadline, f"still running after 60 s: {[p for p in children if running(p)]}"
            time.sleep(0.05)
        print(f"children gone {time.monotonic() - killed:.2f} s after SIGKILL of the supervisor")
