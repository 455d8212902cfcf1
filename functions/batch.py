"""Pipelines: submit, watch, list and cancel runs (admin key); the queue functions that advance a pipeline run's
steps, run a script step, plan a ParallelRunStep, process its mini-batches and fan their results in; and the timer
that re-enqueues work a dead instance left behind."""

from __future__ import annotations

import json
import os
import socket
import uuid

import azure.functions as func

from functions._http import async_json_endpoint, bool_param, json_body, json_endpoint
from functions._waiting import watched
from functions.api_document import Body, operation
from functions.schemas import (
    BOOLEAN_QUERY,
    NAME,
    NOT_FOUND,
    NULLABLE_NAME,
    OBJECT,
    STRINGS,
    TEXT,
    WAIT_QUERIES,
    array,
    or_empty,
    query,
    record,
    ref,
)
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.core.storage import app_storage
from shared.core.watch import Blob
from shared.pipelines.batch import fanin, minibatch, minibatch_logs, sweeper
from shared.pipelines.engine import dag, submit
from shared.pipelines.scripts import script_run, script_step
from shared.runs import run_records

bp = func.Blueprint()

#: Every 5 s: how soon work held by a dead instance is noticed, with the lease (FNINFER_BATCH_LEASE_SECONDS, 10 s).
SWEEP_SCHEDULE = "*/5 * * * * *"


def _owner() -> str:
    """Who holds a work lease: this process (host instance) and invocation, readable when diagnosing."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _int_query(req: func.HttpRequest, name: str, default: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidInput(f"query parameter {name!r} must be a non-negative integer", field=name)
    return int(raw)


@bp.route(route="pipelines/runs", methods=["POST"])
@operation(
    "Submit a pipeline run (one ParallelRunStep)",
    ok=(201, ref("Run")),
    errors=(400, 404, 413),
    body=Body(
        "SubmitRun",
        record(
            {"experiment": NAME, "pipeline": record({"steps": array(OBJECT)}), "tags": or_empty(STRINGS)},
            required=["experiment", "pipeline"],
        ),
    ),
)
@json_endpoint()
def submit_run(req: func.HttpRequest) -> object:
    body = json_body(req)
    return 201, submit.start_run(
        app_storage(), body.get("experiment"), body.get("pipeline"), body.get("tags"), body.get("parameters")
    )


@bp.route(route="experiments/{name}/startrun", methods=["POST"])
@operation(
    "Start a script run (a ScriptRunConfig submitted to the experiment): one script step, no pipeline",
    ok=(201, ref("Run")),
    errors=(400, 404, 409, 413),
    body=Body(
        "StartScriptRun",
        record({"script": OBJECT, "tags": or_empty(STRINGS), "run_id": NULLABLE_NAME}, required=["script"]),
    ),
)
@json_endpoint()
def start_script_run(req: func.HttpRequest) -> object:
    """A script run (Experiment.submit(ScriptRunConfig)): one script step of its own, with no pipeline."""
    body = json_body(req)
    return 201, script_run.start_script_run(
        app_storage(), req.route_params["name"], body.get("script"), body.get("tags"), body.get("run_id")
    )


@bp.route(route="pipelines/runs", methods=["GET"])
@operation(
    "List pipeline runs, newest first (with include_children, their step runs too)",
    ok=(200, array(ref("Run"))),
    errors=(400,),
    query=(query("experiment", TEXT), query("include_children", BOOLEAN_QUERY)),
)
@json_endpoint()
def list_runs(req: func.HttpRequest) -> object:
    include_children = bool_param(req, "include_children", default=False)
    return run_records.list_runs(
        app_storage(), experiment=req.params.get("experiment"), include_children=include_children
    )


@bp.route(route="pipelines/runs/{run_id}", methods=["GET"])
@operation(
    "A pipeline run (each step's status and progress) or a step run (plan, counts live while it runs)",
    ok=(200, ref("Run")),
    errors=NOT_FOUND,
    query=WAIT_QUERIES,
)
@async_json_endpoint()
async def get_run(req: func.HttpRequest) -> object:
    """The run as the SDK shows it; `?wait=` waits for a change first (functions/_waiting.py)."""
    run_id = req.route_params["run_id"]
    record = Blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    return await watched(req, lambda: submit.describe(app_storage(), run_id), [record], secondary=_step_records)


def _step_records(document: dict[str, object]) -> list[Blob]:
    steps = document.get("steps")
    ids = [state["id"] for state in steps.values() if state.get("id")] if isinstance(steps, dict) else []
    return [Blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(step_id)) for step_id in ids]


@bp.route(route="pipelines/runs/{run_id}/logs", methods=["GET"])
@operation(
    "Mini-batch logs, a page at a time",
    ok=(200, ref("RunLogs")),
    errors=NOT_FOUND,
    query=(
        query("start", {"anyOf": [{"type": "integer", "minimum": 0}, {"const": ""}]}, "first item (0)"),
        query("count", {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 500}, {"const": ""}]}, "per page"),
    ),
)
@json_endpoint()
def get_run_logs(req: func.HttpRequest) -> object:
    start, count = _int_query(req, "start", 0), _int_query(req, "count", minibatch_logs.MAX_PAGE)
    return minibatch_logs.mini_batch_logs(app_storage(), req.route_params["run_id"], start, count)


@bp.route(route="pipelines/runs/{run_id}/script-logs", methods=["GET"])
@operation(
    "A script step run's stdout and stderr, one log per try",
    ok=(200, array(record({"try": {"type": "integer", "minimum": 1}, "log": TEXT}))),
    errors=NOT_FOUND,
)
@json_endpoint()
def get_script_logs(req: func.HttpRequest) -> object:
    return script_step.step_logs(app_storage(), req.route_params["run_id"])


@bp.route(route="pipelines/runs/{run_id}/cancel", methods=["POST"])
@operation("Cancel a run and its running steps (a finished one stays as it is)", ok=(200, ref("Run")), errors=NOT_FOUND)
@json_endpoint()
def cancel_run(req: func.HttpRequest) -> object:
    return dag.cancel(app_storage(), req.route_params["run_id"])


@bp.queue_trigger(arg_name="msg", queue_name=layout.PIPELINE_STEPS_QUEUE, connection="AzureWebJobsStorage")
def advance_pipeline(msg: func.QueueMessage) -> None:
    dag.watch(app_storage(), json.loads(msg.get_body())["run"])


@bp.queue_trigger(arg_name="msg", queue_name=layout.SCRIPT_STEPS_QUEUE, connection="AzureWebJobsStorage")
def run_script_step(msg: func.QueueMessage) -> None:
    script_step.run_step(app_storage(), json.loads(msg.get_body())["run"], owner=_owner())


# The batch engine's queue functions: whichever of them ends the step run advances its pipeline run at once.


@bp.queue_trigger(arg_name="msg", queue_name=layout.PLANNING_QUEUE, connection="AzureWebJobsStorage")
def plan_run(msg: func.QueueMessage) -> None:
    minibatch.plan_and_start(app_storage(), json.loads(msg.get_body())["run"], owner=_owner())


@bp.queue_trigger(arg_name="msg", queue_name=layout.MINIBATCH_QUEUE, connection="AzureWebJobsStorage")
def process_minibatch(msg: func.QueueMessage) -> None:
    message = json.loads(msg.get_body())
    minibatch.process(app_storage(), message["run"], int(message["index"]), owner=_owner())


@bp.queue_trigger(arg_name="msg", queue_name=layout.FANIN_QUEUE, connection="AzureWebJobsStorage")
def finalize_run(msg: func.QueueMessage) -> None:
    fanin.finalize(app_storage(), json.loads(msg.get_body())["run"], owner=_owner())


@bp.timer_trigger(schedule=SWEEP_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=False)
def sweep_runs(timer: func.TimerRequest) -> None:
    sweeper.sweep(app_storage())
