"""Adapter tests: the management handlers `function_app.py` declares, called directly with `func.HttpRequest`s,
against a real Azurite (no host in between, so these pin the handlers' own contract)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
import pytest

from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.storage import Storage
from tests.declared import http_triggers

ADMIN_KEY = "adapter-test-key"
HANDLERS: dict[str, Callable[[func.HttpRequest], func.HttpResponse]] = {
    function.get_function_name(): function.get_user_function() for function, _ in http_triggers()
}


@pytest.fixture(autouse=True)
def app_settings(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app settings the Functions host would give the app."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("FNINFER_ADMIN_KEY", ADMIN_KEY)


def call(
    function: str,
    method: str = "GET",
    body: bytes | dict[str, Any] = b"",
    key: str | None = ADMIN_KEY,
    params: dict[str, str] | None = None,
    **route_params: str,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    request = func.HttpRequest(
        method, "http://localhost/api/", headers=headers, params=params or {}, route_params=route_params, body=raw
    )
    response = HANDLERS[function](request)
    return response.status_code, json.loads(response.get_body())


def stage(storage: Storage, name: str, files: dict[str, bytes]) -> tuple[str, list[dict[str, Any]]]:
    """Upload content the way the SDK does before registering; returns the upload id and the manifest."""
    upload_id = uuid.uuid4().hex
    container = storage.container(layout.MODELS_CONTAINER)
    for path, content in files.items():
        container.upload_blob(layout.model_content_prefix(name, upload_id) + path, content)
    manifest = [{"path": p, "size": len(c), "sha256": hashlib.sha256(c).hexdigest()} for p, c in files.items()]
    return upload_id, manifest


def register(storage: Storage, name: str, content: bytes = b"weights", **extra: Any) -> tuple[int, Any]:
    upload_id, manifest = stage(storage, name, {"model.pkl": content})
    body = {"upload_id": upload_id, "files": manifest, "single_file": True, **extra}
    return call("register_model", "POST", body, name=name)


def test_register_list_get_and_delete(storage: Storage, unique: str) -> None:
    name = f"adapter_{unique}"
    status, first = register(storage, name, description="first", tags={"stage": "dev"})
    assert status == 201 and (first["name"], first["version"], first["single_file"]) == (name, 1, True)
    assert first["files"][0]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert register(storage, name, b"better")[1]["version"] == 2

    status, listed = call("list_models", params={"name": name})
    assert status == 200 and [r["version"] for r in listed] == [2, 1]
    tagged = call("list_models", params={"name": name, "tags": json.dumps([["stage", "dev"]])})[1]
    assert [r["version"] for r in tagged] == [1]
    assert call("get_model", name=name)[1]["version"] == 2
    assert call("get_model", name=name, version="1")[1]["description"] == "first"

    status, deleted = call("delete_model", "DELETE", name=name, version="2")
    assert status == 200 and deleted == {"deleted": f"{name}:2"}
    assert call("get_model", name=name)[1]["version"] == 1
    assert storage.list_names(layout.MODELS_CONTAINER, first["content_prefix"]) != []


def test_unknown_model_or_version_is_404_naming_what_exists(storage: Storage, unique: str) -> None:
    name = f"known_{unique}"
    status, body = call("get_model", name=name)
    assert status == 404 and body["error"]["message"] == f"model {name!r} is not registered"
    register(storage, name)
    register(storage, name)
    status, body = call("get_model", name=name, version="5")
    assert status == 404 and body["error"]["details"]["versions"] == [1, 2]
    assert "versions: [1, 2]" in body["error"]["message"]
    assert call("delete_model", "DELETE", name=name, version="5")[0] == 404


def test_malformed_json_is_400_naming_the_problem() -> None:
    status, body = call("register_model", "POST", b'{"upload_id": ', name="m")
    assert status == 400 and body["error"]["message"].startswith("the request body is not valid JSON: Expecting")
    assert call("register_model", "POST", b"", name="m")[1]["error"]["message"].startswith("the request body is empty")
    status, body = call("register_model", "POST", b"\xff\xfe", name="m")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = call("list_models", params={"tags": "[unclosed"})
    assert status == 400 and body["error"]["details"] == {"field": "tags"}


@pytest.mark.parametrize("name", ["a/b", "..", "a\\b", "x" * 300, "sp ace"])
def test_a_name_with_path_characters_is_400(name: str) -> None:
    status, body = call("register_model", "POST", {"upload_id": "u", "files": []}, name=name)
    assert status == 400 and body["error"]["code"] == "invalid_input"
    assert call("get_model", name=name)[0] == 400
    assert (
        call("register_dataset", "POST", {"paths": [{"datastore": "workspaceblobstore", "path": "x"}]}, name=name)[0]
        == 400
    )


def test_a_staged_path_escaping_the_upload_is_400(storage: Storage, unique: str) -> None:
    upload_id, manifest = stage(storage, f"esc_{unique}", {"model.pkl": b"x"})
    manifest[0]["path"] = "../other/model.pkl"
    status, body = call("register_model", "POST", {"upload_id": upload_id, "files": manifest}, name=f"esc_{unique}")
    assert status == 400 and body["error"]["code"] == "invalid_input"


def test_an_oversized_body_is_413() -> None:
    status, body = call("register_model", "POST", b" " * (1024 * 1024 + 1), name="m")
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_no_key_or_a_wrong_key_is_401() -> None:
    for key in (None, "wrong-key", ADMIN_KEY + "x", ""):
        status, body = call("list_models", key=key)
        assert status == 401 and body["error"]["code"] == "unauthorized", key
    assert call("openapi", key=None)[0] == 200


def test_a_failed_registration_leaves_no_version(storage: Storage, unique: str) -> None:
    name = f"failed_{unique}"
    upload_id, manifest = stage(storage, name, {"model.pkl": b"real", "vocab.txt": b"words"})
    lying = [{**manifest[0], "sha256": hashlib.sha256(b"fake").hexdigest()}, manifest[1]]
    status, body = call("register_model", "POST", {"upload_id": upload_id, "files": lying}, name=name)
    assert status == 400 and "'model.pkl' has size 4 and sha256" in body["error"]["message"]
    wrong_size = [{**manifest[0], "size": 99}, manifest[1]]
    assert call("register_model", "POST", {"upload_id": upload_id, "files": wrong_size}, name=name)[0] == 400
    status, body = call("register_model", "POST", {"upload_id": upload_id, "files": manifest[:1]}, name=name)
    assert status == 400 and "unexpected ['vocab.txt']" in body["error"]["message"]
    absent = {"path": "absent.bin", "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    status, body = call("register_model", "POST", {"upload_id": upload_id, "files": [*manifest, absent]}, name=name)
    assert status == 400 and "missing ['absent.bin']" in body["error"]["message"]
    assert call("get_model", name=name)[0] == 404
    assert storage.list_names(layout.REGISTRY_CONTAINER, layout.model_versions_prefix(name)) == []
    status, record = call("register_model", "POST", {"upload_id": upload_id, "files": manifest}, name=name)
    assert status == 201 and record["version"] == 1  # the failures consumed no version number


def test_concurrent_registrations_get_distinct_consecutive_versions(storage: Storage, unique: str) -> None:
    name = f"race_{unique}"
    staged = [stage(storage, name, {"model.pkl": f"model {i}".encode()}) for i in range(8)]

    def post(upload: tuple[str, list[dict[str, Any]]]) -> tuple[int, Any]:
        return call("register_model", "POST", {"upload_id": upload[0], "files": upload[1]}, name=name)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, staged))
    assert {status for status, _ in results} == {201}
    assert sorted(record["version"] for _, record in results) == list(range(1, 9))
    # each version records its own upload, not another thread's
    for (upload_id, manifest), (_, record) in zip(staged, results, strict=True):
        assert record["content_prefix"] == layout.model_content_prefix(name, upload_id)
        assert record["files"] == manifest


def test_datasets_register_and_resolve(storage: Storage, unique: str) -> None:
    container = storage.container(layout.DEFAULT_DATASTORE_CONTAINER)
    for path in ("a/1.csv", "a/2.csv", "a/deep/3.csv", "a/notes.txt"):
        container.upload_blob(f"{unique}/{path}", b"1,2\n")
    name = f"ds-{unique}"
    paths = [{"datastore": "workspaceblobstore", "path": f"{unique}/a/*.csv"}]
    status, record = call("register_dataset", "POST", {"paths": paths}, name=name)
    assert status == 201 and record["version"] == 1
    assert call("register_dataset", "POST", {"paths": paths}, name=name)[1]["version"] == 1
    deeper = [{"datastore": "workspaceblobstore", "path": f"{unique}/a/**/*.csv"}]
    status, body = call("register_dataset", "POST", {"paths": deeper}, name=name)
    assert status == 409 and "create_new_version" in body["error"]["message"]
    assert call("register_dataset", "POST", {"paths": deeper, "create_new_version": True}, name=name)[1]["version"] == 2
    status, files = call("dataset_files", name=name, version="1")
    assert status == 200 and [f["path"] for f in files] == [f"{unique}/a/1.csv", f"{unique}/a/2.csv"]
    assert len(call("dataset_files", name=name, version="2")[1]) == 3
    assert name in {d["name"] for d in call("list_datasets")[1]}
    status, body = call("get_dataset", name=name, version="3")
    assert status == 404 and body["error"]["details"]["versions"] == [1, 2]
    unknown = [{"datastore": "nosuchstore", "path": "x/*.csv"}]
    status, body = call("register_dataset", "POST", {"paths": unknown}, name=name)
    assert status == 404 and "workspaceblobstore" in body["error"]["message"]
    first = call("list_datastores")[1][0]
    assert (first["name"], first["container_name"]) == ("workspaceblobstore", "fninfer-datastore")
