"""Services on a host of two instances, with the app setting FNINFER_RESPONSE_ENCODING: keys regenerated on one
instance work on both at once, a stuck service cannot slow another down, and an entry script that exits or is
interrupted neither kills an instance nor leaves its deployment Transitioning."""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fninfer._http import tls_context
from fninfer.core import Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, AksWebservice, Webservice, WebserviceException
from fninfer_host.azurite import Azurite
from fninfer_host.supervisor import INSTANCES_FILE_NAME
from shared.services.calling import RUN_FAILED
from tests.hosting import RunningHost, eventually, run_host

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "services"


@pytest.fixture(scope="module")
def two_instances(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("two-instances")
    env = {
        "FNINFER_MODEL_CACHE": str(workdir / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(workdir / "snapshots"),
        "FNINFER_RESPONSE_ENCODING": "json-string",  # the app-wide choice of the seeds' body
    }
    with run_host(ROOT, workdir, storage=azurite.connection_string, instances=2, env=env) as host:
        yield host


@pytest.fixture
def ws2(two_instances: RunningHost) -> Workspace:
    return Workspace.from_config(two_instances.config_path)


def deploy(ws: Workspace, name: str, script: str, config: object, tmp_path: Path, wait: bool = True) -> Webservice:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(FIXTURES / script, folder / "score.py")
    service = Model.deploy(ws, name, [], InferenceConfig(entry_script="score.py", source_directory=folder), config)
    if wait:
        service.wait_for_deployment(timeout_sec=90)
    return service


def post(service: Webservice, body: object, key: str | None = None, timeout: float = 30) -> httpx.Response:
    """One call on a new connection, so that calls spread over the instances."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    return httpx.post(
        service.scoring_uri, content=json.dumps(body).encode(), headers=headers, timeout=timeout, verify=tls_context()
    )


def pids(answers: list[httpx.Response]) -> set[int]:
    return {json.loads(answer.json())["pid"] for answer in answers if answer.status_code == 200}


def instance_pids(host: RunningHost) -> list[int]:
    state = json.loads((host.config_path.parent / INSTANCES_FILE_NAME).read_text())
    return sorted(instance["pid"] for instance in state["instances"])


def test_the_app_setting_chooses_the_body_and_a_deployment_overrides_it(
    ws2: Workspace, tmp_path: Path, unique: str
) -> None:
    seeds = deploy(ws2, f"seeds-{unique}", "whoami.py", AciWebservice.deploy_configuration(), tmp_path)
    assert isinstance(json.loads(seeds.run("{}"))["pid"], int)  # a JSON string holding the JSON, as the seeds read
    azure_ml = deploy(
        ws2, f"azml-{unique}", "whoami.py", AciWebservice.deploy_configuration(response_encoding="json"), tmp_path
    )
    assert isinstance(azure_ml.run("{}")["pid"], int)


def test_a_regenerated_key_works_on_every_instance_at_once_and_the_old_one_stops_within_a_second(
    ws2: Workspace, two_instances: RunningHost, tmp_path: Path, unique: str
) -> None:
    service = deploy(ws2, f"keys-{unique}", "whoami.py", AksWebservice.deploy_configuration(), tmp_path)
    old, _ = service.get_keys()
    warm = [post(service, {}, old) for _ in range(30)]  # both instances now hold the record with the old key
    assert all(answer.status_code == 200 for answer in warm) and len(pids(warm)) == 2

    service.regen_key("Primary")
    new, _ = service.get_keys()
    fresh = [post(service, {}, new) for _ in range(30)]
    assert [answer.status_code for answer in fresh] == [200] * 30 and len(pids(fresh)) == 2  # at once, everywhere

    # The old key stops once each instance re-reads the record: within RECORD_CACHE_SECONDS (1 s; the cache's TTL
    # is pinned on a moved clock in tests/unit/test_services_runtime.py, not timed here).
    eventually(lambda: all(post(service, {}, old).status_code == 401 for _ in range(10)), timeout=10)
    refused = [post(service, {}, old) for _ in range(30)]
    assert {answer.status_code for answer in refused} == {401}
    service.delete()


def test_a_stuck_service_answers_503_itself_while_another_keeps_answering(
    ws2: Workspace, tmp_path: Path, unique: str
) -> None:
    config = AciWebservice.deploy_configuration(
        scoring_timeout_ms=500, replica_max_concurrent_requests=2, max_request_wait_time=200
    )
    stuck = deploy(ws2, f"stuck-{unique}", "stuck.py", config, tmp_path)
    healthy = deploy(ws2, f"healthy-{unique}", "whoami.py", AciWebservice.deploy_configuration(), tmp_path)
    stop = threading.Event()
    hammered: list[int] = []

    def hammer() -> None:
        while not stop.wait(0.05):  # ~20 calls a second each: past the stuck service's bound, not a CPU flood
            hammered.append(post(stuck, {}, timeout=30).status_code)

    def latencies() -> list[float]:
        measured = []
        for _ in range(40):  # each call well within its own timeout
            started = time.monotonic()
            assert post(healthy, {}, timeout=5).status_code == 200
            measured.append(time.monotonic() - started)
        return sorted(measured)

    alone = latencies()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(hammer)
        eventually(lambda: hammered.count(503) >= 24, timeout=60)  # its slots are all stuck: it refuses
        meanwhile = latencies()
        stop.set()
    assert set(hammered) <= {503, 504} and 504 in hammered
    print(f"healthy service p50/max: alone {alone[20] * 1000:.0f}/{alone[-1] * 1000:.0f} ms, while the other is ")
    print(f"hammered {meanwhile[20] * 1000:.0f}/{meanwhile[-1] * 1000:.0f} ms ({len(hammered)} calls to it)")
    answer = post(stuck, {})
    assert answer.status_code == 503 and "past the scoring timeout" in answer.json()["error"]["message"]


def test_exits_and_interrupts_in_entry_scripts_are_contained(
    ws2: Workspace, two_instances: RunningHost, tmp_path: Path, unique: str
) -> None:
    before = instance_pids(two_instances)
    failed = deploy(
        ws2, f"argparse-{unique}", "argparse_init.py", AciWebservice.deploy_configuration(), tmp_path, False
    )
    with pytest.raises(WebserviceException, match="SystemExit: 2"):
        failed.wait_for_deployment(timeout_sec=90)
    assert failed.state == "Failed" and "init() raised SystemExit: 2" in (failed.error or "")
    assert "the following arguments are required: --model-name" in failed.get_logs()  # argparse's message

    service = deploy(ws2, f"exits-{unique}", "whoami.py", AciWebservice.deploy_configuration(), tmp_path)
    answers = [post(service, {"exit": 3}) for _ in range(6)] + [post(service, {"interrupt": True}) for _ in range(6)]
    assert {answer.status_code for answer in answers} == {500}
    assert all(answer.json() == {"message": RUN_FAILED} for answer in answers)
    request_ids = [answer.headers["x-request-id"] for answer in (answers[0], answers[-1])]

    def all_written() -> str | None:  # each instance appends its lines every second
        text = service.get_logs()
        return text if all(f"run() failed (request id {rid})" in text for rid in request_ids) else None

    logs = eventually(all_written, timeout=15)
    assert "SystemExit: 3" in logs and "KeyboardInterrupt" in logs
    assert post(service, {}).status_code == 200  # the service and both instances go on
    assert instance_pids(two_instances) == before
