"""Pipelines as real v1 code builds them, where fninfer used to be stricter or shaped differently from Azure ML (issue
21): step display names with spaces, environments pinned to what an Azure ML image had (the step runs, its log lists
each difference), a package the app lacks (the import fails naming it and how to add it), a one-file dataset mounted
as the file, a DataReference written through, partition key columns last, `Pipeline._set_experiment_name`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from fninfer.core import Dataset, Environment, Experiment, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.runconfig import RunConfiguration
from fninfer.data.data_reference import DataReference
from fninfer.pipeline.core import Pipeline, PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from shared.core.errors import InvalidInput
from shared.pipelines.engine.step_parts import validate_environment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fidelity"


def v1_environment(name: str) -> Environment:
    """Pins of an Azure ML image the app does not meet, and a package it does not have."""
    environment = Environment(name)
    environment.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["python=3.7.*", "scikit-learn==0.22.2"], pip_packages=["tensorflow==2.3.0", "azureml-defaults"]
    )
    return environment


def runconfig(environment: Environment) -> RunConfiguration:
    config = RunConfiguration()
    config.environment = environment
    return config


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "steps"
    shutil.copytree(FIXTURES, folder)
    return folder


def test_display_names_pinned_environments_one_file_mounts_and_data_references(
    ws: Workspace, tmp_path: Path, code: Path, unique: str
) -> None:
    datastore = ws.get_default_datastore()
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "diabetes.csv").write_text("age,bmi\n50,31.2\n61,22.5\n")
    uploaded = datastore.upload_files([str(tmp_path / "raw" / "diabetes.csv")], target_path=f"raw-{unique}")
    one_file = Dataset.File.from_files(path=uploaded.path("diabetes.csv"))
    results = DataReference(datastore, data_reference_name="results", path_on_datastore=f"results-{unique}")
    environment = v1_environment(f"v1-env-{unique}")

    train = PythonScriptStep(
        name="Train Model",
        script_name="train.py",
        arguments=["--input_data", one_file.as_named_input("raw").as_mount(), "--out", results],
        inputs=[results],
        source_directory=str(code),
        runconfig=runconfig(environment),
        allow_reuse=False,
    )
    evaluate = PythonScriptStep(
        name="Evaluate Model ",
        script_name="evaluate.py",
        arguments=["--input_data", one_file.as_named_input("raw_copy").as_download()],
        source_directory=str(code),
        allow_reuse=False,
    )
    evaluate.run_after(train)
    pipeline = Pipeline(workspace=ws, steps=[train, evaluate])
    assert callable(pipeline._set_experiment_name)  # a real MLOps template reads it
    assert pipeline.validate() == [] and pipeline.graph.nodes == [train, evaluate]

    run = Experiment(ws, f"fidelity-{unique}").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"
    (trained,) = run.find_step_run("Train Model")
    (evaluated,) = run.find_step_run("Evaluate Model ")
    assert trained.name == "Train Model" and evaluated.get_status() == "Finished"

    log = trained.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    # the step ran on the app's environment, its log listing each difference as a service's does
    assert "WARNING:fninfer.environment:python ==3.7.* is requested; the app runs Python 3.11" in log
    assert "WARNING:fninfer.environment:package 'scikit-learn' ==0.22.2 is requested; the app has" in log
    assert "WARNING:fninfer.environment:package 'tensorflow' is not installed in the Function App" in log
    assert "train: 3 lines from " in log and log.split("train: 3 lines from ")[1].split()[0].endswith("diabetes.csv")
    assert (
        "evaluate: first line age,bmi"
        in evaluated.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    )
    # what the script wrote in the mounted DataReference is on the datastore
    assert datastore.download(tmp_path / "down", prefix=f"results-{unique}/", show_progress=False) == 1
    assert (tmp_path / "down" / f"results-{unique}" / "summary.txt").read_text() == "3 rows, header age,bmi\n"
    # the step's environment was registered at submission, as Azure ML does: `fninfer install` / `package` see it
    assert Environment.get(ws, environment.name).python.conda_dependencies.requirements() == (
        environment.python.conda_dependencies.requirements()
    )


def test_a_package_the_app_lacks_fails_at_the_import_saying_how_to_add_it(
    ws: Workspace, tmp_path: Path, code: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    datastore = ws.get_default_datastore()
    folder = tmp_path / "rows"
    folder.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_csv(folder / "rows.csv", index=False)
    datastore.upload(str(folder), target_path=f"rows-{unique}", show_progress=False)
    rows = Dataset.Tabular.from_delimited_files(path=(datastore, f"rows-{unique}/*.csv"))
    environment = v1_environment(f"tf-env-{unique}")
    script = PythonScriptStep(
        name="Needs TensorFlow",
        script_name="needs_tensorflow.py",
        source_directory=str(code),
        runconfig=runconfig(environment),
        allow_reuse=False,
    )
    batch = ParallelRunStep(
        name="Score With TensorFlow",  # the default output's name is derived from it
        parallel_run_config=ParallelRunConfig(
            source_directory=str(code),
            entry_script="score_needs_tensorflow.py",
            error_threshold=0,
            output_action="append_row",
            environment=environment,
            compute_target="cpu-cluster",
            node_count=1,
            run_max_try=1,
        ),
        inputs=[rows.as_named_input("rows")],
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[script, batch])
    run = pipeline.submit(f"missing-{unique}", continue_on_step_failure=True)
    assert pipeline._name == f"missing-{unique}"  # an experiment names a pipeline without a description
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"

    (failed_script,) = run.find_step_run("Needs TensorFlow")
    error = failed_script.get_details()["error"]["message"]
    assert "ModuleNotFoundError" in failed_script.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    assert "no module 'tensorflow' (package 'tensorflow')" in error
    assert "the environment asks for 'tensorflow==2.3.0'" in error
    assert "fninfer package --from-environments" in error and "fninfer install --from-environments" in error

    (failed_batch,) = run.find_step_run("Score With TensorFlow")
    batch_logs = "".join(failed_batch.get_details_with_logs()["logFiles"].values())
    assert "WARNING:fninfer.environment:package 'tensorflow' is not installed" in batch_logs
    assert "no module 'tensorflow'" in batch_logs and "fninfer install --from-environments" in batch_logs

    # strict, the app setting FNINFER_ENVIRONMENT_CHECK, refuses such a pipeline (checked as the app checks it)
    monkeypatch.setenv("FNINFER_ENVIRONMENT_CHECK", "strict")
    (problem,) = Pipeline(workspace=ws, steps=[script]).validate()
    assert "cannot run in this Function App" in problem and "FNINFER_ENVIRONMENT_CHECK=strict" in problem
    with pytest.raises(InvalidInput, match="FNINFER_ENVIRONMENT_CHECK"):
        validate_environment({"name": "x", "requirements": ["scikit-learn==0.22.2"]})


def test_partition_key_columns_come_last_everywhere(ws: Workspace, tmp_path: Path, code: Path, unique: str) -> None:
    datastore = ws.get_default_datastore()
    root = tmp_path / "sales"
    for store, brand, quantity in [(1000, "dominicks", 10), (1000, "tropicana", 20), (1001, "tropicana", 30)]:
        (root / str(store) / brand).mkdir(parents=True)
        pd.DataFrame({"week": ["w1"], "quantity": [quantity]}).to_csv(
            root / str(store) / brand / "data.csv", index=False
        )
    datastore.upload(str(root), target_path=f"sales-{unique}", show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(
        path=(datastore, f"sales-{unique}/**/*.csv"), partition_format=f"sales-{unique}/{{Store}}/{{Brand}}/data.csv"
    )
    frame = dataset.to_pandas_dataframe()
    assert list(frame.columns) == ["week", "quantity", "Store", "Brand"]  # the file's columns, then the keys
    # partition_by keeps the keys in the folders only, as Azure ML writes them: they come back last
    repartitioned = dataset.partition_by(["Store", "Brand"], target=(datastore, f"by-key-{unique}"))
    rows = repartitioned.to_pandas_dataframe().sort_values("quantity")
    assert list(rows.columns) == ["week", "quantity", "Store", "Brand"]
    assert rows["Store"].tolist() == ["1000", "1000", "1001"]  # a key from the path is text, as in Azure ML

    output = PipelineData("scored", datastore=datastore)
    step = ParallelRunStep(
        name="Score Partitions",
        parallel_run_config=ParallelRunConfig(
            source_directory=str(code),
            entry_script="score_rows.py",
            error_threshold=0,
            output_action="append_row",
            environment=Environment(f"plain-{unique}"),
            compute_target="cpu-cluster",
            node_count=1,
            partition_keys=["Store", "Brand"],
        ),
        inputs=[dataset.as_named_input("sales")],
        output=output,
        allow_reuse=False,
    )
    script = PythonScriptStep(
        name="Print Columns",
        script_name="print_columns.py",
        inputs=[dataset.as_named_input("sales")],
        source_directory=str(code),
    )
    run = Experiment(ws, f"partitions-{unique}").submit(Pipeline(workspace=ws, steps=[step, script]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    script_log = run.find_step_run("Print Columns")[0].get_details_with_logs()["logFiles"]
    assert "script columns: ['week', 'quantity', 'Store', 'Brand']" in script_log["azureml-logs/70_driver_log.txt"]
    (step_run,) = run.find_step_run("Score Partitions")
    local = step_run.get_output_data("scored").download(tmp_path / "scored")
    lines = sorted((Path(local) / "parallel_run_step.txt").read_text().splitlines())
    assert lines == ["w1 10 1000 dominicks", "w1 20 1000 tropicana", "w1 30 1001 tropicana"]
    logs = "".join(step_run.get_details_with_logs()["logFiles"].values())
    assert "columns: ['week', 'quantity', 'Store', 'Brand']" in logs


def test_pipeline_building_members(ws: Workspace, tmp_path: Path, code: Path, unique: str) -> None:
    datastore = ws.get_default_datastore()
    folder = tmp_path / "rows"
    folder.mkdir()
    pd.DataFrame({"store": ["a", "b", "a"], "quantity": [1, 2, 3]}).to_csv(folder / "rows.csv", index=False)
    datastore.upload(str(folder), target_path=f"members-{unique}", show_progress=False)
    rows = Dataset.Tabular.from_delimited_files(path=(datastore, f"members-{unique}/*.csv"))
    only_a = rows.filter(rows["store"] == "a").register(ws, f"only-a-{unique}")  # a filter cuts into mini-batches

    config = ParallelRunConfig(
        source_directory=str(code),
        entry_script="score_rows.py",
        mini_batch_size="1KB",
        error_threshold=0,
        output_action="append_row",
        environment=v1_environment(f"yaml-env-{unique}"),
        compute_target="cpu-cluster",
        node_count=1,
    )
    config.save_to_yaml(tmp_path / "prs.yml")
    loaded = ParallelRunConfig.load_yaml(ws, tmp_path / "prs.yml")
    assert loaded.mini_batch_size == 1024 and loaded.entry_script == "score_rows.py"
    assert loaded.environment.python.conda_dependencies.requirements() == (
        config.environment.python.conda_dependencies.requirements()
    )
    scored = PipelineData("scored", datastore=datastore)
    step = ParallelRunStep(
        name="Score A", parallel_run_config=loaded, inputs=[only_a.as_named_input("rows")], output=scored
    )
    assert step.step_type == "ParallelRunStep" and not step.running_on_windows and step.run_after_steps == []
    first = Experiment(ws, f"members-{unique}").submit(Pipeline(workspace=ws, steps=[step]))
    assert first.wait_for_completion(show_output=False) == "Finished"

    # an earlier run's output as a later pipeline's input (PortDataReference), its file read by a script step
    output = first.find_step_run("Score A")[0].get_output_data("scored")
    assert output.data_reference_name == "scored" and output.path_on_datastore.endswith("/scored/")
    evaluate = PythonScriptStep(
        name="Read Earlier Output",
        script_name="read_folder.py",
        arguments=["--input_data", output.as_download("earlier")],
        source_directory=str(code),
    )
    PythonScriptStep.validate_arguments(evaluate.arguments, evaluate.inputs, evaluate.outputs)
    resolved, described = PythonScriptStep.resolve_input_arguments(evaluate.arguments, evaluate.inputs, [], {})
    assert described[1] == {"kind": "input", "name": "earlier"} and resolved[0] == "--input_data"
    with pytest.raises(ValueError, match="not in the input/output lists"):
        PythonScriptStep.validate_arguments([scored], [], [])
    second = Experiment(ws, f"members-{unique}").submit(Pipeline(workspace=ws, steps=[evaluate]))
    assert second.wait_for_completion(show_output=False) == "Finished"
    log = second.find_step_run("Read Earlier Output")[0].get_details_with_logs()["logFiles"]
    assert "read_folder: parallel_run_step.txt: a 1" in log["azureml-logs/70_driver_log.txt"]
