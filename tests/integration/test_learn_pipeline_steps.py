"""A three-step pipeline on a real host, as Microsoft Learn's v1 how-tos build them (import-swapped), with
scikit-learn's bundled iris data: prepare (PythonScriptStep, OutputFileDatasetConfig) -> score (ParallelRunStep over
the prepared files read as a table) -> summarise (PythonScriptStep, PipelineData in, `run.register_model` from its
outputs). Submitted, reused step by step, published and called over REST, put behind a PipelineEndpoint, scheduled
weekly; then instances killed with SIGKILL during a script step and during the ParallelRunStep."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest
import requests
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Dataset, Environment, Experiment, Model, Run, Workspace
from fninfer.core.runconfig import RunConfiguration
from fninfer.data import OutputFileDatasetConfig
from fninfer.pipeline.core import (
    Pipeline,
    PipelineData,
    PipelineEndpoint,
    PipelineRun,
    Schedule,
    ScheduleRecurrence,
    StepSequence,
)
from fninfer.pipeline.core.graph import PipelineParameter
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.runs import lanes
from tests.hosting import RunningHost, eventually, run_host

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "tests" / "fixtures" / "steps"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def setup_data(ws: Workspace, tmp_path: Path, unique: str) -> Any:
    """The iris rows (with an id) on the default datastore as a file dataset, and a model trained on them."""
    features, labels = load_iris(return_X_y=True)
    folder = tmp_path / "raw"
    folder.mkdir()
    frame = pd.DataFrame(features, columns=COLUMNS)
    frame.insert(0, "id", range(len(frame)))
    frame.to_csv(folder / "iris.csv", index=False)
    model_path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), model_path)
    Model.register(workspace=ws, model_name="iris_steps_model", model_path=str(model_path))
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(folder), target_path=f"iris-{unique}", overwrite=True, show_progress=False)
    return Dataset.File.from_files(path=(datastore, f"iris-{unique}/*.csv"))


def three_steps(ws: Workspace, raw: Any, unique: str, pause: float = 0, score_pause: float = 0) -> Pipeline:
    """prepare -> score -> summarise, wired by data as the how-tos wire them."""
    datastore = ws.get_default_datastore()
    rows_per_file = PipelineParameter(name="rows_per_file", default_value=50)
    prepared = OutputFileDatasetConfig(name="prepared", destination=(datastore, f"prepared-{unique}/{{run-id}}"))
    scores = PipelineData("scores", datastore=datastore)
    environment = Environment("steps_environment")
    runconfig = RunConfiguration()
    runconfig.environment = environment
    prepare = PythonScriptStep(
        script_name="prepare.py",
        name="prepare",
        arguments=[
            *["--raw", raw.as_named_input("raw").as_mount(), "--out", prepared],
            *["--rows-per-file", rows_per_file, "--pause", str(pause)],
        ],
        source_directory=str(STEPS),
        compute_target="cpu-cluster",
        runconfig=runconfig,
        allow_reuse=True,
    )
    score = ParallelRunStep(
        name="score",
        parallel_run_config=ParallelRunConfig(
            source_directory=str(STEPS),
            entry_script="score.py",
            mini_batch_size="1KB",
            error_threshold=0,
            output_action="append_row",
            environment=environment,
            compute_target="cpu-cluster",
            node_count=2,
            process_count_per_node=1,
        ),
        inputs=[prepared.read_delimited_files().as_input("prepared")],
        output=scores,
        arguments=["--pause", str(score_pause)],
        allow_reuse=True,
    )
    summarise = PythonScriptStep(
        script_name="summarise.py",
        name="summarise",
        arguments=["--scores", scores.as_input("scores"), "--model-name", f"iris_retrained_{unique}"],
        inputs=[scores.as_input("scores")],
        source_directory=str(STEPS),
        allow_reuse=True,
    )
    pipeline = Pipeline(workspace=ws, steps=[summarise])  # the steps upstream come with it (resolve_closure)
    assert pipeline.steps == [prepare, score, summarise]
    return pipeline


def scored_ids(run: PipelineRun, tmp_path: Path) -> list[int]:
    local = run.find_step_run("score")[0].get_output_data("scores").download(tmp_path / "scores", overwrite=True)
    return sorted(int(line.split()[0]) for line in (Path(local) / "parallel_run_step.txt").read_text().splitlines())


def test_three_steps_submitted_reused_published_called_endpoint_and_schedule(
    ws: Workspace, app_host: RunningHost, tmp_path: Path, unique: str
) -> None:
    raw = setup_data(ws, tmp_path, unique)
    pipeline = three_steps(ws, raw, unique)
    assert [step.name for step in pipeline.steps] == ["prepare", "score", "summarise"]
    assert pipeline.validate() == []

    run = Experiment(ws, f"steps-{unique}").submit(pipeline)
    assert run.wait_for_completion(show_output=True, timeout_seconds=300) == "Finished"
    steps = list(run.get_steps())
    assert [(step.name, step.get_status()) for step in steps] == [
        ("prepare", "Finished"),
        ("score", "Finished"),
        ("summarise", "Finished"),
    ]
    prepare, score, summarise = steps
    assert scored_ids(run, tmp_path) == list(range(150))  # every row once
    # the prepared files went to the OutputFileDatasetConfig's destination, {run-id} filled in
    prepared_path = prepare.get_output_data("prepared").path_on_datastore
    assert prepared_path == f"prepared-{unique}/{prepare.id}/"
    assert sorted(n for n in prepare.get_file_names() if n.startswith("prepared/part-")) == [
        "prepared/part-000.csv",
        "prepared/part-001.csv",
        "prepared/part-002.csv",
    ]
    # the script's stdout is the step's log; its metrics are the step run's; the model names the step run
    logs = prepare.get_details_with_logs()["logFiles"]
    assert "prepare: wrote 150 rows" in logs["azureml-logs/70_driver_log.txt"]
    assert prepare.get_metrics() == {"rows": 150}
    assert Run(Experiment(ws, f"steps-{unique}"), run.id).get_metrics() == {"summarised": 150}
    model = Model(ws, name=f"iris_retrained_{unique}")
    assert model.version == 1 and model.properties["azureml.runId"] == summarise.id
    assert "outputs/summary.json" in summarise.get_file_names()
    summarise.download_file("outputs/summary.json", str(tmp_path / "summary.json"))
    assert json.loads((tmp_path / "summary.json").read_text())["rows"] == 150
    # the entry script's Run.get_context() was the score step run
    assert score.get_metrics()["init"] in (1, [1, 1])
    # the run history sees the same family
    children = list(Run(Experiment(ws, f"steps-{unique}"), run.id).get_children(type="azureml.StepRun"))
    assert sorted(child.id for child in children) == sorted(step.id for step in steps)
    found = list(Experiment(ws, f"steps-{unique}").get_runs(include_children=True))
    assert {r.id for r in found} == {run.id, *(step.id for step in steps)}

    # the same pipeline again: every step is reused, step by step, as in Azure ML
    again = Experiment(ws, f"steps-{unique}").submit(pipeline)
    assert again.wait_for_completion(show_output=False, timeout_seconds=60) == "Finished"
    reused = {step.name: step.get_details()["properties"]["azureml.reusedrunid"] for step in again.get_steps()}
    assert reused == {step.name: step.id for step in steps}

    # published, then called over REST with another parameter value: every step runs again
    published = run.publish_pipeline(name=f"Steps_{unique}", description="three steps", version="1.0")
    auth_header = {"Authorization": f"Bearer {ws.config.admin_key}"}
    body = {"ExperimentName": f"steps-{unique}", "ParameterAssignments": {"rows_per_file": 60}}
    answer = requests.post(published.endpoint, headers=auth_header, json=body).json()
    rest_run = PipelineRun(Experiment(ws, f"steps-{unique}"), answer["Id"])
    assert rest_run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
    assert all(not s.get_details()["properties"]["reused_from"] for s in rest_run.get_steps())
    assert scored_ids(rest_run, tmp_path) == list(range(150))
    assert Model(ws, name=f"iris_retrained_{unique}").version == 2

    # behind a PipelineEndpoint, called by its stable URL
    endpoint = PipelineEndpoint.publish(
        workspace=ws, name=f"steps-endpoint-{unique}", pipeline=pipeline, description="three steps"
    )
    answer = requests.post(endpoint.endpoint, headers=auth_header, json={"ExperimentName": f"steps-{unique}"}).json()
    endpoint_run = PipelineRun(Experiment(ws, f"steps-{unique}"), answer["Id"])
    assert endpoint_run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
    assert [s.name for s in endpoint_run.get_steps()] == ["prepare", "score", "summarise"]

    # scheduled weekly: the first run starts at creation
    schedule = Schedule.create(
        ws,
        name=f"Weekly steps {unique}",
        description="three steps weekly",
        pipeline_id=published.id,
        experiment_name=f"steps-{unique}",
        recurrence=ScheduleRecurrence(frequency="Week", interval=1),
        pipeline_parameters={"rows_per_file": 75},
    )
    try:
        with httpx.Client(base_url=app_host.base_url) as client:
            assert client.post("/admin/functions/run_schedules", json={"input": ""}).status_code == 202
        scheduled = eventually(schedule.get_last_pipeline_run, timeout=90)
        assert scheduled.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
        prepared = scheduled.find_step_run("prepare")[0]
        assert sorted(n for n in prepared.get_file_names() if n.startswith("prepared/part-")) == [
            "prepared/part-000.csv",
            "prepared/part-001.csv",
        ]
    finally:
        schedule.disable()


def test_a_failing_step_stops_what_depends_on_it(ws: Workspace, tmp_path: Path, unique: str) -> None:
    raw = setup_data(ws, tmp_path, unique)
    broken = PythonScriptStep(
        script_name="prepare.py",
        name="prepare",
        arguments=["--raw", raw.as_named_input("raw"), "--no-such-option"],
        source_directory=str(STEPS),
        allow_reuse=False,
    )
    after = PythonScriptStep(script_name="summarise.py", name="after", source_directory=str(STEPS))
    independent = PythonScriptStep(
        script_name="prepare.py",
        name="independent",
        arguments=["--raw", raw.as_named_input("raw"), "--out", OutputFileDatasetConfig(name="copy")],
        source_directory=str(STEPS),
        allow_reuse=False,
    )
    after.run_after(broken)
    pipeline = Pipeline(workspace=ws, steps=[StepSequence(steps=[broken, after]), independent])
    run = pipeline.submit(f"steps-failing-{unique}", continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False, timeout_seconds=180) == "Failed"
    statuses = {step.name: step.get_status() for step in run.get_steps()}
    assert statuses == {"prepare": "Failed", "independent": "Finished"}  # 'after' never started
    error = run.get_details()["error"]
    assert "step 'prepare' failed" in error["message"] and "exited with status 2" in error["message"]
    assert "the following arguments are required: --out" in error["log"]  # argparse, on stderr
    assert error["not_started"] == ["after"]


def test_pipelines_that_cannot_run_are_named(ws: Workspace, tmp_path: Path, unique: str) -> None:
    raw = setup_data(ws, tmp_path, unique)
    orphan = PipelineData("orphan", datastore=ws.get_default_datastore())
    reader = PythonScriptStep(
        script_name="summarise.py",
        name="reader",
        arguments=["--scores", orphan.as_input("orphan")],
        source_directory=str(STEPS),
    )
    assert "which no step of the pipeline writes" in Pipeline(ws, [reader]).validate()[0]
    one, two = (PythonScriptStep(script_name="prepare.py", name=n, source_directory=str(STEPS)) for n in "ab")
    one.run_after(two)
    two.run_after(one)
    assert "cycle" in Pipeline(ws, [one, two]).validate()[0]
    with pytest.raises(InvalidInput, match="not"):
        PythonScriptStep(script_name="missing.py", source_directory=str(STEPS))
    twice = PythonScriptStep(
        script_name="prepare.py",
        name="prepare",
        arguments=["--raw", raw.as_named_input("raw")],
        source_directory=str(STEPS),
    )
    with pytest.raises(InvalidInput, match="unique"):
        Experiment(ws, "x").submit(
            Pipeline(ws, [twice, twice.__class__("prepare.py", name="prepare", source_directory=str(STEPS))])
        )


# -- instances killed mid-step: two instances on a host of their own ---------------------------------------------------


@pytest.fixture
def two_instances(lone_azurite: Azurite, tmp_path: Path) -> Iterator[RunningHost]:
    env = {
        "FNINFER_MODEL_CACHE": str(tmp_path / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(tmp_path / "snapshots"),
        "MARKER_DIR": str(tmp_path / "markers"),
        "RELEASE_FILE": str(tmp_path / "release"),  # a paused prepare step waits for it
    }
    (tmp_path / "markers").mkdir()
    with run_host(ROOT, tmp_path / "host", storage=lone_azurite.connection_string, instances=2, env=env) as host:
        yield host


def _holder(ws: Workspace, step_run_id: str, during: str) -> int | None:
    """The pid of the instance holding the step run's script lease, or one of its mini-batch lanes."""
    if during == "parallel":
        owners = [state.owner for state in lanes.survey(ws.storage, step_run_id).values() if state.owner]
        return int(owners[0].split(":")[1]) if owners else None
    for name in ws.storage.list_names(layout.RUNS_CONTAINER, layout.leases_prefix(step_run_id)):
        lease, _ = ws.storage.try_read_json(layout.RUNS_CONTAINER, name)
        if lease and lease["owner"] and name.rsplit("/", 1)[1].startswith("script"):
            return int(lease["owner"].split(":")[1])
    return None


@pytest.mark.slow  # kills instances: `make test` and CI run it, the inner loop does not
@pytest.mark.parametrize("during", ["script", "parallel"])
def test_a_killed_instance_leaves_every_output_once(
    two_instances: RunningHost, tmp_path: Path, unique: str, during: str
) -> None:
    ws = Workspace.from_config(two_instances.config_path)
    raw = setup_data(ws, tmp_path, unique)
    if during == "script":
        pipeline = three_steps(ws, raw, unique, pause=6)
    else:
        pipeline = three_steps(ws, raw, unique, score_pause=1.0)
    run = Experiment(ws, f"steps-kill-{unique}").submit(pipeline, regenerate_outputs=True)
    instances = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    pids = {int(entry["pid"]) for entry in instances}
    step_name = "prepare" if during == "script" else "score"
    step = eventually(lambda: next(iter(run.find_step_run(step_name)), None), timeout=120)
    victim = eventually(lambda: _holder(ws, step.id, during) in pids and _holder(ws, step.id, during), timeout=120)
    if during == "script":  # the script is running (it left its marker)
        eventually(lambda: any((tmp_path / "markers").iterdir()), timeout=60)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    (tmp_path / "release").touch()  # only now may a prepare step finish: the killed one had not
    assert run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
    print(f"\nkilled during the {during} step: the run finished {time.monotonic() - killed_at:.1f} s later")
    steps = {s.name: s for s in run.get_steps()}
    assert [s.get_status() for s in steps.values()] == ["Finished"] * 3
    assert scored_ids(run, tmp_path) == list(range(150))  # every row once
    written = [n for n in steps["prepare"].get_file_names() if n.startswith("prepared/written-by-")]
    assert len(written) == 1  # the prepare step's outputs were committed once
    markers = list((tmp_path / "markers").iterdir())
    # a script step is run again only when it had not finished
    assert len(markers) == (2 if during == "script" else 1)
    assert Model(ws, name=f"iris_retrained_{unique}").version == 1  # summarise registered once
