"""The seeds' batch flow (all three seeds), with `azureml` replaced by `fninfer`, against a real host."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Dataset, Environment, Experiment, Model, Workspace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from train_model import write_batch_files  # noqa: E402


@pytest.fixture
def seed_setup(ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), "model.pkl")
    Model.register(
        workspace=ws, model_name="classification_model", model_path="model.pkl", description="A classification model"
    )
    write_batch_files(tmp_path / "batch-data", count=23)
    default_ds = ws.get_default_datastore()
    default_ds.upload(src_dir="batch-data", target_path=f"batch-data-{unique}", overwrite=True, show_progress=False)
    dataset = Dataset.File.from_files(path=(default_ds, f"batch-data-{unique}/*.csv"))
    dataset.register(workspace=ws, name="batch-data", create_new_version=True)
    shutil.copytree(ROOT / "examples" / "batch_scripts", "batch_scripts")
    return ws


def read_results(local: str) -> pd.DataFrame:
    # Find the parallel_run_step.txt file, as the seeds do
    for root, _dirs, files in os.walk(local):
        for file in files:
            if file.endswith("parallel_run_step.txt"):
                result_file = os.path.join(root, file)
    df = pd.read_csv(result_file, delimiter=":", header=None)
    df.columns = ["File", "Prediction"]
    return df


def test_seed_batch_flow(seed_setup: Workspace) -> None:
    ws = seed_setup
    from fninfer.pipeline.core import Pipeline, PipelineData
    from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

    batch_env = Environment("batch_environment")
    aml_cluster = "aml-cluster"

    # Get the batch dataset for input
    batch_data_set = ws.datasets["batch-data"]

    # Set the output location
    default_ds = ws.get_default_datastore()
    output_dir = PipelineData(name="inferences", datastore=default_ds, output_path_on_compute="results")

    # Define the parallel run step step configuration
    parallel_run_config = ParallelRunConfig(
        source_directory="batch_scripts",
        entry_script="batch_scoring_script.py",
        mini_batch_size="5",
        error_threshold=10,
        output_action="append_row",
        environment=batch_env,
        compute_target=aml_cluster,
        node_count=4,
    )

    # Create the parallel run step
    parallelrun_step = ParallelRunStep(
        name="batch-score",
        parallel_run_config=parallel_run_config,
        inputs=[batch_data_set.as_named_input("batch_data")],
        output=output_dir,
        arguments=[],
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[parallelrun_step])

    pipeline_run = Experiment(ws, "batch_prediction_pipeline").submit(pipeline)
    assert pipeline_run.wait_for_completion(show_output=True, timeout_seconds=120) == "Finished"

    prediction_run = next(pipeline_run.get_children())
    prediction_output = prediction_run.get_output_data("inferences")
    prediction_output.download(local_path="results")
    df = read_results("results")
    assert sorted(df["File"]) == sorted(f"{i}.csv" for i in range(1, 24))  # each file exactly once
    assert list(df["File"]) == sorted(df["File"], key=lambda f: f)  # rows in mini-batch (input) order
    assert set(df["Prediction"]) <= {0, 1, 2}


def test_seed_003_contrib_import_with_models(seed_setup: Workspace) -> None:
    ws = seed_setup
    from fninfer.contrib.pipeline.steps import ParallelRunConfig, ParallelRunStep
    from fninfer.pipeline.core import Pipeline, PipelineData

    batch_data_set = ws.datasets("batch-data")
    default_ds = ws.get_default_datastore()
    output_dir = PipelineData(name="inferences", datastore=default_ds, output_path_on_compute="results")
    model = ws.models["classification_model"]
    parallel_run_config = ParallelRunConfig(
        source_directory="batch_scripts",
        entry_script="batch_scoring_script.py",
        mini_batch_size="5",
        error_threshold=10,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        node_count=4,
    )
    parallelrun_step = ParallelRunStep(
        name="batch-score",
        models=[model],
        parallel_run_config=parallel_run_config,
        inputs=[batch_data_set.as_named_input("batch_data")],
        output=output_dir,
        arguments=[],
        allow_reuse=True,
    )
    pipeline = Pipeline(workspace=ws, steps=[parallelrun_step])
    first = Experiment(ws, "batch_prediction_pipeline").submit(pipeline)
    assert first.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    again = Experiment(ws, "batch_prediction_pipeline").submit(pipeline)  # same step, same input: reused
    assert again.wait_for_completion(show_output=True, timeout_seconds=120) == "Finished"
    first_step = next(first.get_children())  # reuse is per step, as in Azure ML: the step run is the earlier one's
    assert again.get_details()["properties"]["reused_from"] == first_step.id
    assert next(again.get_children()).get_details()["properties"]["azureml.reusedrunid"] == first_step.id
    next(again.get_children()).get_output_data("inferences").download(local_path="again")
    assert len(read_results("again")) == 23


def test_a_step_with_models_loads_the_versions_it_names(seed_setup: Workspace, tmp_path: Path) -> None:
    """`models=[model]` pins what `Model.get_model_path(name)` loads in init() and run(), even after a newer version
    of the model is registered."""
    ws = seed_setup
    from fninfer.pipeline.core import Pipeline, PipelineData
    from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

    pinned = ws.models["classification_model"]
    Model.register(workspace=ws, model_name="classification_model", model_path="model.pkl")  # a newer version
    scripts = tmp_path / "version_scripts"
    scripts.mkdir()
    (scripts / "which.py").write_text(
        "import os\nfrom pathlib import Path\nfrom fninfer.core import Model\n\n"
        "def init():\n    global at_init\n"
        "    at_init = Path(Model.get_model_path('classification_model')).parent.name\n\n"
        "def run(mini_batch):\n"
        "    now = Path(Model.get_model_path('classification_model')).parent.name\n"
        "    return [f'{os.path.basename(f)}: {at_init} {now}' for f in mini_batch]\n"
    )
    config = ParallelRunConfig(
        source_directory=str(scripts),
        entry_script="which.py",
        mini_batch_size="10",
        error_threshold=0,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        node_count=1,
    )
    step = ParallelRunStep(
        name="which-model",
        parallel_run_config=config,
        inputs=[ws.datasets["batch-data"].as_named_input("batch_data")],
        output=PipelineData(name="inferences", datastore=ws.get_default_datastore()),
        models=[pinned],
        allow_reuse=False,
    )
    run = Experiment(ws, "pinned_models").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    next(run.get_children()).get_output_data("inferences").download(local_path="pinned")
    assert set(read_results("pinned")["Prediction"]) == {f" {pinned.version} {pinned.version}"}
