"""The seeds' "publish" and "schedule" snippets, with `azureml` replaced by `fninfer`, against a real host; plus the
endpoint's errors, PipelineParameters set over REST, and the schedules timer fired on two instances at once."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import pytest
import requests

from fninfer._http import tls_context
from fninfer.core import Environment, Experiment, Workspace
from fninfer.data.dataset_consumption_config import DatasetConsumptionConfig
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineParameter, PipelineRun, PublishedPipeline
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep
from tests.hosting import RunningHost, eventually
from tests.integration.test_seed_batch import read_results, seed_setup

__all__ = ["seed_setup"]  # a fixture, shared with the seeds' batch tests


def seed_pipeline(ws: Workspace, mini_batch_size: object = "5", dataset: object = None) -> Pipeline:
    default_ds = ws.get_default_datastore()
    parallel_run_config = ParallelRunConfig(
        source_directory="batch_scripts",
        entry_script="batch_scoring_script.py",
        mini_batch_size=mini_batch_size,
        error_threshold=10,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        node_count=4,
    )
    batch_input = (
        DatasetConsumptionConfig("batch_data", dataset)
        if dataset is not None
        else ws.datasets["batch-data"].as_named_input("batch_data")
    )
    parallelrun_step = ParallelRunStep(
        name="batch-score",
        parallel_run_config=parallel_run_config,
        inputs=[batch_input],
        output=PipelineData(name="inferences", datastore=default_ds, output_path_on_compute="results"),
        arguments=[],
        allow_reuse=False,
    )
    return Pipeline(workspace=ws, steps=[parallelrun_step])


def test_seed_publish_and_call_the_endpoint(seed_setup: Workspace) -> None:
    ws = seed_setup
    pipeline_run = Experiment(ws, "batch_prediction_pipeline").submit(seed_pipeline(ws))
    pipeline_run.wait_for_completion(show_output=False, timeout_seconds=120)

    # -- the seed, as written ---------------------------------------------------------------------------------------
    published_pipeline = pipeline_run.publish_pipeline(
        name="Batch_Prediction_Pipeline", description="Batch pipeline", version="1.0"
    )
    rest_endpoint = published_pipeline.endpoint

    from fninfer.core.authentication import InteractiveLoginAuthentication

    interactive_auth = InteractiveLoginAuthentication()
    auth_header = interactive_auth.get_authentication_header()

    response = requests.post(rest_endpoint, headers=auth_header, json={"ExperimentName": "Batch_Prediction"})
    run_id = response.json()["Id"]
    # ----------------------------------------------------------------------------------------------------------------

    run = PipelineRun(Experiment(ws, "Batch_Prediction"), run_id)
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    next(run.get_children()).get_output_data("inferences").download(local_path="from-endpoint")
    assert len(read_results("from-endpoint")) == 23
    assert (published_pipeline.name, published_pipeline.version, published_pipeline.status) == (
        "Batch_Prediction_Pipeline",
        "1.0",
        "Active",
    )
    again = pipeline_run.publish_pipeline(name="Batch_Prediction_Pipeline", description="Batch pipeline", version="2.0")
    versions = {p.version for p in PublishedPipeline.list(ws) if p.name == "Batch_Prediction_Pipeline"}
    assert {"1.0", "2.0"} <= versions
    assert PublishedPipeline.get(ws, again.id).endpoint == again.endpoint

    # -- what a caller gets wrong, named ----------------------------------------------------------------------------
    body = {"ExperimentName": "Batch_Prediction"}
    assert requests.post(rest_endpoint, json=body).status_code == 401
    missing = requests.post(rest_endpoint, headers=auth_header, json={})
    assert missing.status_code == 400 and "ExperimentName" in missing.json()["error"]["message"]
    unknown = requests.post(
        rest_endpoint, headers=auth_header, json={**body, "ParameterAssignments": {"batch_size": "3"}}
    )
    assert unknown.status_code == 400 and "batch_size" in unknown.json()["error"]["message"]
    nowhere = requests.post(rest_endpoint.replace(published_pipeline.id, "0" * 32), headers=auth_header, json=body)
    assert nowhere.status_code == 404 and "published pipeline" in nowhere.json()["error"]["message"]
    published_pipeline.disable()
    disabled = requests.post(rest_endpoint, headers=auth_header, json=body)
    assert disabled.status_code == 409 and "Disabled" in disabled.json()["error"]["message"]
    assert published_pipeline.id not in {p.id for p in PublishedPipeline.list(ws)}
    published_pipeline.enable()
    assert requests.post(rest_endpoint, headers=auth_header, json=body).status_code == 200


def test_pipeline_parameters_set_over_rest(seed_setup: Workspace) -> None:
    ws = seed_setup
    batch_size = PipelineParameter(name="batch_size", default_value="5")
    input_data = PipelineParameter(name="input_data", default_value=ws.datasets["batch-data"])
    published = seed_pipeline(ws, mini_batch_size=batch_size, dataset=input_data).publish(
        name="Parameterised", description="batch pipeline with parameters", version="1"
    )
    assert published.parameters["batch_size"] == "5"
    auth_header = {"Authorization": f"Bearer {ws.config.admin_key}"}
    body = {"ExperimentName": "Batch_Prediction", "ParameterAssignments": {"batch_size": "10"}}
    answer = requests.post(published.endpoint, headers=auth_header, json=body).json()
    run = PipelineRun(Experiment(ws, "Batch_Prediction"), answer["Id"])
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    assert run.get_details()["properties"]["total_mini_batches"] == 3  # 23 files, 10 per mini-batch
    bad = requests.post(
        published.endpoint,
        headers=auth_header,
        json={"ExperimentName": "Batch_Prediction", "ParameterAssignments": {"input_data": "no-such-dataset"}},
    )
    assert bad.status_code == 404 and "no-such-dataset" in bad.json()["error"]["message"]
    default_run = published.submit(ws, "Batch_Prediction")  # the defaults: 5 files per mini-batch
    assert default_run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    assert default_run.get_details()["properties"]["total_mini_batches"] == 5


def test_seed_weekly_schedule_fires_once_on_two_instances(seed_setup: Workspace, app_host: RunningHost) -> None:
    ws = seed_setup
    published_pipeline = seed_pipeline(ws).publish(name="Batch_Prediction_Pipeline", version="1.0")

    # -- the seed, as written ---------------------------------------------------------------------------------------
    from fninfer.pipeline.core import Schedule, ScheduleRecurrence

    weekly = ScheduleRecurrence(frequency="Week", interval=1)
    pipeline_schedule = Schedule.create(
        ws,
        name="Weekly Predictions",
        description="batch inferencing",
        pipeline_id=published_pipeline.id,
        experiment_name="Batch_Prediction",
        recurrence=weekly,
    )
    # ----------------------------------------------------------------------------------------------------------------

    try:
        # The schedules timer, invoked on the host at once from several callers (the admin API, as `func`'s
        # "programmatically called" invocations), alongside its own every-minute firing.
        def tick() -> int:
            with httpx.Client(base_url=app_host.base_url, verify=tls_context()) as client:
                return client.post("/admin/functions/run_schedules", json={"input": ""}).status_code

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert set(pool.map(lambda _: tick(), range(4))) == {202}
        last = eventually(pipeline_schedule.get_last_pipeline_run, timeout=60)
        assert last.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
        assert tick() == 202
        assert [run.id for run in eventually(pipeline_schedule.get_pipeline_runs)] == [last.id]
        assert Schedule.get(ws, pipeline_schedule.id).status == "Active"
        assert pipeline_schedule.id in {s.id for s in Schedule.list(ws)}
    finally:
        pipeline_schedule.disable()
    assert pipeline_schedule.status == "Disabled"
    assert pipeline_schedule.id not in {s.id for s in Schedule.list(ws)}


def test_schedule_errors_are_named(ws: Workspace, tmp_path: Path) -> None:
    from fninfer.pipeline.core import Schedule, ScheduleRecurrence
    from shared.core.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput, match="frequency"):
        ScheduleRecurrence(frequency="Fortnight", interval=1)
    with pytest.raises(NotFound, match="published pipeline"):
        Schedule.create(
            ws, name="s", pipeline_id="0" * 32, experiment_name="e", recurrence=ScheduleRecurrence("Day", 1)
        )
    with pytest.raises(InvalidInput, match="either a recurrence or a datastore"):
        Schedule.create(ws, name="s", pipeline_id="0" * 32, experiment_name="e")
    with pytest.raises(NotFound, match="schedule"):
        Schedule.get(ws, "0" * 32)


def test_a_data_schedule_is_created_over_the_api(seed_setup: Workspace, unique: str) -> None:
    from fninfer.pipeline.core import Schedule

    ws = seed_setup
    input_data = PipelineParameter(name="input_data", default_value=ws.datasets["batch-data"])
    published = seed_pipeline(ws, dataset=input_data).publish(name="On new data")
    schedule = Schedule.create(
        ws,
        name="Score new files",
        pipeline_id=published.id,
        experiment_name="Batch_Prediction",
        datastore=ws.get_default_datastore(),
        path_on_datastore=f"incoming-{unique}",
        polling_interval=1,
        data_path_parameter_name="input_data",
    )
    try:
        again = Schedule.get(ws, schedule.id)
        assert (again.datastore_name, again.path_on_datastore, again.polling_interval) == (
            "workspaceblobstore",
            f"incoming-{unique}",
            1,
        )
        assert again.data_path_parameter_name == "input_data" and again.recurrence is None
        assert schedule.get_last_pipeline_run() is None  # nothing was dropped yet
        assert [s.id for s in Schedule.get_schedules_for_pipeline_id(ws, published.id)] == [schedule.id]
    finally:
        schedule.disable()
