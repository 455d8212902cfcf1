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

from fninfer._http import tls_context
from fninfer.core import Environment, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice, WebserviceException
from fninfer_host.azurite import Azurite
from shared.core.errors import InvalidInput
from shared.services.calling import INTERNAL_ERROR, RUN_FAILED
from tests.hosting import RunningHost, eventually

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
    return httpx.post(service.scoring_uri, content=content, headers=headers, timeout=30, verify=tls_context())


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
    assert post(keyed, {"data": 1}, token=keyed.get_keys()[0]).status_code == 200  # the new key works at once
    eventually(lambda: post(keyed, {"data": 1}, token=primary).status_code == 401, timeout=5)  # revoked within 1 s
    assert post(keyed, {"data": 1}, token=secondary).status_code == 200  # untouched

    token, refresh_by = token_service.get_token()
    assert refresh_by.timestamp() > time.time()
    assert post(token_service, {"data": 1}, token=token).status_code == 200
    assert post(token_service, {"data": 1}, token=primary).status_code == 401  # a key is no token
    assert post(keyed, {"data": 1}, token=token).status_code == 401  # nor a token a key
    assert token_service.run(json.dumps({"data": 7})) == {"version": "v1", "echo": 7}  # the SDK gets a token


def test_bad_inputs(services: dict[str, Webservice]) -> None:
    service = services["open"]
    malformed = post(service, None, raw=b"{not json")
    assert malformed.status_code == 400 and "could not be decoded as JSON" in malformed.json()["message"]
    deep = post(service, None, raw=b"[" * 5000 + b"]" * 5000)
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["message"]
    failed = post(service, {"raise": True})  # as Azure ML's server answers; the id is the request's
    assert failed.status_code == 500 and failed.json() == {"message": RUN_FAILED}
    assert "Traceback" not in failed.text and failed.headers["x-ms-run-function-failed"] == "True"
    error_id = failed.headers["x-request-id"]
    assert post(service, {"data": "still serving"}).status_code == 200  # the service keeps serving
    unencodable = post(service, {"unencodable": True})
    assert unencodable.status_code == 500 and unencodable.json() == {"message": INTERNAL_ERROR}
    timed_out = post(service, {"sleep": 3})
    assert timed_out.status_code == 504 and timed_out.json() == {"message": "Scoring timeout after 1500 ms"}
    too_big = post(service, {"data": "x" * 100_001})
    assert too_big.status_code == 413 and "accepts 100000" in too_big.json()["error"]["message"]
    unknown = httpx.post(service.scoring_uri.replace(service.name, "no-such-service"), content=b"{}", timeout=30)
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]["message"]
    assert service.name not in unknown.text  # anyone may call: the 404 does not list the services
    with pytest.raises(WebserviceException, match=r"Response Code: 500, request id \w+.*: An unexpected error occ"):
        service.run(json.dumps({"raise": True}))

    # The traceback of the failure is in the service's logs under the request's id.
    def both_written() -> str | None:  # each instance appends its lines every second
        text = service.get_logs()
        return text if error_id in text and "did not return within 1500 ms" in text else None

    logs = eventually(both_written, timeout=10)
    assert f"run() failed (request id {error_id})" in logs and "ValueError: asked to raise" in logs
    assert "flaky init v1" in logs and "flaky run v1" in logs
    assert "run() returned a dict, which json.dumps cannot encode" in logs
    assert "did not return within 1500 ms" in logs


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
    strict = AciWebservice.deploy_configuration(environment_check="strict")
    missing = deploy(ws, f"missing-{unique}", source(tmp_path, "flaky.py"), strict, env)
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
    assert one.run(json.dumps({"data": 1}))["version"] == "v1"
    assert two.run(json.dumps({"data": 1}))["version"] == "v2"
    assert {s.name for s in Webservice.list(ws)} >= {one.name, two.name}
    two.delete()
    with pytest.raises(WebserviceException, match="does not exist"):
        Webservice(ws, two.name)


def test_the_json_string_encoding_keeps_the_seeds_double_encoded_body(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    config = AciWebservice.deploy_configuration(response_encoding="json-string")
    service = deploy(ws, f"json-string-{unique}", source(tmp_path, "flaky.py"), config)
    assert json.loads(post(service, {"data": 1}).json()) == {"version": "v1", "echo": 1}
    assert json.loads(service.run(json.dumps({"data": 2}))) == {"version": "v1", "echo": 2}
    service.update(response_encoding="json")  # a setting: it applies at once, without a new version
    assert eventually(lambda: post(service, {"data": 3}).json() == {"version": "v1", "echo": 3}, timeout=5)


def test_calls_stay_on_the_last_healthy_version_until_an_update_passes(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    service = deploy(ws, f"rolling-{unique}", source(tmp_path, "flaky.py"), AciWebservice.deploy_configuration())
    broken = InferenceConfig(entry_script="score.py", source_directory=source(tmp_path, "broken_init.py"))
    service.update(inference_config=broken)
    with pytest.raises(WebserviceException, match="cannot load the model"):
        service.wait_for_deployment(timeout_sec=60)
    assert service.state == "Failed"
    assert service.run(json.dumps({"data": 1})) == {"version": "v1", "echo": 1}  # still the old code

    fixed = source(tmp_path / "fixed", "flaky.py")
    (fixed / "score.py").write_text((fixed / "score.py").read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    service.update(inference_config=InferenceConfig(entry_script="score.py", source_directory=fixed))
    service.wait_for_deployment(timeout_sec=60)
    assert service.run(json.dumps({"data": 1})) == {"version": "v2", "echo": 1}


def test_auth_and_settings_updates_apply_without_a_new_version(ws: Workspace, tmp_path: Path, unique: str) -> None:
    service = deploy(ws, f"settings-{unique}", source(tmp_path, "flaky.py"), AciWebservice.deploy_configuration())
    assert post(service, {"data": 1}).status_code == 200
    service.update(auth_enabled=True, scoring_timeout_ms=1000)
    assert (service.state, service.auth_enabled) == ("Healthy", True)  # no redeployment for settings
    eventually(lambda: post(service, {"data": 1}).status_code == 401, timeout=5)  # instances re-read within 1 s
    assert post(service, {"data": 1}, token=service.get_keys()[0]).status_code == 200
    assert post(service, {"sleep": 2}, token=service.get_keys()[0]).status_code == 504
    with pytest.raises(InvalidInput, match="cannot both"):
        service.update(token_auth_enabled=True)  # key auth is on: as in Azure ML, turn it off in the same call
    service.update(auth_enabled=False)
    eventually(lambda: post(service, {"data": 1}).status_code == 200, timeout=5)


def test_helper_modules_come_from_the_services_own_snapshot(ws: Workspace, tmp_path: Path, unique: str) -> None:
    folders = {}
    for value in ("first", "second"):
        folders[value] = source(tmp_path / value, "with_helper.py")
        (folders[value] / "helper.py").write_text(f"VALUE = {value!r}\n")
    first = deploy(ws, f"helper-a-{unique}", folders["first"], LocalWebservice.deploy_configuration())
    second = deploy(ws, f"helper-b-{unique}", folders["second"], LocalWebservice.deploy_configuration())
    assert (first.run("{}"), second.run("{}")) == ("first", "second")  # run() returns a str: the body is that

    (folders["first"] / "helper.py").write_text("VALUE = 'edited'\n")
    first.reload()  # the seeds' debugging loop, with the edit in a helper module rather than the entry script
    assert (first.run("{}"), second.run("{}")) == ("edited", "second")


def test_get_model_path_without_a_version_is_the_deployed_version(ws: Workspace, tmp_path: Path, unique: str) -> None:
    name = f"deployed_{unique}"
    (tmp_path / "model.txt").write_text("one")
    first = Model.register(ws, model_path=str(tmp_path / "model.txt"), model_name=name)
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "score.py").write_text(
        "from pathlib import Path\n"
        "from fninfer.core import Model\n\n"
        "def init():\n"
        f"    global loaded\n    loaded = Path(Model.get_model_path({name!r})).read_text()\n\n"
        "def run(raw):\n"
        f"    return {{'init': loaded, 'run': Path(Model.get_model_path({name!r})).read_text()}}\n"
    )
    inference = InferenceConfig(entry_script="score.py", source_directory=folder)
    service = Model.deploy(ws, f"pinned-{unique}", [first], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=60)
    (tmp_path / "model.txt").write_text("two")
    Model.register(ws, model_path=str(tmp_path / "model.txt"), model_name=name)  # version 2, not deployed
    service.reload()  # a fresh init() and run() with version 2 registered
    service.wait_for_deployment(timeout_sec=60)
    assert service.run("{}") == {"init": "one", "run": "one"}
    service.delete()
