"""Script runs on a real host: Azure ML's most common v1 training pattern, import-swapped.

    src = ScriptRunConfig(source_directory='.', script='train.py', arguments=['--alpha', 0.5], ...)
    run = Experiment(ws, 'train').submit(src, tags={...})
    run.wait_for_completion(show_output=True)
    run.get_metrics(); run.register_model('m', model_path='outputs/model.pkl')

The script trains scikit-learn's ridge regression on its bundled diabetes data (read through a tabular dataset
argument), logs metrics and writes outputs/model.pkl; the model registered from the run predicts. A failing script
fails its run with the traceback in the details; a `python <script>` command, a RunConfiguration and resume_from
(a checkpoint folder on the datastore) run too; a running script is canceled.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from fninfer.core import Dataset, Environment, Experiment, Model, Run, ScriptRun, ScriptRunConfig, Workspace
from fninfer.core.runconfig import RunConfiguration
from fninfer.data.datapath import DataPath
from fninfer.exceptions import ActivityFailedException
from fninfer.pipeline.core import Pipeline
from fninfer.pipeline.steps import PythonScriptStep
from shared.core.storage import Storage
from studio import views

TRAIN = """
import argparse
import os

import joblib
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

from fninfer.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--test-size", type=float, default=0.2)
parser.add_argument("--data", required=True)
args = parser.parse_args()

run = Run.get_context()
frame = run.input_datasets[args.data].to_pandas_dataframe()
features, target = frame.drop(columns=["target"]), frame["target"]
x_train, x_test, y_train, y_test = train_test_split(features, target, test_size=args.test_size, random_state=0)
model = Ridge(alpha=args.alpha).fit(x_train, y_train)
mse = mean_squared_error(y_test, model.predict(x_test))
run.log("alpha", args.alpha)
run.log("mse", mse)
print(f"trained: alpha={args.alpha} mse={mse:.1f} parent={run.parent} run={run.id}")
os.makedirs("outputs", exist_ok=True)
joblib.dump(model, "outputs/model.pkl")
"""


def write(folder: Path, name: str, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return str(folder)


def diabetes_dataset(ws: Workspace, tmp_path: Path, unique: str) -> Dataset:
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    folder = tmp_path / "diabetes"
    folder.mkdir()
    features.assign(target=target).to_csv(folder / "diabetes.csv", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(folder), target_path=f"diabetes-{unique}", overwrite=True, show_progress=False)
    return Dataset.Tabular.from_delimited_files(path=(datastore, f"diabetes-{unique}/diabetes.csv"))


def test_a_script_run_trains_logs_and_registers_its_model(
    ws: Workspace, storage: Storage, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path / "src", "train.py", TRAIN)
    dataset = diabetes_dataset(ws, tmp_path, unique)
    env = Environment(f"sklearn-{unique}")
    env.python.conda_dependencies.add_pip_package("scikit-learn")
    src = ScriptRunConfig(
        source_directory=source,
        script="train.py",
        arguments=["--alpha", 0.5, "--test-size", 0.25, "--data", dataset.as_named_input("diabetes")],
        compute_target="cpu-cluster",
        environment=env,
    )
    experiment = Experiment(ws, f"train-{unique}")
    run = experiment.submit(src, tags={"alpha": 0.5, "owner": "ci"})

    assert isinstance(run, ScriptRun) and run.type == "azureml.scriptrun" == ScriptRun.RUN_TYPE
    assert run.id.startswith(f"train-{unique}_")
    details = run.wait_for_completion(show_output=True)
    printed = capsys.readouterr().out
    assert details["status"] == "Finished" and run.get_status() == "Finished"
    assert f"RunId: {run.id}" in printed and "Streaming azureml-logs/70_driver_log.txt" in printed
    assert "trained: alpha=0.5" in printed and "parent=None" in printed and "Execution Summary" in printed

    assert run.parent is None and details["parentRunId"] is None
    metrics = run.get_metrics()
    assert metrics["alpha"] == 0.5 and 1000 < metrics["mse"] < 6000
    assert run.get_tags() == {"alpha": "0.5", "owner": "ci"}
    definition = run.get_details()["runDefinition"]
    assert definition["script"] == "train.py" and definition["target"] == "cpu-cluster"
    assert definition["arguments"][:4] == ["--alpha", "0.5", "--test-size", "0.25"]
    assert definition["environment"]["name"] == env.name and run.get_environment().name == env.name
    names = run.get_file_names()
    assert "outputs/model.pkl" in names and "azureml-logs/70_driver_log.txt" in names
    log = run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    assert f"run={run.id}" in log
    assert Path(run.download_file("azureml-logs/70_driver_log.txt", str(tmp_path))).read_text() == log

    model = run.register_model(f"diabetes-{unique}", model_path="outputs/model.pkl", tags={"mse": metrics["mse"]})
    assert (
        model.properties["azureml.runId"] == run.id and model.version == 1 and model.tags["mse"] == str(metrics["mse"])
    )
    fetched = Model(ws, f"diabetes-{unique}", version="1")
    folder = Path(fetched.download(target_dir=str(tmp_path / "model"), exist_ok=True))
    regressor = joblib.load(folder if folder.is_file() else folder / "model.pkl")
    features, _ = load_diabetes(return_X_y=True, as_frame=True)
    assert regressor.predict(pd.DataFrame(features.iloc[:3])).shape == (3,)

    page = views.run_live(storage, run.id)  # the studio shows it as one run, not a pipeline
    assert not page["is_pipeline"] and [step["status"] for step in page["steps"]] == ["Finished"]
    assert "outputs/model.pkl" in [file.path for file in page["files"][run.id][0]]

    listed = list(experiment.get_runs())
    assert [type(r) for r in listed] == [ScriptRun] and listed[0].id == run.id
    assert isinstance(Run.get(ws, run.id), ScriptRun)


def test_a_script_run_is_not_its_own_child(ws: Workspace, tmp_path: Path, unique: str) -> None:
    source = write(tmp_path / "src", "noop.py", "print('ok')\n")
    experiment = Experiment(ws, f"childless-{unique}")
    run = experiment.submit(ScriptRunConfig(source, "noop.py"))
    assert run.wait_for_completion()["status"] == "Finished"
    # a ScriptRun has no children in Azure ML; recursive must end, not list the run inside itself forever
    assert list(run.get_children()) == [] and list(run.get_children(recursive=True)) == []
    assert list(Run.get(ws, run.id).get_children(recursive=True)) == []
    assert run.get_metrics(recursive=True) == {run.id: {}}

    step = PythonScriptStep(script_name="noop.py", source_directory=source, name="noop")
    pipeline_run = experiment.submit(Pipeline(ws, [step]))
    assert pipeline_run.wait_for_completion(show_output=False) == "Finished"
    (step_run,) = pipeline_run.get_steps()
    # the run history still lists a pipeline run's step runs, and a step run has none of its own
    assert [child.id for child in Run(experiment, pipeline_run.id).get_children()] == [step_run.id]
    assert [child.id for child in Run(experiment, pipeline_run.id).get_children(recursive=True)] == [step_run.id]
    assert list(Run(experiment, step_run.id).get_children()) == []


def test_a_failing_script_fails_its_run_with_the_traceback(ws: Workspace, tmp_path: Path, unique: str) -> None:
    source = write(
        tmp_path / "src",
        "fit.py",
        """
        import sys

        def fit(steps):
            raise ValueError(f"diverged after {steps} steps")

        print("fitting", sys.argv[1:])
        fit(int(sys.argv[2]))
        """,
    )
    run = Experiment(ws, f"failing-{unique}").submit(ScriptRunConfig(source, "fit.py", arguments=["--steps", 3]))
    with pytest.raises(ActivityFailedException, match="diverged after 3 steps"):
        run.wait_for_completion()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and run.get_status() == "Failed"
    error = details["error"]
    assert error["code"] == "UserError" and "exited with status 1" in error["message"]
    assert "Traceback (most recent call last):" in error["message"]
    assert 'in fit\n    raise ValueError(f"diverged after {steps} steps")' in error["message"]
    assert error["message"].endswith("ValueError: diverged after 3 steps")
    assert "fitting ['--steps', '3']" in run.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]


def test_a_command_and_a_run_configuration_run_and_a_running_script_is_canceled(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    source = write(
        tmp_path / "src",
        "echo.py",
        """
        import os, sys, time
        from fninfer.core import Run

        run = Run.get_context()
        run.log("argv", " ".join(sys.argv[1:]))
        run.log("greeting", os.environ.get("GREETING", "none"))
        if "--resume-from" in sys.argv:
            checkpoint = sys.argv[sys.argv.index("--resume-from") + 1]
            run.log("resumed", open(os.path.join(checkpoint, "state.txt")).read())
        if "--sleep" in sys.argv:
            time.sleep(120)
        """,
    )
    experiment = Experiment(ws, f"commands-{unique}")
    command = experiment.submit(ScriptRunConfig(source, command=["python", "-u", "echo.py", "--n", 3]))
    assert command.wait_for_completion()["status"] == "Finished"
    assert command.get_metrics()["argv"] == "--n 3"

    config = RunConfiguration(script="echo.py", arguments=["--from", "runconfig"])
    config.environment_variables = {"GREETING": "hello"}
    configured = experiment.submit(ScriptRunConfig(source, run_config=config), run_id=f"configured-{unique}")
    assert configured.id == f"configured-{unique}"
    configured.wait_for_completion()
    assert configured.get_metrics() == {"argv": "--from runconfig", "greeting": "hello"}

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "state.txt").write_text("epoch=7")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(checkpoint), target_path=f"ckpt-{unique}", overwrite=True, show_progress=False)
    resume_from = DataPath(datastore, f"ckpt-{unique}")
    resumed = ScriptRunConfig(source, "echo.py", arguments=["--n", 1], resume_from=resume_from)
    resumed_run = experiment.submit(resumed)
    resumed_run.wait_for_completion()
    assert resumed_run.get_metrics()["resumed"] == "epoch=7"

    sleeping = experiment.submit(ScriptRunConfig(source, "echo.py", arguments=["--sleep"]))
    deadline = time.monotonic() + 60
    while sleeping.get_status() != "Running" and time.monotonic() < deadline:
        time.sleep(0.5)
    sleeping.cancel()
    assert sleeping.wait_for_completion()["status"] == "Canceled"
    assert {run.id for run in experiment.get_runs()} == {command.id, configured.id, resumed_run.id, sleeping.id}
