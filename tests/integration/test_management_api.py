"""The management API's bad-input contract, over plain HTTP against the real host."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from fninfer.core import Workspace
from shared.core import layout
from tests.hosting import RunningHost


@pytest.fixture
def api(app_host: RunningHost) -> httpx.Client:
    key = app_host.config.admin_key
    return httpx.Client(base_url=f"{app_host.base_url}/api", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def stage(ws: Workspace, name: str, content: bytes) -> tuple[str, dict[str, object]]:
    upload_id = uuid.uuid4().hex
    container = ws.storage.container(layout.MODELS_CONTAINER)
    container.upload_blob(layout.model_content_prefix(name, upload_id) + "model.bin", content)
    entry = {"path": "model.bin", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    return upload_id, entry


def test_no_key_or_a_wrong_key_is_401(app_host: RunningHost) -> None:
    with app_host.client() as client:
        response = client.get("/api/models")
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        wrong = client.get("/api/models", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]["message"]
        assert client.get("/api/openapi.json").status_code == 200  # the API description needs no key


def test_malformed_json_is_400_naming_the_problem(api: httpx.Client) -> None:
    response = api.post("/models/m", content=b"{not json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    response = api.post("/models/m", json=[1, 2])
    assert response.status_code == 400 and "JSON object" in response.json()["error"]["message"]
    response = api.post("/models/m", json={"upload_id": "u", "files": "nope"})
    assert response.status_code == 400 and response.json()["error"]["details"]["field"] == "files"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deeply_is_400_not_500(api: httpx.Client, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    response = api.post("/models/m", content=b'{"upload_id": "u", "files": ' + deep + b"}")
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]["message"]
    if depth == 1_000:  # a query string stays within URL limits
        response = api.get("/models", params={"tags": deep.decode()})
        assert response.status_code == 400 and "'tags' is nested too deeply" in response.json()["error"]["message"]


def test_names_with_path_characters_are_400(api: httpx.Client) -> None:
    response = api.post("/models/a..b", json={"upload_id": "u", "files": []})
    assert response.status_code == 400 and "not valid" in response.json()["error"]["message"]
    assert api.get("/models/a%2Fb").status_code in (400, 404)  # never a path into another model


def test_an_oversized_body_is_413(api: httpx.Client) -> None:
    response = api.post("/models/m", content=b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_a_failed_registration_leaves_no_version(api: httpx.Client, ws: Workspace, unique: str) -> None:
    name = f"fail_{unique}"
    upload_id, entry = stage(ws, name, b"real content")
    lying = {**entry, "sha256": hashlib.sha256(b"other").hexdigest()}
    response = api.post(f"/models/{name}", json={"upload_id": upload_id, "files": [lying]})
    assert response.status_code == 400 and "not the declared" in response.json()["error"]["message"]
    missing = {"path": "absent.bin", "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    response = api.post(f"/models/{name}", json={"upload_id": upload_id, "files": [entry, missing]})
    assert response.status_code == 400 and "absent.bin" in response.json()["error"]["message"]
    assert api.get(f"/models/{name}").status_code == 404
    assert api.post(f"/models/{name}", json={"upload_id": upload_id, "files": [entry]}).json()["version"] == 1


def test_unknown_version_is_404_naming_versions(api: httpx.Client, ws: Workspace, unique: str) -> None:
    name = f"v_{unique}"
    upload_id, entry = stage(ws, name, b"abc")
    assert api.post(f"/models/{name}", json={"upload_id": upload_id, "files": [entry]}).status_code == 201
    response = api.get(f"/models/{name}/9")
    assert response.status_code == 404 and response.json()["error"]["details"]["versions"] == [1]
    assert api.delete(f"/models/{name}/9").status_code == 404


def test_a_replayed_registration_is_409_and_keeps_the_first(api: httpx.Client, ws: Workspace, unique: str) -> None:
    name = f"replay_{unique}"
    upload_id, entry = stage(ws, name, b"weights")
    body = {"upload_id": upload_id, "files": [entry]}
    assert api.post(f"/models/{name}", json=body).status_code == 201
    response = api.post(f"/models/{name}", json=body)  # one content must never back two versions
    assert response.status_code == 409 and response.json()["error"]["details"] == {"field": "upload_id"}
    assert [m["version"] for m in api.get("/models", params={"name": name}).json()] == [1]


def test_versions_are_checked_by_the_app_with_json_errors(api: httpx.Client) -> None:
    """No route constraint on {version}: a value the host's int32 `:int` would not match still gets a JSON answer."""
    for path, status in (("/models/m/99999999999", 404), ("/models/m/abc", 400), ("/models/m/0", 400)):
        response = api.get(path)
        assert response.status_code == status and response.json()["error"]["code"], path
    assert api.delete("/models/m/+1").status_code == 400
    assert api.get("/datasets/d/1_0/files").json()["error"]["details"]["field"] == "version"
