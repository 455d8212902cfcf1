"""Schedules: create, list, get, update, enable/disable (admin key), and the timer that fires them.

The timer's NCRONTAB is the app setting FNINFER_SCHEDULES_CRON (every minute by default): a schedule fires at most
that long after its occurrence. The timer runs on one instance at a time (the host's singleton lease) and the
runner's conditional writes keep firings exactly once even if two instances tick together.
"""

from __future__ import annotations

import azure.functions as func

from functions._http import bool_param, json_body, json_endpoint
from functions.api_document import Body, operation
from functions.schemas import (
    ANY,
    BOOLEAN_QUERY,
    NAME,
    NOT_FOUND,
    NULLABLE_RECURRENCE,
    OBJECT,
    TEXT,
    array,
    or_empty,
    query,
    record,
    ref,
)
from shared.core.settings import DEFAULT_SCHEDULES_CRON, SCHEDULES_CRON, get_setting
from shared.core.storage import app_storage
from shared.schedules import runner, schedule_records
from shared.schedules.schedule_records import ScheduleStatus

bp = func.Blueprint()


@bp.route(route="schedules", methods=["POST"])
@operation(
    "Create a schedule: a recurrence, or a datastore path to watch",
    ok=(201, ref("Schedule")),
    errors=(400, 404, 413),
    body=Body(
        "CreateSchedule",
        record(
            {
                "name": TEXT,
                "description": ANY,  # kept when it is a string
                "pipeline_id": NAME,
                "experiment_name": NAME,
                "recurrence": NULLABLE_RECURRENCE,
                "datastore": NAME,
                "path_on_datastore": TEXT,
                "polling_interval": {"type": "integer", "minimum": 1},
                "data_path_parameter_name": NAME,
                "pipeline_parameters": or_empty(OBJECT),
            },
            required=["name", "pipeline_id", "experiment_name"],
        ),
    ),
)
@json_endpoint()
def create_schedule(req: func.HttpRequest) -> object:
    storage = app_storage()
    return 201, schedule_records.describe(storage, schedule_records.create_schedule(storage, json_body(req)))


@bp.route(route="schedules", methods=["GET"])
@operation(
    "Schedules, newest first",
    ok=(200, array(ref("Schedule"))),
    errors=(400,),
    query=(query("active_only", BOOLEAN_QUERY), query("pipeline_id", TEXT)),
)
@json_endpoint()
def list_schedules(req: func.HttpRequest) -> object:
    storage = app_storage()
    active_only = bool_param(req, "active_only", default=True)
    found = schedule_records.list_schedules(
        storage,
        active_only=active_only,
        pipeline_id=req.params.get("pipeline_id"),
        pipeline_endpoint_id=req.params.get("pipeline_endpoint_id"),
    )
    return [schedule_records.describe(storage, record) for record in found]


@bp.route(route="schedules/{schedule_id}", methods=["GET"])
@operation("A schedule, with its last run and last error", ok=(200, ref("Schedule")), errors=NOT_FOUND)
@json_endpoint()
def get_schedule(req: func.HttpRequest) -> object:
    storage = app_storage()
    return schedule_records.describe(storage, schedule_records.get_schedule(storage, req.route_params["schedule_id"]))


@bp.route(route="schedules/{schedule_id}", methods=["PATCH"])
@operation(
    "Update a schedule: the fields given (and not null) change",
    ok=(200, ref("Schedule")),
    errors=(400, 404, 413),
    body=Body("UpdateSchedule", OBJECT),  # any of CreateSchedule's fields, and status
)
@json_endpoint()
def update_schedule(req: func.HttpRequest) -> object:
    """`Schedule.update`: the fields given (and not null) change."""
    storage = app_storage()
    record = schedule_records.update_schedule(storage, req.route_params["schedule_id"], json_body(req))
    return schedule_records.describe(storage, record)


@bp.route(route="schedules/{schedule_id}/enable", methods=["POST"])
@operation("Enable a schedule", ok=(200, ref("Schedule")), errors=NOT_FOUND)
@json_endpoint()
def enable_schedule(req: func.HttpRequest) -> object:
    storage = app_storage()
    return schedule_records.describe(
        storage, schedule_records.set_status(storage, req.route_params["schedule_id"], ScheduleStatus.ACTIVE)
    )


@bp.route(route="schedules/{schedule_id}/disable", methods=["POST"])
@operation("Disable a schedule", ok=(200, ref("Schedule")), errors=NOT_FOUND)
@json_endpoint()
def disable_schedule(req: func.HttpRequest) -> object:
    storage = app_storage()
    record = schedule_records.set_status(storage, req.route_params["schedule_id"], ScheduleStatus.DISABLED)
    return schedule_records.describe(storage, record)


@bp.timer_trigger(
    schedule=get_setting(SCHEDULES_CRON) or DEFAULT_SCHEDULES_CRON, arg_name="timer", run_on_startup=False
)
def run_schedules(timer: func.TimerRequest) -> None:
    runner.tick(app_storage())
