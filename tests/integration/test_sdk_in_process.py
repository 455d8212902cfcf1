"""The SDK against the app's own handlers in process: an httpx transport routes each request to the function
`function_app.py` declares for it (no host, no sockets), so the SDK/handler contract is pinned on its own and the
SDK's `transport=` seam is exercised. Storage is the session's real Azurite."""

from __future__ import annotations

import hashlib
from pathlib import Path

import azure.functions as func
import httpx
import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer._config import WorkspaceConfig
from fninfer.core import Dataset, Model, Workspace
from fninfer_host.azurite import Azurite
from fninfer_host.routing import build_routes, match_route
from shared.core.errors import FninferError, NotFound
from tests.declared import http_triggers

ADMIN_KEY = "in-process-key"


class InProcessTransport(httpx.BaseTransport):
    """Dispatches requests to the declared HTTP functions, matching routes in registration order as the host does."""

    def __init__(self, route_prefix: str = "api") -> None:
        triggers = http_triggers()
        self.prefix = "/" + route_prefix
        self.handlers = {function.get_function_name(): function.get_user_function() for function, _ in triggers}
        self.routes = build_routes(
            (function.get_function_name(), trigger.route, [str(m) for m in trigger.methods or []])
            for function, trigger in triggers
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(self.prefix)
        found = match_route(self.routes, request.method, path)
        if found is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": f"no route {path}"}})
        route, values = found
        http_request = func.HttpRequest(
            request.method,
            str(request.url),
            headers=dict(request.headers),
            params=dict(request.url.params),
            route_params=values,
            body=request.read(),
        )
        response = self.handlers[route.function_name](http_request)
        return httpx.Response(response.status_code, headers=dict(response.headers), content=response.get_body())


@pytest.fixture
def ws(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("FNINFER_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("FNINFER_MODEL_CACHE", str(tmp_path / "cache"))
    config = WorkspaceConfig(endpoint="http://in-process", admin_key=ADMIN_KEY, storage=azurite.connection_string)
    return Workspace(config, _transport=InProcessTransport())


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features, labels = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("iris") / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    return path


def test_register_find_load_and_delete(ws: Workspace, iris_model: Path, unique: str) -> None:
    name = f"inproc_{unique}"
    model = Model.register(workspace=ws, model_name=name, model_path=str(iris_model), tags={"algo": "logreg"})
    assert (model.id, model.tags) == (f"{name}:1", {"algo": "logreg"})
    assert (
        model.sha256
        == hashlib.sha256(f"model.pkl\0{hashlib.sha256(iris_model.read_bytes()).hexdigest()}\n".encode()).hexdigest()
    )
    assert Model.register(ws, model_path=iris_model, model_name=name).version == 2
    assert [m.version for m in Model.list(ws, name=name)] == [2, 1]
    assert ws.models[name].version == 2
    loaded = joblib.load(Model.get_model_path(name, version=1, _workspace=ws))
    assert loaded.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).tolist() == [0]
    Model(ws, name, version=2).delete()
    with pytest.raises(NotFound, match=r"versions: \[1\]"):
        Model(ws, name, version=2)


def test_datasets_through_the_handlers(ws: Workspace, tmp_path: Path, unique: str) -> None:
    (tmp_path / "data").mkdir()
    for index in range(3):
        (tmp_path / "data" / f"{index}.csv").write_text("1,2,3,4\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(tmp_path / "data"), target_path=f"{unique}/in", show_progress=False)
    dataset = Dataset.File.from_files(path=(datastore, f"{unique}/in/*.csv"))
    registered = dataset.register(ws, f"inproc-{unique}")
    assert ws.datasets(f"inproc-{unique}").to_path() == registered.to_path() == ["/0.csv", "/1.csv", "/2.csv"]


class LostAnswerTransport(InProcessTransport):
    """The app registers the model, but its answer never reaches the SDK (a timeout, a dropped connection)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_lost_answer_never_deletes_content_a_version_may_use(ws: Workspace, iris_model: Path, unique: str) -> None:
    name = f"lost_{unique}"
    flaky = Workspace(ws.config, _transport=LostAnswerTransport())
    with pytest.raises(FninferError, match="did not answer"):
        Model.register(flaky, model_path=iris_model, model_name=name)
    assert Path(Model.get_model_path(name, _workspace=ws)).read_bytes() == iris_model.read_bytes()
