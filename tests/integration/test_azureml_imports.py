"""Entry scripts that keep their `azureml` imports deploy and run unchanged (the app's import alias): a scoring
script (raw HTTP), a ParallelRunStep entry script and a PythonScriptStep script from tests/fixtures/v1_project."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx
import joblib
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Dataset, Environment, Experiment, Model, Workspace
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice
from fninfer.pipeline.core import Pipeline, PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "fixtures" / "v1_project"
sys.path.insert(0, str(ROOT / "examples"))
from train_model import write_batch_files  # noqa: E402


@pytest.fixture
def model(ws: Workspace, tmp_path: Path) -> Model:
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), tmp_path / "model.pkl")
    return Model.register(workspace=ws, model_name="classification_model", model_path=str(tmp_path / "model.pkl"))


def test_a_scoring_script_with_azureml_imports_deploys_and_scores(
    ws: Workspace, model: Model, tmp_path: Path, unique: str
) -> None:
    source = shutil.copytree(PROJECT / "service", tmp_path / "service")
    assert "from azureml.core.model import Model" in (source / "score.py").read_text()
    inference = InferenceConfig(entry_script="score.py", source_directory=str(source))
    service = Model.deploy(ws, f"v1-imports-{unique}", [model], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment()
    assert service.state == "Healthy", service.get_logs()
    response = httpx.post(service.scoring_uri, content=json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]}), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [0], "model_dir": True}
    assert httpx.get(service.scoring_uri, timeout=30).status_code == 405  # the script's own AMLResponse


def test_a_parallel_run_step_and_a_script_step_with_azureml_imports_run(
    ws: Workspace, model: Model, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_batch_files(tmp_path / "batch-data", count=7)
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="batch-data", target_path=f"v1-imports-{unique}", overwrite=True, show_progress=False)
    files = Dataset.File.from_files(path=(datastore, f"v1-imports-{unique}/*.csv"))
    scores = PipelineData(name="scores", datastore=datastore)
    score = ParallelRunStep(
        name="score",
        parallel_run_config=ParallelRunConfig(
            source_directory=str(PROJECT / "batch"),
            entry_script="batch_score.py",
            mini_batch_size="3",
            error_threshold=0,
            output_action="append_row",
            environment=Environment("batch"),
            compute_target="cpu-cluster",
            node_count=1,
        ),
        inputs=[files.as_named_input("files")],
        output=scores,
        allow_reuse=False,
    )
    count = PythonScriptStep(
        script_name="count.py",
        name="count",
        arguments=["--label", "counted"],
        source_directory=str(PROJECT / "steps"),
        allow_reuse=False,
    )
    run = Experiment(ws, f"v1-imports-{unique}").submit(Pipeline(workspace=ws, steps=[score, count]))
    assert run.wait_for_completion(show_output=True, timeout_seconds=180) == "Finished"
    steps = {step.name: step for step in run.get_steps()}

    steps["score"].get_output_data("scores").download(local_path="scores")
    result = next(Path("scores").rglob("parallel_run_step.txt"))
    rows = pd.read_csv(result, delimiter=":", header=None)
    assert sorted(rows[0]) == sorted(f"{i}.csv" for i in range(1, 8))
    assert sum(steps["score"].get_metrics()["files"]) == 7  # Run.get_context() inside run(): the step run

    assert steps["count"].get_metrics() == {"counted": 3}
    steps["count"].download_file("outputs/count.txt", "count.txt")
    assert Path("count.txt").read_text().startswith("fninfer.")  # azureml.core.Run was fninfer's Run
