"""The SDK surface v1 code uses beyond the seeds (issue 10 items 5, 6, 8; issue 11 items 5 and 6), on a real host:
workspace resolution, exceptions, names checked before a URL is built, the Webservice and Model keywords, keys the
user chooses, no-code deployment, and model versions that are never reused."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer._http import tls_context
from fninfer.core import Dataset, Environment, Experiment, Model, Webservice, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig
from fninfer.core.resource_configuration import ResourceConfiguration
from fninfer.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from fninfer.exceptions import ModelNotFoundException, UserErrorException, WebserviceException, WorkspaceException
from fninfer.pipeline.core import PipelineRun, PublishedPipeline, Schedule
from shared.core import layout
from shared.core.errors import InvalidInput, NotFound
from tests.hosting import RunningHost, eventually
from tests.integration.test_package import make_wheel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"
ROOT = Path(__file__).resolve().parents[2]


def source(tmp: Path) -> Path:
    folder = tmp / "src"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "flaky.py", folder / "score.py")
    return folder


@pytest.fixture
def iris_model(ws: Workspace, tmp_path: Path, unique: str) -> Model:
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), tmp_path / "model.pkl")
    return Model.register(
        ws,
        model_path=tmp_path / "model.pkl",
        model_name=f"iris_{unique}",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version="1.5",
        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
        properties={"accuracy": "0.97"},
    )


def test_workspace_by_names_resolves_to_the_configured_app(
    app_host: RunningHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))
    ws = Workspace(subscription_id="sub-123", resource_group="rg", workspace_name="mlws")
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.location) == ("mlws", "sub-123", "rg", "local")
    assert isinstance(ws.models, dict)  # it talks to the app
    assert Workspace.get("other-ws").name == "other-ws"
    written = Path(ws.write_config(path=tmp_path))
    assert written == tmp_path / ".fninfer" / "config.json" and written.stat().st_mode & 0o077 == 0
    assert Workspace.from_config(tmp_path).name == "mlws"
    # A config for an app in Azure answers only to its own names.
    azure = json.loads(written.read_text()) | {"workspace_name": "prod", "subscription_id": "s", "resource_group": "r"}
    (tmp_path / "azure.json").write_text(json.dumps(azure))
    monkeypatch.setenv("FNINFER_CONFIG", str(tmp_path / "azure.json"))
    with pytest.raises(WorkspaceException, match="prod"):
        Workspace("s", "r", "staging")
    assert Workspace("s", "r", "prod").name == "prod"


def test_names_are_checked_before_a_url_is_built(ws: Workspace) -> None:
    """Issue 11: `Webservice(ws, "../models/victim/1")` called GET /api/models/victim/1 and failed with KeyError.
    Every SDK module builds its URLs through the one client, which refuses a name that is not one path segment."""
    experiment = Experiment(ws, "surface")
    calls = {
        "Webservice": lambda n: Webservice(ws, n),
        "Model": lambda n: Model(ws, n),
        "Environment": lambda n: Environment.get(ws, n),
        "PublishedPipeline": lambda n: PublishedPipeline.get(ws, n),
        "Schedule": lambda n: Schedule.get(ws, n),
        "PipelineRun": lambda n: PipelineRun(experiment, n),
    }
    for name in ["../models/victim/1", "a/../../b", "x?y=1", "x#y", "a b", "%2e%2e", "..", "a\x00b", "a\\b"]:
        for what, call in calls.items():
            with pytest.raises(UserErrorException, match=r"cannot|not valid") as caught:
                call(name)
            assert isinstance(caught.value, InvalidInput) and caught.value.status == 400, (what, name)
    # A name holding '/' would read as more path: refused where the SDK knows the name.
    with pytest.raises(InvalidInput):
        Webservice(ws, "victim/keys")


def test_azure_ml_exceptions_are_also_fninfers(ws: Workspace, unique: str) -> None:
    with pytest.raises(WebserviceException, match="WebserviceNotFound") as missing:
        Webservice(ws, f"nope-{unique}")
    assert isinstance(missing.value, NotFound) and missing.value.status == 404
    with pytest.raises(WebserviceException, match="ModelNotFound") as no_model:
        Model(ws, f"nope_{unique}")
    assert isinstance(no_model.value, NotFound)
    with pytest.raises(ModelNotFoundException):
        Model.get_model_path(f"nope_{unique}", _workspace=ws)


def test_model_keywords_are_kept_on_the_record_and_filter_lists(
    ws: Workspace, iris_model: Model, tmp_path: Path, unique: str
) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"data": [[5.1, 3.5, 1.4, 0.2]]}\n')
    ws.get_default_datastore().upload_files([str(data)], target_path=f"surface-{unique}", overwrite=True)
    dataset = Dataset.File.from_files((ws.get_default_datastore(), f"surface-{unique}/rows.jsonl"))
    dataset = dataset.register(ws, f"rows-{unique}")
    folder = tmp_path / "folder-model"
    (folder / "keep").mkdir(parents=True)
    (folder / "keep" / "a.txt").write_text("a")
    (folder / "skip.txt").write_text("skip")
    name = f"kw_{unique}"
    model = Model.register(
        ws,
        model_path=folder,
        model_name=name,
        tags={"team": "ml"},
        datasets=[("training", dataset)],
        sample_input_dataset=dataset,
        child_paths=["keep"],
        model_framework=Model.Framework.CUSTOM,
    )
    again = Model(ws, name)
    assert [f["path"] for f in again.serialize()["files"]] == ["keep/a.txt"]
    assert {scenario: [d.id for d in found] for scenario, found in again.datasets.items()} == {"training": [dataset.id]}
    assert again.sample_input_dataset.id == dataset.id
    assert again.model_framework == "Custom"
    assert iris_model.resource_configuration is not None and iris_model.resource_configuration.cpu == 1
    assert Model(ws, iris_model.name).model_framework_version == "1.5"
    assert [m.id for m in Model.list(ws, dataset_id=dataset.id)] == [model.id]
    assert [m.id for m in Model.list(ws, properties=[["accuracy", "0.97"]], name=iris_model.name)] == [iris_model.id]
    assert Model.list(ws, name=iris_model.name, model_framework="Onnx") == []
    assert Model(ws, name, tags=[["team", "ml"]]).id == model.id
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        Model(ws, name, tags=[["team", "other"]])
    with pytest.raises(NotFound, match="not registered"):
        Model.register(ws, model_path=folder, model_name=f"bad_{unique}", sample_input_dataset=_Unregistered())
    target = tmp_path / "down"
    model.download(target)
    model.download(target, exists_ok=True)  # Azure ML's older spelling
    with pytest.raises(InvalidInput, match="Both exists_ok and exist_ok"):
        model.download(target, exist_ok=True, exists_ok=True)


class _Unregistered:
    id = "never-registered:1"


def test_keys_the_user_chooses_are_honoured_and_never_stored_in_clear(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    primary, secondary = f"my-primary-{unique}-0123456789", f"my-secondary-{unique}-0123456789"
    config = AksWebservice.deploy_configuration(primary_key=primary, secondary_key=secondary)
    inference = InferenceConfig(entry_script="score.py", source_directory=source(tmp_path))
    service = Model.deploy(ws, f"chosen-{unique}", [], inference, config)
    service.wait_for_deployment(timeout_sec=90)
    assert service.get_keys() == (primary, secondary)
    for key, status in ((primary, 200), (secondary, 200), ("my-primary-wrong", 401)):
        answer = httpx.post(
            service.scoring_uri, json={"data": 1}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert answer.status_code == status, key
    record_blob = ws.storage.container(layout.REGISTRY_CONTAINER).download_blob(layout.service_record(service.name))
    stored = record_blob.readall().decode()
    assert primary not in stored and secondary not in stored
    assert primary not in json.dumps(ws.client.request("GET", f"services/{service.name}"))
    service.regen_key("Primary", set_key=f"rotated-{unique}-0123456789")
    assert service.get_keys()[0] == f"rotated-{unique}-0123456789"

    def status_with(key: str) -> int:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.post(
            service.scoring_uri, json={"data": 1}, headers=headers, timeout=30, verify=tls_context()
        ).status_code

    eventually(lambda: status_with(primary) == 401)  # the record is re-read within a second
    assert status_with(f"rotated-{unique}-0123456789") == 200
    assert service.run(json.dumps({"data": 3})) is not None  # the SDK picks up the new key
    with pytest.raises(InvalidInput, match="without spaces"):
        Model.deploy(ws, f"badkey-{unique}", [], inference, AciWebservice.deploy_configuration(primary_key="a b"))
    with pytest.raises(NotFound):
        Webservice(ws, f"badkey-{unique}")  # nothing half-written
    service.delete()


def test_the_webservice_surface(ws: Workspace, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]) -> None:
    inference = InferenceConfig(entry_script="score.py", source_directory=source(tmp_path))
    local = Model.deploy(
        ws,
        f"local-{unique}",
        [],
        inference,
        LocalWebservice.deploy_configuration(port=8890),
        show_output=True,
    )
    assert "wait_for_deployment(show_output=True)" in capsys.readouterr().out
    assert isinstance(local, LocalWebservice)
    local.wait_for_deployment(timeout_sec=90)
    assert local.port == httpx.URL(ws.config.endpoint).port
    assert local.swagger_uri == f"{ws.config.api_url}/services/{local.name}/swagger.json"
    assert isinstance(Webservice(ws, local.name), LocalWebservice)
    assert LocalWebservice(ws, f"gone-{unique}", must_exist=False).state == "Deleted"
    with pytest.raises(WebserviceException, match="not an AksWebservice"):
        AksWebservice(ws, local.name)

    # update(deployment_config=...) applies its settings (it failed before: the config was sent as a value).
    local.update(deployment_config=LocalWebservice.deploy_configuration(port=8891))
    assert ws.client.request("GET", f"services/{local.name}")["deployment"]["port"] == 8891
    with pytest.raises(InvalidInput, match="cannot update it"):
        local.update(deployment_config=AciWebservice.deploy_configuration())

    local.run(json.dumps({"data": 7}))
    logs = eventually(lambda: (text := local.get_logs(num_lines=50, raw=True)) and "flaky run" in text and text)
    assert len(local.get_logs(num_lines=1).splitlines()) == 1 and "flaky" in logs

    cloud = local.deploy_to_cloud(
        name=f"cloud-{unique}", deployment_config=AciWebservice.deploy_configuration(tags={"stage": "cloud"})
    )
    cloud.wait_for_deployment(timeout_sec=90)
    assert isinstance(cloud, AciWebservice) and cloud.tags == {"stage": "cloud"}
    assert cloud.run(json.dumps({"data": 1})) is not None
    assert "flaky init" in eventually(lambda: cloud.get_logs(num_lines=20, init=True))

    names = {s.name for s in Webservice.list(ws, compute_type="ACI", tags=[["stage", "cloud"]])}
    assert cloud.name in names and local.name not in names
    assert local.name in {s.name for s in LocalWebservice.list(ws)}
    assert Webservice.list(ws, image_name="anything") == []
    assert {local.name, cloud.name} <= set(ws.webservices)
    for service in (local, cloud):
        service.delete()


def test_no_code_deployment_of_a_scikit_learn_model(ws: Workspace, iris_model: Model, unique: str) -> None:
    service = Model.deploy(ws, f"nocode-{unique}", [iris_model])
    service.wait_for_deployment(timeout_sec=90)
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], "method": "predict"})
    answer = service.run(body)
    answer = json.loads(answer) if isinstance(answer, str) else answer
    assert answer == {"predict": [0, 2]}
    service.delete()
    custom = Model(ws, iris_model.name)
    custom.model_framework = None
    with pytest.raises(InvalidInput, match=r"model_framework=Model\.Framework\.SCIKITLEARN"):
        Model.deploy(ws, f"nocode2-{unique}", [custom])


SCORE_IRIS = """
import json

import joblib
import numpy as np

from fninfer.core.model import Model


def init():
    global model
    model = joblib.load(Model.get_model_path("{name}"))


def run(raw_data):
    return model.predict(np.array(json.loads(raw_data)["data"])).tolist()
"""


def test_profile_measures_the_models_on_the_app(ws: Workspace, iris_model: Model, tmp_path: Path, unique: str) -> None:
    folder = tmp_path / "iris-src"
    folder.mkdir()
    (folder / "score.py").write_text(SCORE_IRIS.format(name=iris_model.name))
    rows = tmp_path / "requests.jsonl"
    features = load_iris().data
    rows.write_text("".join(json.dumps({"data": [row.tolist()]}) + "\n" for row in features[:40]))
    ws.get_default_datastore().upload_files([str(rows)], target_path=f"profile-{unique}", overwrite=True)
    dataset = Dataset.File.from_files((ws.get_default_datastore(), f"profile-{unique}/requests.jsonl"))
    inference = InferenceConfig(entry_script="score.py", source_directory=folder)
    profile = Model.profile(ws, f"iris-{unique}", [iris_model], inference, dataset, cpu=1, memory_in_gb=0.5)
    profile.wait_for_completion(show_output=False)
    details = profile.get_details()
    assert details["state"] == "Succeeded", profile.error
    assert details["totalQueries"] == 40 and details["successQueries"] == 40 and details["successRate"] == 1.0
    assert 0 < details["latencyPercentile50InMs"] <= details["latencyPercentile99InMs"]
    assert details["measuredQueriesPerSecond"] > 0 and details["requestedCpu"] == 1
    assert "maxUtilizedCpu" not in details and "recommendedCpu" not in details  # not measured, so not reported
    assert not [s for s in Webservice.list(ws) if s.name.startswith(f"profile-iris-{unique}")]  # cleaned up
    with pytest.raises(UserErrorException, match="holds no rows"):
        Model.profile(ws, "empty", [iris_model], inference, [])


def test_package_bakes_the_models_into_the_functions_zip(
    ws: Workspace, iris_model: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for part in ("function_app.py", "host.json"):
        shutil.copy(ROOT / part, app / part)
    (app / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\ndependencies = ["tinydep>=1"]\n')
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinydep", "1.0")
    make_wheel(wheels, "envdep", "2.0")
    monkeypatch.chdir(app)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip reads its options from the environment: an offline build
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    env = Environment("pkg-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["envdep>=2"])
    (app / "score.py").write_text("def init(): pass\ndef run(raw): return raw\n")
    inference = InferenceConfig(entry_script="score.py", environment=env)
    package = Model.package(ws, [iris_model], inference, image_name="iris-app", image_label="v1")
    package.wait_for_creation(show_output=False)
    assert package.state == "Succeeded" and package.location == str(app / ".fninfer" / "packages" / "iris-app-v1.zip")
    assert "models baked in: " + iris_model.id in package.get_logs()
    with zipfile.ZipFile(package.location) as archive:
        names = archive.namelist()
        pinned = archive.read("requirements.txt").decode()
    assert f"azureml-models/{iris_model.name}/{iris_model.version}/model.pkl" in names
    assert "envdep==2.0" in pinned and "tinydep==1.0" in pinned
    with pytest.raises(InvalidInput, match="no Dockerfile"):
        Model.package(ws, [iris_model], inference, generate_dockerfile=True)
