"""Microsoft Learn's SDK v1 how-to "Deploy machine learning models to Azure" (how-to-deploy-and-where, v1), run as
written but for `azureml` -> `fninfer`, on a real local host.

What differs from the article, and why: the article downloads an ONNX question-answering model (a download at test
time, and onnxruntime, which the app does not carry); here the model is a scikit-learn classifier trained on the
iris data that ships with scikit-learn, and the second entry script predicts with it. The article's entry script
finds the model through AZUREML_MODEL_DIR; this one calls `Model.get_model_path`, the other way v1 scripts use. The
local service answers on the app's port, not the 6789 the article asks for (recorded only), so the article's
`requests.get("http://localhost:6789")` health probe of the local container is left out. Everything else:
the same calls, in the same order, with the same arguments.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import joblib
import pytest
import requests
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.hosting import RunningHost, eventually

ECHO_SCORE = """
import json


def init():
    print("This is init")


def run(data):
    test = json.loads(data)
    print(f"received data {test}")
    return f"test is {test}"
"""

SCORE = """
import json

import joblib
import numpy as np

from fninfer.core.model import Model


def init():
    global model
    model = joblib.load(Model.get_model_path("{name}"))
    print("model loaded")


def run(request):
    data = json.loads(request)
    predictions = model.predict(np.array(data["data"]))
    print(f"predicted {{predictions.tolist()}}")
    return {{"predictions": predictions.tolist()}}
"""


def test_deploy_walkthrough(
    app_host: RunningHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))
    model_name, service_name = f"bidaf_onnx_{unique}", f"myservice-{unique}"

    # Connect to a workspace
    from fninfer.core import Workspace

    ws = Workspace(
        subscription_id="<subscription_id>",
        resource_group="<resource_group>",
        workspace_name="<workspace_name>",
    )

    # Register the model (trained here instead of downloaded)
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), "model.pkl")
    from fninfer.core.model import Model

    model = Model.register(ws, model_name=model_name, model_path="./model.pkl")

    # Define a dummy entry script
    Path("source_dir").mkdir()
    Path("source_dir/echo_score.py").write_text(textwrap.dedent(ECHO_SCORE))

    # Define an inference configuration
    from fninfer.core import Environment
    from fninfer.core.model import InferenceConfig

    env = Environment(name="project_environment")
    dummy_inference_config = InferenceConfig(
        environment=env,
        source_directory="./source_dir",
        entry_script="./echo_score.py",
    )

    # Define a deployment configuration
    from fninfer.core.webservice import LocalWebservice

    deployment_config = LocalWebservice.deploy_configuration(port=6789)

    # Deploy your machine learning model
    service = Model.deploy(
        ws,
        service_name,
        [model],
        dummy_inference_config,
        deployment_config,
        overwrite=True,
    )
    service.wait_for_deployment(show_output=True)
    assert f"Local webservice is Healthy at {ws.config.endpoint}" in capsys.readouterr().out
    print(service.get_logs())
    assert "This is init" in service.get_logs()

    # Call into your model
    uri = service.scoring_uri
    headers = {"Content-Type": "application/json"}
    data = {
        "query": "What color is the fox",
        "context": "The quick brown fox jumped over the lazy dog.",
    }
    data = json.dumps(data)
    response = requests.post(uri, data=data, headers=headers, timeout=30)
    print(response.json())
    assert response.json() == f"test is {json.loads(data)}"

    # Define an entry script (the real one) and its environment
    Path("source_dir/score.py").write_text(textwrap.dedent(SCORE.format(name=model_name)))
    env = Environment(name="myenv")
    python_packages = ["scikit-learn", "numpy", "joblib"]
    for package in python_packages:
        env.python.conda_dependencies.add_pip_package(package)

    inference_config = InferenceConfig(
        environment=env,
        source_directory="./source_dir",
        entry_script="./score.py",
    )

    # Deploy again and call your service
    service = Model.deploy(
        ws,
        service_name,
        [model],
        inference_config,
        deployment_config,
        overwrite=True,
    )
    service.wait_for_deployment(show_output=True)
    print(service.get_logs())
    uri = service.scoring_uri
    headers = {"Content-Type": "application/json"}
    data = json.dumps({"data": features[[0, 100]].tolist()})
    response = requests.post(uri, data=data, headers=headers, timeout=30)
    print(response.json())
    assert _decoded(response.json()) == {"predictions": [0, 2]}
    assert _decoded(service.run(input_data=data)) == {"predictions": [0, 2]}

    # Re-deploy to cloud
    from fninfer.core.webservice import AciWebservice

    deployment_config = AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=1, auth_enabled=True)
    service = Model.deploy(
        ws,
        service_name,
        [model],
        inference_config,
        deployment_config,
        overwrite=True,
    )
    service.wait_for_deployment(show_output=True)
    print(service.get_logs())

    # Call your remote webservice
    from fninfer.core import Webservice

    service = Webservice(workspace=ws, name=service_name)
    scoring_uri = service.scoring_uri

    # If the service is authenticated, set the key or token
    key, _ = service.get_keys()

    # Set the appropriate headers
    headers = {"Content-Type": "application/json"}
    headers["Authorization"] = f"Bearer {key}"

    # Make the request and display the response and logs
    data = json.dumps({"data": features[[50]].tolist()})
    resp = requests.post(scoring_uri, data=data, headers=headers, timeout=30)
    print(resp.text)
    assert _decoded(resp.json()) == {"predictions": [1]}
    assert (
        requests.post(scoring_uri, data=data, headers={"Content-Type": "application/json"}, timeout=30).status_code
        == 401
    )
    print(service.get_logs())
    assert eventually(lambda: "predicted [1]" in service.get_logs())  # logs are flushed every second

    # Delete resources
    service.delete()
    model.delete()
    assert service_name not in ws.webservices


def _decoded(body: object) -> object:
    """The seeds' double-encoded body (the app's default today) or Azure ML's plain JSON: the same value."""
    return json.loads(body) if isinstance(body, str) else body
