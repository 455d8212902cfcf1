"""fninfer's scoring answers side by side with Azure ML's own scoring server (`azureml-inference-server-http`), on the
same entry scripts (tests/fixtures/services/parity/), case by case: status, body and content type.

Azure ML's server runs from its own venv (`make aml-server-venv` builds `.venv-aml-server`; `AML_SERVER_VENV` names
another); without it these tests skip. Where fninfer answers differently on purpose, `DIFFERENCES` says what and why,
and the test checks that the difference is exactly that one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fninfer._http import tls_context
from fninfer.core import Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice
from tests.hosting import RunningHost, eventually, free_port

# Starts Azure ML's own scoring server (its venv) beside fninfer: `make test` and CI run it, the inner loop does not.
# One xdist worker for the module: Azure ML's server, its module fixture, is the expensive part (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("aml-server-parity")]

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "tests" / "fixtures" / "services" / "parity"
VENV = Path(os.environ.get("AML_SERVER_VENV", ROOT / ".venv-aml-server"))
SERVER = VENV / "bin" / "azmlinfsrv"


@dataclass(frozen=True)
class Case:
    name: str
    method: str = "POST"
    body: bytes = b""
    query: str = ""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def case(name: str) -> Case:
    return Case(name, body=json.dumps({"case": name}).encode())


RESULTS = [
    *(
        case(name)
        for name in (
            "list",
            "json_string",
            "str",
            "dict",
            "none",
            "int",
            "float",
            "bool",
            "empty_string",
            "unicode",
            "tuple",
            "nan",
            "infinity",
            "bytes",
            "numpy_array",
            "numpy_int",
            "numpy_float",
            "numpy_list_of_floats",
            "pandas_frame",
            "pandas_records",
            "set",
            "aml_response_text",
            "aml_response_bytes",
            "aml_response_json",
            "aml_response_none",
            "aml_response_error",
            "aml_response_headers",
            "aml_response_teapot",
            "raise",
            "echo",
        )
    ),
    Case("get_with_query", method="GET", query="case=list", content_type=None),
    Case("options", method="OPTIONS", content_type=None),
    Case("text_body_not_json", body=b"hello", content_type="text/plain"),
    Case("not_utf8", body=b"\xff\xfe", content_type="text/plain"),
    Case("invalid_json", body=b"{not json"),
    # Last: on Azure ML's server these end the worker process (it restarts and runs init() again).
    case("sys_exit"),
    case("keyboard_interrupt"),
]
SCHEMA = [
    Case("numpy_only", body=b'{"data": [[1, 2, 3, 4]]}'),
    Case(
        "all_parameters",
        body=json.dumps(
            {"data": [[1, 2, 3, 4], [1, 1, 1, 1]], "frame": [{"a": 1, "b": "x"}], "options": {"scale": 2}}
        ).encode(),
    ),
    Case("missing_parameter", body=b"{}"),
    Case("not_an_object", body=b"[1]"),
    Case("not_json_content_type", body=b'{"data": [[1, 2, 3, 4]]}', content_type="text/plain"),
    Case("invalid_json", body=b"{not json"),
    Case("empty_body", body=b""),
    Case("get_with_query", method="GET", query="data=[[1,2,3,4]]", content_type=None),
    Case("wrong_shape", body=b'{"data": "not an array"}'),
    Case("options", method="OPTIONS", content_type=None),
]
RAWHTTP = [
    Case("get", method="GET", query="a=1&b=2", content_type=None),
    Case("post_bytes", body=b"\x00\x01binary"),
    Case("post_json", query="mode=json", body=b'{"x": [1, 2]}'),
    Case("post_headers", query="mode=headers", body=b"{}", headers=(("X-Test", "yes"),)),
    Case("post_plain", query="mode=plain", body=b"some text", content_type="text/plain"),
    Case(
        "post_form",
        query="mode=form",
        body=(
            b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n\x89PNG\x00\x01\r\n--XyZ--\r\n"
        ),
        content_type="multipart/form-data; boundary=XyZ",
    ),
    Case(
        "post_werkzeug",
        query="mode=werkzeug&tag=a&tag=b",
        body=b"{}",
        headers=(("Cookie", "session=abc; theme=dark"), ("Accept", "application/json"), ("User-Agent", "ci/1.0")),
    ),
    Case("options", method="OPTIONS", content_type=None),
]
HEADERS = [Case("request_headers", body=b'{"a": 1}', headers=(("X-Test", "yes"),))]
SCRIPTS = {"results.py": RESULTS, "schema.py": SCHEMA, "rawhttp.py": RAWHTTP, "headers.py": HEADERS}

#: (script, case) -> what differs, and why. Everything else must match exactly.
DIFFERENCES = {
    ("results.py", "invalid_json"): (
        "fninfer answers 400 {message} for a body that claims JSON and is not; Azure ML's server passes it to run(), "
        "whose json.loads raises: 500"
    ),
    ("results.py", "sys_exit"): (
        "Azure ML's worker process exits (gunicorn's bare HTML 500, then a restart and a new init()); fninfer "
        "contains it: the run-failed 500 {message} with a log line, and the instance goes on"
    ),
    ("results.py", "keyboard_interrupt"): "as sys_exit",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    run_failed: str | None

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(
            response.status_code,
            response.content,
            response.headers.get("content-type", ""),
            response.headers.get("x-ms-run-function-failed"),
        )


@pytest.fixture(scope="module")
def venv_server() -> Path:
    if not SERVER.exists():
        pytest.skip(f"Azure ML's scoring server is not installed in {VENV} (make aml-server-venv)")
    return SERVER


@contextlib.contextmanager
def azure_ml_server(script: str, service: str, workdir: Path) -> Iterator[str]:
    """Azure ML's server on `script`, named and prefixed as the fninfer service is (for the Swagger documents)."""
    port = free_port()
    env = {
        **os.environ,
        "SERVICE_NAME": service,
        "SERVICE_PATH_PREFIX": f"api/services/{service}",
        "AZUREML_LOG_LEVEL": "WARNING",
    }
    log = (workdir / f"{script}.log").open("wb")
    process = subprocess.Popen(
        [str(SERVER), "--entry_script", script, "--port", str(port)],
        cwd=PARITY,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _healthy(url), timeout=90)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@dataclass(frozen=True)
class Pair:
    """A script served twice under one name: by fninfer (a deployed service) and by Azure ML's server."""

    name: str
    fninfer: str
    azure_ml: str


@pytest.fixture(scope="module")
def served(
    venv_server: Path, app_host: RunningHost, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Pair]]:
    """Each script's Pair, made the first time a test asks for it and kept for the module's other tests of that
    script: a deployment and an Azure ML server start are most of a test's time."""
    ws = Workspace.from_config(app_host.config_path)
    pairs: dict[str, Pair] = {}
    with contextlib.ExitStack() as servers:

        def pair(script: str) -> Pair:
            if script not in pairs:
                workdir = tmp_path_factory.mktemp("parity")
                name = f"parity-{Path(script).stem}-{uuid.uuid4().hex[:8]}"
                fninfer = deploy_script(ws, script, name, workdir)
                pairs[script] = Pair(name, fninfer, servers.enter_context(azure_ml_server(script, name, workdir)))
            return pairs[script]

        yield pair


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=5, verify=tls_context()).status_code == 200
    except httpx.HTTPError:
        return False


def send(base: str, path: str, case: Case) -> Answer:
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    url = f"{base}{path}" + (f"?{case.query}" if case.query else "")
    return Answer.of(
        httpx.request(case.method, url, content=case.body, headers=headers, timeout=60, verify=tls_context())
    )


def deploy_script(ws: Workspace, script: str, name: str, tmp_path: Path) -> str:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(PARITY / script, folder / script)
    inference = InferenceConfig(entry_script=script, source_directory=folder)
    service = Model.deploy(ws, name, [], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=90)
    return service.scoring_uri.rsplit("/score", 1)[0]


def compare(script: str, fninfer: str, azure_ml: str, prefix: str) -> list[str]:
    """Every case of `script` on both servers; the rows of the comparison, failing rows starting with 'MISMATCH'."""
    rows = []
    for case in SCRIPTS[script]:
        theirs = send(azure_ml, "/score", case)
        if case.name in ("sys_exit", "keyboard_interrupt"):
            eventually(lambda: _healthy(azure_ml), timeout=90)  # the worker they ended comes back
        ours = send(fninfer, "/score", case)
        if script == "rawhttp.py":  # the request's path is the scoring URI's: Azure ML's is /score
            ours = Answer(ours.status, ours.body.replace(prefix.encode(), b""), ours.content_type, ours.run_failed)
        same = ours == theirs
        difference = DIFFERENCES.get((script, case.name))
        verdict = "same" if same else f"differs on purpose: {difference}" if difference else "MISMATCH"
        rows.append(f"{verdict[:8]:>8} {script}/{case.name}: azure ml {theirs} | fninfer {ours}")
        if difference and same:
            rows.append(f"MISMATCH {script}/{case.name}: documented as different but the same")
    return rows


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_answers_match_azure_mls_scoring_server(script: str, served: Callable[[str], Pair]) -> None:
    pair = served(script)
    rows = compare(script, pair.fninfer, pair.azure_ml, f"/api/services/{pair.name}")
    print("\n".join(rows))
    assert not [row for row in rows if row.startswith("MISMATCH")], "\n".join(rows)


@pytest.mark.parametrize(
    ("script", "version"), [("schema.py", v) for v in (None, "2", "3", "3.1", "4")] + [("results.py", None)]
)
def test_swagger_documents_match_azure_mls(script: str, version: str | None, served: Callable[[str], Pair]) -> None:
    pair = served(script)
    query = {"version": version} if version else {}
    ours = httpx.get(f"{pair.fninfer}/swagger.json", params=query, timeout=30)
    theirs = httpx.get(f"{pair.azure_ml}/swagger.json", params=query, timeout=30)
    assert ours.status_code == theirs.status_code
    expected = theirs.json()
    if theirs.status_code == 200:
        expected["paths"].pop(f"/api/services/{pair.name}/")  # the health check fninfer does not serve
    assert ours.json() == expected
