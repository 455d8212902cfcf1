"""Microsoft Learn's ParallelRunStep how-to ("Run batch inference on large amounts of data"), both halves, and its two
partitioned samples, import-swapped (`azureml` -> `fninfer`, `azureml_user` -> `fninfer_user`) against a real host.
The data is made here: scikit-learn's digits as PNG files (the how-to's MNIST images), its iris as CSV. What differs
from the how-to's code is said where it happens: the model (scikit-learn, not TensorFlow), the image reader (a small
PNG reader, not PIL), the storage account (the app's own, standing for the public `pipelinedata` account), and the
Environment's docker settings (no containers on Functions)."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Dataset, Environment, Experiment, Workspace
from fninfer.core.compute import AmlCompute, ComputeTarget
from fninfer.core.datastore import Datastore
from fninfer.core.model import Model
from fninfer.core.runconfig import DEFAULT_CPU_IMAGE, CondaDependencies
from fninfer.data.dataset_consumption_config import DatasetConsumptionConfig
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineParameter
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

ROOT = Path(__file__).resolve().parents[2]
LEARN = ROOT / "tests" / "fixtures" / "batch" / "learn"
sys.path.insert(0, str(LEARN))
from png import write_png  # noqa: E402


def compute(ws: Workspace, compute_name: str) -> ComputeTarget:
    """The how-to's 'Create or Attach existing compute resource' cell."""
    compute_min_nodes = os.environ.get("AML_COMPUTE_CLUSTER_MIN_NODES", 0)
    compute_max_nodes = os.environ.get("AML_COMPUTE_CLUSTER_MAX_NODES", 4)
    vm_size = os.environ.get("AML_COMPUTE_CLUSTER_SKU", "STANDARD_D2_V2")
    if compute_name in ws.compute_targets:
        compute_target = ws.compute_targets[compute_name]
        if compute_target and type(compute_target) is AmlCompute:
            print("found compute target. just use it. " + compute_name)
    else:
        print("creating a new compute target...")
        provisioning_config = AmlCompute.provisioning_configuration(
            vm_size=vm_size, min_nodes=compute_min_nodes, max_nodes=compute_max_nodes
        )
        compute_target = ComputeTarget.create(ws, compute_name, provisioning_config)
        compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
        print(compute_target.get_status().serialize())
    return compute_target


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(LEARN, tmp_path / "Code")
    return tmp_path


def test_mnist_images_from_a_file_dataset(ws: Workspace, here: Path, unique: str) -> None:
    digits = load_digits()
    pixels = np.rint(digits.images * 255 / 16).astype(np.uint8)  # 8x8 images, as PNG files
    (here / "mnist").mkdir()
    for index in range(40):
        write_png(here / "mnist" / f"{index}.png", pixels[index])
    (here / "models").mkdir()
    classifier = LogisticRegression(max_iter=2000).fit(pixels.reshape(len(pixels), -1), digits.target)
    joblib.dump(classifier, here / "models" / "digits.joblib")
    account_name = ws.storage.blobs.account_name  # stands for "pipelinedata", the how-to's public account
    container_name = f"sampledata-{unique}"
    Datastore.register_azure_blob_container(ws, f"mnist_upload_{unique}", container_name, create_if_not_exists=True)
    Datastore.get(ws, f"mnist_upload_{unique}").upload("mnist", target_path="mnist", show_progress=False)

    # -- the how-to, from here on ------------------------------------------------------------------------------------
    compute_target = compute(ws, os.environ.get("AML_COMPUTE_CLUSTER_NAME", f"cpu-cluster-{unique}"))

    datastore_name = "mnist_datastore"
    mnist_data = Datastore.register_azure_blob_container(
        ws, datastore_name=datastore_name, container_name=container_name, account_name=account_name, overwrite=True
    )
    def_data_store = ws.get_default_datastore()

    path_on_datastore = mnist_data.path("mnist")
    input_mnist_ds = Dataset.File.from_files(path=path_on_datastore, validate=False)

    pipeline_param = PipelineParameter(name="mnist_param", default_value=input_mnist_ds)
    input_mnist_ds_consumption = DatasetConsumptionConfig("minist_param_config", pipeline_param).as_mount()

    output_dir = PipelineData(name="inferences", datastore=def_data_store)

    model = Model.register(
        model_path="models/",
        model_name="mnist-prs",
        tags={"pretrained": "mnist"},
        description="Mnist trained scikit-learn model",
        workspace=ws,
    )
    assert model.name == "mnist-prs"

    scripts_folder = "Code"
    script_file = "digit_identification.py"
    batch_conda_deps = CondaDependencies.create(python_version="3.11", pip_packages=["scikit-learn", "numpy"])
    batch_env = Environment(name="batch_environment")
    batch_env.python.conda_dependencies = batch_conda_deps
    assert DEFAULT_CPU_IMAGE  # batch_env.docker.base_image = DEFAULT_CPU_IMAGE: no containers on Functions

    parallel_run_config = ParallelRunConfig(
        source_directory=scripts_folder,
        entry_script=script_file,
        mini_batch_size=PipelineParameter(name="batch_size_param", default_value="5"),
        error_threshold=10,
        output_action="append_row",
        append_row_file_name="mnist_outputs.txt",
        environment=batch_env,
        compute_target=compute_target,
        process_count_per_node=PipelineParameter(name="process_count_param", default_value=2),
        node_count=2,
    )
    parallelrun_step = ParallelRunStep(
        name="batchscoring-" + unique,
        parallel_run_config=parallel_run_config,
        inputs=[input_mnist_ds_consumption],
        output=output_dir,
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[parallelrun_step])
    experiment = Experiment(ws, "digit_identification")
    pipeline_run = experiment.submit(pipeline)
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"

    # resubmit with a single image and other parameters
    path_on_datastore = mnist_data.path("mnist/0.png")
    single_image_ds = Dataset.File.from_files(path=path_on_datastore, validate=False)
    pipeline_run_2 = experiment.submit(
        pipeline,
        pipeline_parameters={"mnist_param": single_image_ds, "batch_size_param": "1", "process_count_param": 1},
    )
    assert pipeline_run_2.wait_for_completion() == "Finished"

    batch_run = pipeline_run.find_step_run(parallelrun_step.name)[0]
    batch_output = batch_run.get_output_data("inferences")
    target_dir = tempfile.mkdtemp()
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(target_dir, batch_output.path_on_datastore, parallel_run_config.append_row_file_name)
    df = pd.read_csv(result_file, delimiter=":", header=None)
    df.columns = ["Filename", "Prediction"]

    assert df["Filename"].tolist() == sorted(f"{i}.png" for i in range(40))  # each image once, in input order
    predicted = dict(zip(df["Filename"], df["Prediction"], strict=True))
    correct = sum(predicted[f"{i}.png"] == digits.target[i] for i in range(40))
    assert correct >= 36  # the model does recognise the digits it reads from the PNG files
    details = pipeline_run.get_details()["properties"]
    assert (details["total_mini_batches"], details["total_items"]) == (8, 40)
    second = next(pipeline_run_2.get_children())
    assert pipeline_run_2.get_details()["properties"]["total_items"] == 1
    assert "mnist_outputs.txt" in " ".join(second.get_file_names())


def test_iris_rows_from_a_tabular_dataset(ws: Workspace, here: Path, unique: str) -> None:
    features, labels = load_iris(return_X_y=True, as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    iris = features.set_axis(["sepal.length", "sepal.width", "petal.length", "petal.width"], axis=1)
    (here / "iris").mkdir()
    iris.to_csv(here / "iris" / "iris.csv", index=False)
    # class numbers, not names: iris_score.py assigns a (rows, 1) array to a column, which pandas 3 refuses for
    # strings (pandas' own change; the script is kept as Learn writes it)
    model = LogisticRegression(max_iter=1000).fit(iris.to_numpy(), labels.to_numpy())
    (here / "iris_model.pkl").mkdir()
    with open(here / "iris_model.pkl" / "iris_model.pkl", "wb") as handle:
        pickle.dump(model, handle)
    account_name = ws.storage.blobs.account_name  # stands for "pipelinedata"
    container_name = f"sampledata-{unique}"
    upload = Datastore.register_azure_blob_container(
        ws, f"iris_upload_{unique}", container_name, create_if_not_exists=True
    )
    upload.upload("iris", target_path="iris", show_progress=False)

    # -- the how-to, from here on ------------------------------------------------------------------------------------
    compute_target = compute(ws, f"cpu-cluster-{unique}")
    datastore_name = "iris_datastore_data"
    iris_data = Datastore.register_azure_blob_container(
        ws, datastore_name=datastore_name, container_name=container_name, account_name=account_name, overwrite=True
    )
    iris_ds_name = "iris_data"
    path_on_datastore = iris_data.path("iris/")
    input_iris_ds = Dataset.Tabular.from_delimited_files(path=path_on_datastore, validate=False)
    registered_iris_ds = input_iris_ds.register(ws, iris_ds_name, create_new_version=True)
    named_iris_ds = registered_iris_ds.as_named_input(iris_ds_name)

    datastore = ws.get_default_datastore()
    output_folder = PipelineData(name="inferences", datastore=datastore)
    Model.register(
        model_path="iris_model.pkl/iris_model.pkl", model_name="iris-prs", tags={"pretrained": "iris"}, workspace=ws
    )

    scripts_folder = "Code"
    script_file = "iris_score.py"
    predict_conda_deps = CondaDependencies.create(pip_packages=["scikit-learn", "pandas"])
    predict_env = Environment(name="predict_environment")
    predict_env.python.conda_dependencies = predict_conda_deps

    parallel_run_config = ParallelRunConfig(
        source_directory=scripts_folder,
        entry_script=script_file,
        mini_batch_size="1KB",  # the how-to's '5MB' would be one mini-batch of this small file: 1KB cuts it in five
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="iris_outputs.txt",
        environment=predict_env,
        compute_target=compute_target,
        node_count=3,
        run_invocation_timeout=600,
    )
    distributed_csv_iris_step = ParallelRunStep(
        name="example-iris",
        inputs=[named_iris_ds],
        output=output_folder,
        parallel_run_config=parallel_run_config,
        arguments=["--model_name", "iris-prs"],
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[distributed_csv_iris_step])
    pipeline_run = Experiment(ws, "iris-prs").submit(pipeline)
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"

    prediction_run = next(pipeline_run.get_children())
    prediction_output = prediction_run.get_output_data("inferences")
    prediction_output.download(local_path="iris_results")
    for root, _dirs, files in os.walk("iris_results"):
        for file in files:
            if file.endswith("iris_outputs.txt"):
                result_file = os.path.join(root, file)
    df = pd.read_csv(result_file, delimiter=" ", header=None)
    df.columns = ["sepal.length", "sepal.width", "petal.length", "petal.width", "variety"]

    assert len(df) == 150 and df.iloc[:, :4].to_numpy().tolist() == iris.to_numpy().tolist()  # every row, in order
    assert (names[df["variety"]] == names[labels.to_numpy()]).mean() > 0.9
    total = pipeline_run.get_details()["properties"]["total_mini_batches"]
    assert total == -(-(here / "iris" / "iris.csv").stat().st_size // 1024)  # cut by size, at row boundaries
    logs = prediction_run.get_details_with_logs()["logFiles"]
    assert len(logs) == total
    text = "".join(logs.values())
    assert "init() is called." in text and "run() is called with:" in text  # EntryScript().logger, per mini-batch


def test_files_partitioned_by_folder(ws: Workspace, here: Path, unique: str) -> None:
    datastore = ws.get_default_datastore()
    root = f"dataset_partition_test_{unique}"
    layout = {"user1/winter": "disco", "user1/fall": "orchestra", "user2/summer": "piano", "user4/fall": "piano"}
    for folder, genre in layout.items():
        (here / "test_files" / folder).mkdir(parents=True)
        (here / "test_files" / folder / f"{genre}.wav").write_bytes(b"w" * (10 + len(folder)))
        datastore.upload(f"test_files/{folder}", f"{root}/{folder}", overwrite=True, show_progress=False)

    partitioned_file_dataset = Dataset.File.from_files(
        path=(datastore, f"{root}/*/*/*.wav"), partition_format=root + "/{user}/{season}/{genres}.wav", validate=False
    )
    assert partitioned_file_dataset.partition_keys == ["user", "season", "genres"]
    output_dir = PipelineData(name="file_dataset_inferences", datastore=datastore)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="total_file_size.py",
        partition_keys=["user", "genres"],
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="file_size_outputs.txt",
        environment=Environment("batch_environment"),
        compute_target=compute(ws, f"cpu-cluster-{unique}"),
        node_count=2,
        run_invocation_timeout=600,
    )
    parallel_run_step = ParallelRunStep(
        name="summarize-file-size",
        inputs=[partitioned_file_dataset.as_named_input("partitioned_file_input")],
        output=output_dir,
        parallel_run_config=parallel_run_config,
        allow_reuse=False,
    )
    pipeline_run = Experiment(ws, "file-dataset-partition").submit(Pipeline(workspace=ws, steps=[parallel_run_step]))
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"

    batch_run = pipeline_run.find_step_run(parallel_run_step.name)[0]
    batch_output = batch_run.get_output_data(output_dir.name)
    target_dir = tempfile.mkdtemp()
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(target_dir, batch_output.path_on_datastore, parallel_run_config.append_row_file_name)
    df = pd.read_csv(result_file, delimiter=",", header=None)
    df.columns = ["File Name", "File Size", "Ratio", "user", "genres", "Total File Size of Partition"]
    groups = sorted(zip(df["user"], df["genres"], strict=True))
    assert groups == [("user1", "disco"), ("user1", "orchestra"), ("user2", "piano"), ("user4", "piano")]
    assert pipeline_run.get_details()["properties"]["total_mini_batches"] == 4  # one per (user, genres)
    assert "partition_key_value = {'user': 'user1', 'genres': 'disco'}" in "".join(
        batch_run.get_details_with_logs()["logFiles"].values()
    )


def test_rows_partitioned_by_column(ws: Workspace, here: Path, unique: str) -> None:
    datastore = ws.get_default_datastore()
    sales = pd.DataFrame(
        {
            "Store": [1000, 1000, 1001, 1000, 1001],
            "Brand": ["tropicana", "dominicks", "tropicana", "tropicana", "tropicana"],
            "INCOME": [1.5, 2.0, 3.0, 4.5, 5.0],
        }
    )
    (here / "oj").mkdir()
    sales.to_csv(here / "oj" / "oj.csv", index=False)
    datastore.upload_files(["oj/oj.csv"], "oj", f"oj_sales_data_{unique}", overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, f"oj_sales_data_{unique}/*.csv"))
    partitioned_dataset = dataset.partition_by(
        partition_keys=["Store", "Brand"],
        target=(datastore, f"partition_by_key_res_{unique}"),
        name="partitioned_oj_data",
    )
    assert partitioned_dataset.partition_keys == ["Store", "Brand"]
    output_dir = PipelineData(name="inferences", datastore=datastore)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="total_income.py",
        partition_keys=["Store", "Brand"],
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="revenue_outputs.txt",
        environment=Environment("batch_environment"),
        compute_target=compute(ws, f"cpu-cluster-{unique}"),
        node_count=2,
        run_invocation_timeout=600,
    )
    parallel_run_step = ParallelRunStep(
        name="summarize-revenue",
        inputs=[partitioned_dataset.as_named_input("partitioned_tabular_input")],
        output=output_dir,
        parallel_run_config=parallel_run_config,
        allow_reuse=False,
    )
    pipeline_run = Experiment(ws, "tabular-dataset-partition").submit(Pipeline(workspace=ws, steps=[parallel_run_step]))
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"

    batch_run = pipeline_run.find_step_run(parallel_run_step.name)[0]
    batch_output = batch_run.get_output_data(output_dir.name)
    target_dir = tempfile.mkdtemp()
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(target_dir, batch_output.path_on_datastore, parallel_run_config.append_row_file_name)
    df = pd.read_csv(result_file, delimiter=" ", header=None)
    df.columns = ["INCOME", "Store", "Brand", "total_income"]  # as the notebook's: the keys after the file's columns
    totals = {(int(s), b): t for s, b, t in zip(df["Store"], df["Brand"], df["total_income"], strict=True)}
    assert totals == {(1000, "tropicana"): 6.0, (1000, "dominicks"): 2.0, (1001, "tropicana"): 8.0}
    assert len(df) == 5 and pipeline_run.get_details()["properties"]["total_mini_batches"] == 3
