"""Seed 'deploying-and-consuming-models' section 7.1, with `azureml` replaced by `fninfer`, against a real host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pytest
import requests
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Model, Workspace
from fninfer.core.compute import AksCompute, ComputeTarget
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AksWebservice, LocalWebservice

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_seed_section_7_1(ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), "model.pkl")
    shutil.copytree(EXAMPLES / "service_files", "service_files")

    # 1. Register a trained model
    classification_model = Model.register(
        workspace=ws, model_name="classification_model", model_path="model.pkl", description="A classification model"
    )

    # 2. Creating an environment
    myenv = CondaDependencies()
    myenv.add_conda_package("scikit-learn")
    env_file = "service_files/env.yml"
    with open(env_file, "w") as f:
        f.write(myenv.serialize_to_string())

    classifier_inference_config = InferenceConfig(
        runtime="python", source_directory="service_files", entry_script="score.py", conda_file="env.yml"
    )

    # 3. Define a deployment configuration
    cluster_name = "aks-cluster"
    compute_config = AksCompute.provisioning_configuration(location="eastus")
    production_cluster = ComputeTarget.create(ws, cluster_name, compute_config)
    production_cluster.wait_for_completion(show_output=True)
    # The seeds' clients decode the answer twice (`json.loads(service.run(...))`, `json.loads(response.json())`): the
    # seeds' body, which docs/services.md shows next to this snippet (Azure ML's own server answers the list itself).
    classifier_deploy_config = AksWebservice.deploy_configuration(
        cpu_cores=1, memory_gb=1, response_encoding="json-string"
    )

    # 4. Deploy the model
    service = Model.deploy(
        workspace=ws,
        name=f"classifier-service-{unique}",
        models=[classification_model],
        inference_config=classifier_inference_config,
        deployment_config=classifier_deploy_config,
        deployment_target=production_cluster,
    )
    service.wait_for_deployment(show_output=True)
    assert service.state == "Healthy"

    # 7.1.3 Using the SDK
    x_new = [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]
    json_data = json.dumps({"data": x_new})
    response = service.run(input_data=json_data)
    predictions = json.loads(response)
    expected = LogisticRegression(max_iter=500).fit(features, labels).predict(x_new).tolist()
    assert predictions == expected

    # Using a REST endpoint: an AKS service has key auth, so the first (keyless) call is refused, as in Azure ML
    endpoint = service.scoring_uri
    request_headers = {"Content-Type": "application/json"}
    assert requests.post(url=endpoint, data=json_data, headers=request_headers).status_code == 401
    primary_key, secondary_key = service.get_keys()
    for key_or_token in (primary_key, secondary_key):
        request_headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key_or_token}
        response = requests.post(url=endpoint, data=json_data, headers=request_headers)
        predictions = json.loads(response.json())
        assert predictions == expected

    # 7.1.4 Check the service state, review the logs
    service = AksWebservice(name=f"classifier-service-{unique}", workspace=ws)
    assert service.state == "Healthy"
    assert isinstance(service.get_logs(), str)

    # Deploy locally, then edit the entry script and reload without redeploying
    deployment_config = LocalWebservice.deploy_configuration(port=8890, response_encoding="json-string")
    local = Model.deploy(
        ws, f"test-svc-{unique}", [classification_model], classifier_inference_config, deployment_config
    )
    local.wait_for_deployment()
    assert json.loads(local.run(input_data=json_data)) == expected
    score = Path("service_files/score.py")
    score.write_text(
        score.read_text().replace("return predictions.tolist()", "return [p + 100 for p in predictions.tolist()]")
    )
    local.reload()
    assert json.loads(local.run(input_data=json_data)) == [p + 100 for p in expected]

    # A newer model version, rolled out with update(models=...) through the same health check
    newer = Model.register(workspace=ws, model_name="classification_model", model_path="model.pkl")
    local.update(models=[newer])
    assert local.state == "Transitioning"
    local.wait_for_deployment()
    assert (local.state, [m.id for m in local.models]) == ("Healthy", [newer.id])
    assert json.loads(local.run(input_data=json_data)) == [p + 100 for p in expected]
