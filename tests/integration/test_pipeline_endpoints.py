"""Pipeline endpoints and their schedules through the SDK and the REST endpoint on a real host, as the Learn how-tos
use them (import-swapped): publish, add a default version, call the stable endpoint, pick a version, schedule the
endpoint, update the schedule; and what a caller gets wrong, named."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests

from fninfer.core import Experiment, Workspace
from fninfer.pipeline.core import PipelineEndpoint, PipelineRun, PublishedPipeline, Schedule, ScheduleRecurrence
from fninfer.pipeline.core.graph import PipelineParameter
from shared.core.errors import Conflict, InvalidInput, NotFound
from tests.hosting import RunningHost, eventually
from tests.integration.test_seed_publish import seed_pipeline, seed_setup

__all__ = ["seed_setup"]  # a fixture


def finished(ws: Workspace, answer: dict[str, Any]) -> PipelineRun:
    run = PipelineRun(Experiment(ws, "Batch_Prediction"), answer["Id"])
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished"
    return run


def mini_batches(run: PipelineRun) -> int:
    return int(run.get_details()["properties"]["total_mini_batches"])


def test_an_endpoint_runs_its_default_version_behind_one_url(seed_setup: Workspace, unique: str) -> None:
    ws = seed_setup
    batch_size = PipelineParameter(name="batch_size", default_value="5")
    input_data = PipelineParameter(name="input_data", default_value=ws.datasets["batch-data"])
    pipeline = seed_pipeline(ws, mini_batch_size=batch_size, dataset=input_data)

    # -- the how-to, as written -------------------------------------------------------------------------------------
    pipeline_endpoint = PipelineEndpoint.publish(
        workspace=ws, name=f"scoring-{unique}", pipeline=pipeline, description="New Pipeline Endpoint"
    )
    pipeline_endpoint = PipelineEndpoint.get(workspace=ws, name=f"scoring-{unique}")
    # ----------------------------------------------------------------------------------------------------------------
    assert (pipeline_endpoint.default_version, pipeline_endpoint.status) == ("0", "Active")
    first = pipeline_endpoint.get_pipeline()
    assert first.name.startswith(f"scoring-{unique}-") and first.name.endswith("-Pipeline")
    bigger = seed_pipeline(
        ws, mini_batch_size=PipelineParameter(name="batch_size", default_value="10"), dataset=input_data
    ).publish(name="Batch_Prediction_Pipeline", version="2.0")
    pipeline_endpoint.add_default(bigger)
    assert pipeline_endpoint.default_version == "1"
    assert [(v.version, v.pipeline.id) for v in pipeline_endpoint.list_versions()] == [
        ("0", first.id),
        ("1", bigger.id),
    ]
    assert PipelineEndpoint.get(ws, id=pipeline_endpoint.id).name == f"scoring-{unique}"
    assert pipeline_endpoint.id in {e.id for e in PipelineEndpoint.list(ws)}

    auth_header = {"Authorization": f"Bearer {ws.config.admin_key}"}
    body = {"ExperimentName": "Batch_Prediction", "RunSource": "SDK"}
    # The default version (10 files a mini-batch), by the URL the SDK gives and by the endpoint's name.
    answer = requests.post(pipeline_endpoint.endpoint, headers=auth_header, json=body).json()
    assert answer["PipelineId"] == bigger.id
    run = finished(ws, answer)
    assert mini_batches(run) == 3
    tags = run._record["tags"]
    assert tags["azureml.pipelineendpointid"] == pipeline_endpoint.id and tags["azureml.runsource"] == "SDK"
    by_name = pipeline_endpoint.endpoint.replace(pipeline_endpoint.id, f"scoring-{unique}")
    # Version "0", a number as a number, and the input as Azure ML's DataPath.
    other = {
        **body,
        "PipelineVersion": "0",
        "ParameterAssignments": {"batch_size": 4},
        "DataPathAssignments": {
            "input_data": {"DataStoreName": "workspaceblobstore", "RelativePath": f"batch-data-{unique}"}
        },
    }
    run = finished(ws, requests.post(by_name, headers=auth_header, json=other).json())
    assert mini_batches(run) == 6 and run._record["parameters"]["input_data"]["dataset"] is None
    run = pipeline_endpoint.submit("Batch_Prediction", pipeline_parameters={"batch_size": "23"})
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished" and mini_batches(run) == 1

    # -- what a caller gets wrong, named ----------------------------------------------------------------------------
    assert requests.post(pipeline_endpoint.endpoint, json=body).status_code == 401
    nowhere = requests.post(by_name.replace(f"scoring-{unique}", "no-such-endpoint"), headers=auth_header, json=body)
    assert nowhere.status_code == 404 and "no-such-endpoint" in nowhere.json()["error"]["message"]
    no_version = requests.post(by_name, headers=auth_header, json={**body, "PipelineVersion": "7"})
    assert no_version.status_code == 404 and "no version '7'" in no_version.json()["error"]["message"]
    twice = {
        **body,
        "ParameterAssignments": {"input_data": "batch-data"},
        "DataPathAssignments": other["DataPathAssignments"],
    }
    assigned_twice = requests.post(by_name, headers=auth_header, json=twice)
    assert assigned_twice.status_code == 400 and "input_data" in assigned_twice.json()["error"]["message"]
    with pytest.raises(Conflict, match="already exists"):
        PipelineEndpoint.publish(ws, name=f"scoring-{unique}", description=None, pipeline=bigger)
    with pytest.raises(NotFound, match="no version"):
        pipeline_endpoint.set_default_version("9")
    with pytest.raises(InvalidInput, match="not in pipeline endpoint"):
        pipeline_endpoint.set_default(PublishedPipeline(ws, {**bigger._record, "id": "0" * 32}))
    pipeline_endpoint.set_default(first)
    assert PipelineEndpoint.get(ws, name=f"scoring-{unique}").default_version == "0"
    pipeline_endpoint.disable()
    disabled = requests.post(pipeline_endpoint.endpoint, headers=auth_header, json=body)
    assert disabled.status_code == 409 and "Disabled" in disabled.json()["error"]["message"]
    assert pipeline_endpoint.id not in {e.id for e in PipelineEndpoint.list(ws)}
    pipeline_endpoint.enable()
    assert pipeline_endpoint.status == "Active"


def test_a_schedule_of_an_endpoint_runs_its_default_version_and_updates(
    seed_setup: Workspace, app_host: RunningHost, unique: str
) -> None:
    ws = seed_setup
    pipeline = seed_pipeline(ws, mini_batch_size=PipelineParameter(name="batch_size", default_value="5"))
    endpoint = PipelineEndpoint.publish(ws, f"weekly-{unique}", "scored weekly", pipeline)
    weekly = ScheduleRecurrence(frequency="Week", interval=1, time_zone="Europe/Berlin")
    schedule = Schedule.create_for_pipeline_endpoint(
        ws,
        name="Weekly Predictions",
        pipeline_endpoint_id=endpoint.id,
        experiment_name="Batch_Prediction",
        recurrence=weekly,
        pipeline_parameters={"batch_size": "23"},
    )
    try:
        assert (schedule.pipeline_endpoint_id, schedule.pipeline_id) == (endpoint.id, None)
        assert isinstance(schedule.recurrence, ScheduleRecurrence)
        assert (schedule.recurrence.frequency, schedule.recurrence.time_zone) == ("Week", "Europe/Berlin")
        assert [s.id for s in Schedule.get_schedules_for_pipeline_endpoint_id(ws, endpoint.id)] == [schedule.id]
        assert [s.id for s in Schedule.list(ws, pipeline_endpoint_id=endpoint.id)] == [schedule.id]
        with httpx.Client(base_url=app_host.base_url) as client:
            assert client.post("/admin/functions/run_schedules", json={"input": ""}).status_code == 202
        last = eventually(schedule.get_last_pipeline_run, timeout=60)
        assert last.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished"
        assert mini_batches(last) == 1  # the schedule's parameters on the endpoint's default version
        assert last._record["tags"]["azureml.pipelineendpointid"] == endpoint.id

        schedule.update(
            name="Daily Predictions",
            description="every other day",
            recurrence=ScheduleRecurrence(frequency="Day", interval=2, hours=[6], minutes=[30]),
            pipeline_parameters={"batch_size": "10"},
            continue_on_step_failure=True,
        )
        again = Schedule.get(ws, schedule.id)
        assert (again.name, again.description, again.continue_on_step_failure) == (
            "Daily Predictions",
            "every other day",
            True,
        )
        assert (again.recurrence.frequency, again.recurrence.interval, again.recurrence.hours) == ("Day", 2, [6])
        with pytest.raises(InvalidInput, match="Datastore for a Recurrence"):
            schedule.update(datastore=ws.get_default_datastore())
        with pytest.raises(InvalidInput, match="unknown pipeline parameters"):
            schedule.update(pipeline_parameters={"nope": "1"})
        with pytest.raises(InvalidInput, match="Active or Disabled"):
            schedule.update(status="Paused")
        schedule.update(status="Disabled")
        assert Schedule.get(ws, schedule.id).status == "Disabled"
    finally:
        schedule.disable()


def test_a_data_schedule_moves_to_another_folder(seed_setup: Workspace, unique: str) -> None:
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
        polling_interval=30,
        data_path_parameter_name="input_data",
    )
    try:
        assert schedule.recurrence is None
        with pytest.raises(InvalidInput, match="recurrence for a Datastore"):
            schedule.update(recurrence=ScheduleRecurrence("Day", 1))
        schedule.update(path_on_datastore=f"elsewhere-{unique}", polling_interval=10)
        assert (schedule.path_on_datastore, schedule.polling_interval) == (f"elsewhere-{unique}", 10)
        with pytest.raises(InvalidInput, match="Data Path parameter name"):
            Schedule.create(
                ws,
                name="x",
                pipeline_id=published.id,
                experiment_name="e",
                recurrence=ScheduleRecurrence("Day", 1),
                data_path_parameter_name="input_data",
            )
    finally:
        schedule.disable()
