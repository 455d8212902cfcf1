"""Microsoft's many-models solution accelerator, custom-script path, run import-swapped against a real local host:
github.com/microsoft/solution-accelerator-many-models at 89ea0352c1ec788016f299d58544a8cd0c0d1a4e, its notebooks
00_Setup_AML_Workspace (the compute cluster), 01_Data_Preparation, Custom_Script/02_CustomScript_Training_Pipeline
and Custom_Script/03_CustomScript_Forecasting_Pipeline, cell by cell, with its scripts (train.py, forecast.py,
copy_predictions.py, utilities.py, timeseries_utilities.py, scripts/helper.py) as fixtures under
tests/fixtures/many_models/.

One model per (store, brand) file is trained by a ParallelRunStep (a child run per model, metrics, the model
registered with its store, brand and model type as tags), then a forecasting ParallelRunStep finds each file's model
by those tags, and a PythonScriptStep copies the forecasts to a CSV on another datastore through a DataReference.

Adaptations, and only these:
- imports: `azureml` -> `fninfer` in every import line (notebooks and scripts; also `azureml._restclient` in
  utilities.py, which fninfer provides so the import works);
- data: the notebook downloads the first 10 files of the OJ sales open dataset (`azureml.opendatasets`); here 4
  files of the same shape (WeekStarting, Store, Brand, Quantity, Advert, Price, Revenue; weekly rows around the
  notebook's split date 1992-05-28) are generated, under store numbers unique to the test run. Quantity is written
  as a float: the accelerator's `_recursive_forecast` writes float forecasts into that column, which pandas 3
  refuses for an integer column (the OJ files' Quantity is an integer; the accelerator predates pandas 3);
- train.py: the three lines `# Simulating the 3 minutes run to test concurrency`, `import time`,
  `time.sleep(180)` are removed (a load-test pause of 3 minutes per model, as long as the notebook's
  run_invocation_timeout);
- timeseries_utilities.py: `SklearnWrapper` gets a two-line `__sklearn_is_fitted__` (true once `fit` has set
  `_column_order`): scikit-learn 1.8+ refuses `Pipeline.transform` / `predict` when the last step does not declare
  it is fitted, and the accelerator predates that protocol (the app has scikit-learn 1.9; Azure ML installing today's
  scikit-learn fails the same way);
- workspace: 00_Setup's Workspace(subscription_id, ...) / Workspace.create cells are replaced by the local host's
  workspace; its get_details, write_config and compute-cluster cells run as written;
- notebook cells that only display (plots with seaborn/matplotlib, `df.head()`) are left out, and the optional cells
  (registering the accelerator's public blob container, publishing, scheduling) are not run.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fninfer.core import Workspace

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "many_models"
BRANDS = ("dominicks", "tropicana")


def generate_oj_sales(folder: Path, stores: list[int]) -> None:
    """Files shaped as the OJ sales simulated dataset's: one per (store, brand), weekly rows."""
    rng = np.random.default_rng(0)
    weeks = pd.date_range("1990-06-14", "1992-10-01", freq="7D")
    for store in stores:
        for brand in BRANDS:
            advert = rng.integers(0, 2, len(weeks))
            price = np.round(rng.uniform(1.5, 3.0, len(weeks)), 2)
            season = 1 + 0.3 * np.sin(np.arange(len(weeks)) * 2 * np.pi / 52)
            quantity = np.round(10_000 * season * (1 + 0.4 * advert) / price + rng.normal(0, 300, len(weeks)))
            frame = pd.DataFrame(
                {
                    "WeekStarting": weeks.strftime("%Y-%m-%d"),
                    "Store": store,
                    "Brand": brand,
                    "Quantity": quantity,  # float: see the docstring
                    "Advert": advert,
                    "Price": price,
                    "Revenue": np.round(quantity * price, 2),
                }
            )
            frame.to_csv(folder / f"Store{store}_{brand}.csv", index=False)


@pytest.fixture
def notebook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The accelerator's folders, as the notebooks see them: the repository root (scripts/helper.py) and
    Custom_Script/ (./scripts), with the notebooks' working directory."""
    shutil.copytree(FIXTURES, tmp_path / "repo")
    monkeypatch.syspath_prepend(str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path / "repo")
    for name in [module for module in sys.modules if module == "scripts" or module.startswith("scripts.")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path / "repo"


@pytest.fixture
def stores() -> Iterator[list[int]]:
    """Store numbers unique to this run. forecast.py downloads each model into its working directory, which is the
    host's app folder (docs/differences.md, "entry-script-working-directory"): those files are removed after."""
    base = 1000 + uuid.uuid4().int % 9000 * 10
    yield [base, base + 1]
    for store in (base, base + 1):
        for leftover in ROOT.glob(f"lr_Store{store}_*"):
            leftover.unlink()


def test_many_models_custom_script_flow(ws: Workspace, notebook_dir: Path, stores: list[int]) -> None:

    # == 00_Setup_AML_Workspace (its workspace is the local host's: `ws`) =====================================
    ws.get_details()
    ws.write_config()

    # Choose a name for your CPU cluster
    cpu_cluster_name = "cpucluster"
    from fninfer.core.compute import AmlCompute, ComputeTarget
    from fninfer.core.compute_target import ComputeTargetException

    # Verify that cluster does not exist already
    try:
        cpu_cluster = ComputeTarget(workspace=ws, name=cpu_cluster_name)
        print("Found an existing cluster, using it instead.")
    except ComputeTargetException:
        compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D13_V2", min_nodes=0, max_nodes=20)
        cpu_cluster = ComputeTarget.create(ws, cpu_cluster_name, compute_config)
        cpu_cluster.wait_for_completion(show_output=True)

    # == 01_Data_Preparation ========================================================================================
    target_path = "oj_sales_data"
    os.makedirs(target_path, exist_ok=True)
    generate_oj_sales(Path(target_path), stores)  # adaptation: instead of OjSalesSimulated.get_file_dataset()

    from scripts.helper import split_data

    # Provide name of timestamp column in the data and date from which to split into the inference dataset
    timestamp_column = "WeekStarting"
    split_date = "1992-05-28"

    # Split each file and store in corresponding directory
    train_path, inference_path = split_data(target_path, timestamp_column, split_date)

    from fninfer.core.workspace import Workspace

    ws = Workspace.from_config()

    # Take a look at Workspace
    ws.get_details()

    # Connect to default datastore
    datastore = ws.get_default_datastore()

    # Upload train data
    ds_train_path = target_path + "_train"
    datastore.upload(src_dir=train_path, target_path=ds_train_path, overwrite=True)

    # Upload inference data
    ds_inference_path = target_path + "_inference"
    datastore.upload(src_dir=inference_path, target_path=ds_inference_path, overwrite=True)

    from fninfer.core.dataset import Dataset

    # Create file datasets
    ds_train = Dataset.File.from_files(path=datastore.path(ds_train_path), validate=False)
    ds_inference = Dataset.File.from_files(path=datastore.path(ds_inference_path), validate=False)

    # Register the file datasets
    dataset_maxfiles = 10
    dataset_name = "oj_data_small" if 0 < dataset_maxfiles < 11973 else "oj_data"
    train_dataset_name = dataset_name + "_train"
    inference_dataset_name = dataset_name + "_inference"
    ds_train.register(ws, train_dataset_name, create_new_version=True)
    ds_inference.register(ws, inference_dataset_name, create_new_version=True)

    oj_ds = Dataset.get_by_name(ws, name=train_dataset_name)
    download_paths = oj_ds.download()
    sample_data = pd.read_csv(download_paths[0])
    assert list(sample_data.columns) == ["WeekStarting", "Store", "Brand", "Quantity", "Advert", "Price", "Revenue"]

    # == Custom_Script/02_CustomScript_Training_Pipeline ==========================================================
    os.chdir("Custom_Script")
    from fninfer.core import Workspace

    # set up workspace
    ws = Workspace.from_config()

    # set up datastores
    dstore = ws.get_default_datastore()

    print(
        "Workspace Name: " + ws.name,
        "Azure Region: " + ws.location,
        "Subscription Id: " + ws.subscription_id,
        "Resource Group: " + ws.resource_group,
        sep="\n",
    )

    from fninfer.core import Experiment

    experiment = Experiment(ws, "oj_training_pipeline")

    print("Experiment name: " + experiment.name)

    dataset_name = "oj_data_small_train"

    from fninfer.core.dataset import Dataset

    dataset = Dataset.get_by_name(ws, name=dataset_name)
    dataset_input = dataset.as_named_input(dataset_name)

    from fninfer.core import Environment
    from fninfer.core.conda_dependencies import CondaDependencies

    train_env = Environment(name="many_models_environment")
    train_conda_deps = CondaDependencies.create(
        pip_packages=["sklearn", "pandas", "joblib", "azureml-defaults", "azureml-core", "azureml-dataprep[fuse]"]
    )
    train_env.python.conda_dependencies = train_conda_deps

    cpu_cluster_name = "cpucluster"

    from fninfer.core.compute import AmlCompute

    compute = AmlCompute(ws, cpu_cluster_name)

    from fninfer.pipeline.steps import ParallelRunConfig

    processes_per_node = 8
    node_count = 1
    timeout = 180

    parallel_run_config = ParallelRunConfig(
        source_directory="./scripts",
        entry_script="train.py",
        mini_batch_size="1",
        run_invocation_timeout=timeout,
        error_threshold=-1,
        output_action="append_row",
        environment=train_env,
        process_count_per_node=processes_per_node,
        compute_target=compute,
        node_count=node_count,
    )

    from fninfer.pipeline.core import PipelineData

    output_dir = PipelineData(name="training_output", datastore=dstore)

    from fninfer.pipeline.steps import ParallelRunStep

    parallel_run_step = ParallelRunStep(
        name="many-models-training",
        parallel_run_config=parallel_run_config,
        inputs=[dataset_input],
        output=output_dir,
        allow_reuse=False,
        arguments=[
            "--target_column", "Quantity",
            "--timestamp_column", "WeekStarting",
            "--timeseries_id_columns", "Store", "Brand",
            "--drop_columns", "Revenue", "Store", "Brand",
            "--model_type", "lr",
            "--test_size", 20,
        ],
    )  # fmt: skip

    from fninfer.pipeline.core import Pipeline

    pipeline = Pipeline(workspace=ws, steps=[parallel_run_step])
    run = experiment.submit(pipeline)

    # Wait for the run to complete
    run.wait_for_completion(show_output=False, raise_on_error=True)

    def download_results(run, target_dir=None, step_name="many-models-training", output_name="training_output"):
        stitch_run = run.find_step_run(step_name)[0]
        port_data = stitch_run.get_output_data(output_name)
        port_data.download(target_dir, show_progress=True)
        return os.path.join(target_dir, "azureml", stitch_run.id, output_name)

    file_path = download_results(run, "output")

    df = pd.read_csv(file_path + "/parallel_run_step.txt", sep=" ", header=None)
    df.columns = [
        "Store", "Brand", "Model", "File Name", "ModelName", "StartTime", "EndTime", "Duration",
        "MSE", "RMSE", "MAE", "MAPE", "Index", "Number of Models", "Status", "RunID",
    ]  # fmt: skip

    df["StartTime"] = pd.to_datetime(df["StartTime"])
    df["EndTime"] = pd.to_datetime(df["EndTime"])
    df["Duration"] = df["EndTime"] - df["StartTime"]

    total = df["EndTime"].max() - df["StartTime"].min()

    print("Number of Models: " + str(len(df)))
    print("Total Duration: " + str(total)[6:])
    print("Average MAPE: " + str(round(df["MAPE"].mean(), 5)))

    # what the notebook shows: one model per file, each trained, scored and registered with its tags
    assert sorted(zip(df["Store"], df["Brand"], strict=True)) == [(s, b) for s in stores for b in BRANDS]
    assert set(df["Status"]) == {"Completed"} and (df["MAPE"] > 0).all() and (df["MAPE"] < 100).all()
    from fninfer.core.model import Model

    for store in stores:
        for brand in BRANDS:
            (model,) = Model.list(ws, tags=[["Store", str(store)], ["Brand", brand], ["ModelType", "lr"]], latest=True)
            assert model.name == f"lr_Store{store}_{brand}" and model.tags["RunId"] == run.id

    # == Custom_Script/03_CustomScript_Forecasting_Pipeline =========================================================
    from fninfer.core import Datastore, Workspace

    ws = Workspace.from_config()

    # set up datastores
    dstore = ws.get_default_datastore()

    from fninfer.core import Experiment

    experiment = Experiment(ws, "forecasting_pipeline")

    dataset_name = "oj_data_small_inference"

    from fninfer.core.dataset import Dataset

    dataset = Dataset.get_by_name(ws, name=dataset_name)
    dataset_input = dataset.as_named_input(dataset_name)

    from fninfer.core import Environment
    from fninfer.core.conda_dependencies import CondaDependencies

    forecast_env = Environment(name="many_models_environment")
    forecast_conda_deps = CondaDependencies.create(
        pip_packages=["sklearn", "pandas", "joblib", "azureml-defaults", "azureml-core", "azureml-dataprep[fuse]"]
    )
    forecast_env.python.conda_dependencies = forecast_conda_deps

    cpu_cluster_name = "cpucluster"

    from fninfer.core.compute import AmlCompute

    compute = AmlCompute(ws, cpu_cluster_name)

    from fninfer.pipeline.steps import ParallelRunConfig

    process_count_per_node = 6
    node_count = 1
    timeout = 180

    parallel_run_config = ParallelRunConfig(
        source_directory="./scripts",
        entry_script="forecast.py",
        mini_batch_size="1",
        run_invocation_timeout=timeout,
        error_threshold=10,
        output_action="append_row",
        environment=forecast_env,
        process_count_per_node=process_count_per_node,
        compute_target=compute,
        node_count=node_count,
    )

    from fninfer.pipeline.core import PipelineData
    from fninfer.pipeline.steps import ParallelRunStep

    output_dir = PipelineData(name="forecasting_output", datastore=dstore)

    parallel_run_step = ParallelRunStep(
        name="many-models-forecasting",
        parallel_run_config=parallel_run_config,
        inputs=[dataset_input],
        output=output_dir,
        allow_reuse=False,
        arguments=[
            "--timestamp_column",
            "WeekStarting",
            "--timeseries_id_columns",
            "Store",
            "Brand",
            "--model_type",
            "lr",
        ],
    )

    from fninfer.data.data_reference import DataReference

    output_dstore = Datastore.register_azure_blob_container(
        workspace=ws,
        datastore_name="predictions",
        container_name="predictions",
        account_name=dstore.account_name,
        account_key=dstore.account_key,
        create_if_not_exists=True,
    )

    output_dref = DataReference(output_dstore)
    copied_before = set(Dataset.File.from_files(path=(output_dstore, "forecasts_*.csv"), validate=False).to_path())

    from fninfer.pipeline.steps import PythonScriptStep

    upload_predictions_step = PythonScriptStep(
        name="copy_predictions",
        script_name="copy_predictions.py",
        compute_target=compute,
        source_directory="./scripts",
        inputs=[output_dref, output_dir],
        allow_reuse=False,
        arguments=[
            "--parallel_run_step_output", output_dir,
            "--output_dir", output_dref,
            "--target_column", "Quantity",
            "--timestamp_column", "WeekStarting",
            "--timeseries_id_columns", "Store", "Brand",
        ],
    )  # fmt: skip

    from fninfer.pipeline.core import Pipeline

    pipeline = Pipeline(workspace=ws, steps=[parallel_run_step, upload_predictions_step])
    run = experiment.submit(pipeline)

    # Wait for the run to be completed
    run.wait_for_completion(show_output=False, raise_on_error=True)

    def download_predictions(
        run, target_dir=None, step_name="many-models-forecasting", output_name="forecasting_output"
    ):
        stitch_run = run.find_step_run(step_name)[0]
        port_data = stitch_run.get_output_data(output_name)
        port_data.download(target_dir, show_progress=True, overwrite=True)
        return os.path.join(target_dir, "azureml", stitch_run.id, output_name)

    file_path = download_predictions(run, "output")

    df = pd.read_csv(file_path + "/parallel_run_step.txt", sep=" ", header=None)
    df.columns = ["WeekStarting", "Predictions", "Quantity", "Store", "Brand"]
    df["WeekStarting"] = pd.to_datetime(df["WeekStarting"])

    # what the notebook shows: forecasts for every inference week of every (store, brand), beside the actuals
    inference_weeks = pd.date_range("1992-05-28", "1992-10-01", freq="7D")
    assert len(df) == len(stores) * len(BRANDS) * len(inference_weeks)
    assert sorted(set(zip(df["Store"], df["Brand"], strict=True))) == [(s, b) for s in stores for b in BRANDS]
    assert (df["WeekStarting"] >= pd.Timestamp(split_date)).all() and df["Predictions"].notna().all()
    error = (df["Predictions"] - df["Quantity"]).abs() / df["Quantity"]
    assert error.median() < 0.5  # the models learnt the series, not noise
    # copy_predictions.py wrote the same forecasts as a CSV on the predictions datastore, through the DataReference
    written = Dataset.File.from_files(path=(output_dstore, "forecasts_*.csv"), validate=False)
    (new,) = set(written.to_path()) - copied_before
    written.download("copied", overwrite=True)
    copied = pd.read_csv(Path("copied") / new.lstrip("/"))
    assert list(copied.columns) == ["WeekStarting", "Prediction", "Quantity", "Store", "Brand"] and len(copied) == len(
        df
    )
