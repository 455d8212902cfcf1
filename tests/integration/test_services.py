"""Real-time services: the auth matrix, bad inputs, logs, state, and two services with the same script name."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fninfer.core import Environment, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, AksWebservice, Webservice, WebserviceException
from fninfer.host.azurite import Azurite
from tests.hosting import RunningHost

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"


def source(tmp: Path, script: str, as_name: str = "score.py") -> Path:
    folder = tmp / f"src-{script}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / script, folder / as_name)
    return folder


def deploy(
    ws: Workspace, name: str, folder: Path, config: object, environment: Environment | None = None
) -> Webservice:
    inference = InferenceConfig(entry_script="score.py", source_directory=folder, environment=environment)
    service = Model.deploy(ws, name, [], inference, config)
    with contextlib.suppress(WebserviceException):  # the tests look at the state
        service.wait_for_deployment(timeout_sec=60)
    return service


@pytest.fixture(scope="module")
def services(
    app_host: RunningHost, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Webservice]]:
    ws = Workspace.from_config(app_host.config_path)
    tmp = tmp_path_factory.mktemp("services")
    folder = source(tmp, "flaky.py")
    suffix = str(int(time.time() * 1000))[-8:]
    found = {
        "open": deploy(
            ws,
            f"open-{suffix}",
            folder,
            AciWebservice.deploy_configuration(scoring_timeout_ms=1500, max_request_bytes=100_000),
        ),
        "keyed": deploy(ws, f"keyed-{suffix}", folder, AksWebservice.deploy_configuration()),
        "other": deploy(ws, f"other-{suffix}", folder, AksWebservice.deploy_configuration()),
        "token": deploy(ws, f"token-{suffix}", folder, AksWebservice.deploy_configuration(token_auth_enabled=True)),
    }
    yield found
    for service in found.values():
        service.delete()


def post(service: Webservice, body: object, token: str | None = None, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(service.scoring_uri, content=content, headers=headers, timeout=30)


def test_auth_matrix(services: dict[str, Webservice]) -> None:
    keyed, other, token_service, open_service = (
        services["keyed"],
        services["other"],
        services["token"],
        services["open"],
    )
    assert post(open_service, {"data": 1}).status_code == 200  # ACI default: no auth
    assert post(keyed, {"data": 1}).status_code == 401  # no credential
    assert post(keyed, {"data": 1}, token="made.up.key.value").status_code == 401  # a wrong one
    primary, secondary = keyed.get_keys()
    assert post(keyed, {"data": 1}, token=primary).status_code == 200
    assert post(keyed, {"data": 1}, token=secondary).status_code == 200
    other_primary, _ = other.get_keys()
    forbidden = post(keyed, {"data": 1}, token=other_primary)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"  # valid, elsewhere

    keyed.regen_key("Primary")
    time.sleep(1.2)  # instances re-read a service record at most once a second
    assert post(keyed, {"data": 1}, token=primary).status_code == 401  # revoked
    assert post(keyed, {"data": 1}, token=keyed.get_keys()[0]).status_code == 200
    assert post(keyed, {"data": 1}, token=secondary).status_code == 200  # untouched

    token, refresh_by = token_service.get_token()
    assert refresh_by.timestamp() > time.time()
    assert post(token_service, {"data": 1}, token=token).status_code == 200
    assert post(token_service, {"data": 1}, token=primary).status_code == 401  # a key is no token
    assert post(keyed, {"data": 1}, token=token).status_code == 401  # nor a token a key
    assert json.loads(token_service.run(json.dumps({"data": 7}))) == {"version": "v1", "echo": 7}  # SDK gets a token


def test_bad_inputs(services: dict[str, Webservice]) -> None:
    service = services["open"]
    malformed = post(service, None, raw=b"{not json")
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]["message"]
    failed = post(service, {"raise": True})
    assert failed.status_code == 500
    error = failed.json()["error"]
    assert "Traceback" not in json.dumps(error) and error["details"]["error_id"]
    assert post(service, {"data": "still serving"}).status_code == 200  # the service keeps serving
    timed_out = post(service, {"sleep": 3})
    assert timed_out.status_code == 504 and timed_out.json()["error"]["code"] == "scoring_timeout"
    too_big = post(service, {"data": "x" * 100_001})
    assert too_big.status_code == 413 and "accepts 100000" in too_big.json()["error"]["message"]
    unknown = httpx.post(service.scoring_uri.replace(service.name, "no-such-service"), content=b"{}", timeout=30)
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]["message"]

    # The traceback of the failure is in the service's logs under the error id.
    deadline = time.monotonic() + 10
    while error["details"]["error_id"] not in service.get_logs() and time.monotonic() < deadline:
        time.sleep(0.3)
    logs = service.get_logs()
    assert error["details"]["error_id"] in logs and "ValueError: asked to raise" in logs
    assert "flaky init v1" in logs and "flaky run v1" in logs


def test_failed_deployments_say_why(ws: Workspace, tmp_path: Path, unique: str) -> None:
    broken = deploy(ws, f"broken-{unique}", source(tmp_path, "broken_init.py"), AciWebservice.deploy_configuration())
    assert broken.state == "Failed" and "cannot load the model" in (broken.error or "")
    with pytest.raises(WebserviceException, match="cannot load the model"):
        broken.wait_for_deployment()
    assert "RuntimeError: cannot load the model" in broken.get_logs()
    assert httpx.post(broken.scoring_uri, content=b"{}", timeout=30).status_code == 503

    env = Environment("needs-missing")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["surely-not-installed-pkg==1.0"])
    env.python.conda_dependencies.add_conda_package("scikit-learn>=99")
    missing = deploy(ws, f"missing-{unique}", source(tmp_path, "flaky.py"), AciWebservice.deploy_configuration(), env)
    assert missing.state == "Failed"
    assert "surely-not-installed-pkg" in (missing.error or "") and "scikit-learn" in (missing.error or "")


def test_two_services_with_the_same_script_name_are_separate_modules(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    first = source(tmp_path / "a", "flaky.py")
    second = source(tmp_path / "b", "flaky.py")
    (second / "score.py").write_text((second / "score.py").read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    one = deploy(ws, f"one-{unique}", first, AciWebservice.deploy_configuration())
    two = deploy(ws, f"two-{unique}", second, AciWebservice.deploy_configuration())
    assert json.loads(one.run(json.dumps({"data": 1})))["version"] == "v1"
    assert json.loads(two.run(json.dumps({"data": 1})))["version"] == "v2"
    assert {s.name for s in Webservice.list(ws)} >= {one.name, two.name}
    two.delete()
    with pytest.raises(Exception, match="does not exist"):
        Webservice(ws, two.name)
