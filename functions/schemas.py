"""The JSON Schema fragments the API's operations are declared with (functions/api_document.py), and the shapes of
the records the API answers with (the document's `components.schemas`, each referred to as `ref("Model")`, ...).

A request body is declared beside its handler; what several handlers share is here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.schedules.recurrence import FREQUENCIES, WEEK_DAYS

Schema = dict[str, Any]

#: A model, dataset, service, run, pipeline or schedule name or id (shared/core/layout.py validate_name): 1-255 letters,
#: digits, '_', '-' or '.', starting with a letter or digit, never '..'.
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?$", "maxLength": 255}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT = {"type": "object"}
NULLABLE_OBJECT = {"type": ["object", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
ANY: dict[str, Any] = {}


def or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field the handlers read as `value or {}`: null, false, 0, "" and [] count as absent."""
    return {"anyOf": [schema, {"enum": [None, False, 0, ""]}, {"type": "array", "maxItems": 0}]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def record(properties: dict[str, Any], required: Iterable[str] | None = None) -> dict[str, Any]:
    """An object with these properties (all required unless named otherwise); other properties may appear."""
    return {"type": "object", "properties": properties, "required": list(properties if required is None else required)}


def closed(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    """An object of these properties only (the handler refuses others); those in `required` must be there."""
    return {**record(properties, required=list(required)), "additionalProperties": False}


NULLABLE_NAME = {"anyOf": [NAME, {"type": "null"}]}


def nullable_list(items: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "array", "items": items, "minItems": 1}, {"type": "null"}]}


#: Azure ML's ScheduleRecurrence as the SDK sends it (shared/schedules/recurrence.py RecurrenceDocument); which fields
#: go with which frequency (hours for Day and Week, week_days for Week) is the handler's to check.
RECURRENCE = record(
    {
        "frequency": {"enum": list(FREQUENCIES)},
        "interval": {"type": "integer", "minimum": 1},
        "start_time": NULLABLE_TEXT,
        "time_zone": NULLABLE_TEXT,
        "hours": nullable_list({"type": "integer", "minimum": 0, "maximum": 23}),
        "minutes": nullable_list({"type": "integer", "minimum": 0, "maximum": 59}),
        "week_days": nullable_list({"enum": list(WEEK_DAYS)}),
        "time_of_day": NULLABLE_TEXT,
    },
    required=["frequency", "interval"],
)
NULLABLE_RECURRENCE = {"anyOf": [RECURRENCE, {"type": "null"}]}

RUN_TAGS = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
#: Tags or properties as a client may send them: any values, stored as strings (validators.string_map).
ANY_TAGS = {"type": "object", "propertyNames": {"minLength": 1}}
FILE = record({"path": TEXT, "size": {"type": "integer", "minimum": 0}, "sha256": SHA256})
DATA_PATH = record(
    {"datastore": NAME, "path": {"type": "string", "minLength": 1}, "only": {"type": "array", "items": TEXT}},
    required=["datastore", "path"],
)
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": record(
        {"error": record({"code": TEXT, "message": TEXT, "details": OBJECT}, required=["code", "message"])}
    ),
    "Model": record(
        {
            "name": NAME,
            "version": {"type": "integer", "minimum": 1},
            "description": NULLABLE_TEXT,
            "tags": RUN_TAGS,
            "properties": RUN_TAGS,
            "created_time": TIME,
            "files": array(FILE),
            "single_file": {"type": "boolean"},
            "sha256": SHA256,
        }
    ),
    "Dataset": record(
        {
            "name": NAME,
            "version": {"type": "integer", "minimum": 1},
            "description": NULLABLE_TEXT,
            "tags": STRINGS,
            "paths": array(DATA_PATH),
            "created_time": TIME,
        }
    ),
    "Datastore": record({"name": NAME, "container_name": TEXT}),
    "ComputeTarget": record(
        {
            "name": NAME,
            "type": {"enum": ["AmlCompute", "AksCompute", "ComputeInstance"]},
            "provisioning_state": TEXT,
            "settings": OBJECT,
            "created_time": TIME,
        }
    ),
    "DatasetFile": record({"datastore": NAME, "container": TEXT, "path": TEXT}),
    "Service": record(
        {
            "name": NAME,
            "state": {"enum": ["Transitioning", "Healthy", "Unhealthy", "Failed"]},
            "error": NULLABLE_TEXT,
            "models": array(TEXT),
            "entry_script": TEXT,
            "code_version": {"type": "integer", "minimum": 1},
            "deployment": OBJECT,
            "serving": NULLABLE_OBJECT,
            "auth_mode": TEXT,
            "scoring_path": TEXT,
            "created_time": TIME,
            "updated_time": TIME,
        }
    ),
    "Keys": record({"primaryKey": TEXT, "secondaryKey": TEXT}),
    "Token": record({"accessToken": TEXT, "refreshAfter": {"type": "integer"}}),
    "Deleted": record({"deleted": TEXT}),
    "Run": record(
        {
            "id": NAME,
            "experiment": TEXT,
            "status": {"enum": ["NotStarted", "Running", "Finished", "Failed", "Canceled"]},
            "tags": OBJECT,
            "created_time": TIME,
            "start_time": NULLABLE_TIME,
            "end_time": NULLABLE_TIME,
            "error": {"type": ["string", "object", "null"]},
            "plan": NULLABLE_OBJECT,
            "counts": NULLABLE_OBJECT,
            "parameters": OBJECT,
            "parent": NULLABLE_TEXT,
            "steps": OBJECT,
        },
        # A pipeline run has `steps` (each step's status and progress) and `parameters`; a step run has `parent`,
        # and a ParallelRunStep's its `plan` and `counts`.
        required=["id", "experiment", "status", "tags", "created_time", "start_time", "end_time", "error"],
    ),
    "RunLogs": record({"items": array(OBJECT), "next": {"type": ["integer", "null"]}}),
    "PublishedPipeline": record(
        {
            "id": NAME,
            "name": TEXT,
            "description": NULLABLE_TEXT,
            "version": NULLABLE_TEXT,
            "status": {"enum": ["Active", "Disabled"]},
            "created_time": TIME,
            "source_run": NULLABLE_TEXT,
            "parameters": OBJECT,
        }
    ),
    "SubmittedRun": record(
        {
            "Id": NAME,
            "ExperimentName": TEXT,
            "PipelineId": NAME,
            "Status": record({"StatusCode": TEXT}),
            "CreatedTime": TIME,
        }
    ),
    "Environment": record(
        {"name": NAME, "version": {"type": "integer", "minimum": 1}, "definition": OBJECT, "created_time": TIME}
    ),
    "PipelineEndpoint": record(
        {
            "id": NAME,
            "name": NAME,
            "description": NULLABLE_TEXT,
            "status": {"enum": ["Active", "Disabled"]},
            "default_version": TEXT,
            "versions": array(record({"version": TEXT, "pipeline_id": NAME})),
            "created_time": TIME,
        }
    ),
    "RunDetails": record(
        {
            "runId": NAME,
            "experiment": {"type": ["string", "null"]},
            "parentRunId": NULLABLE_TEXT,
            "name": NULLABLE_TEXT,
            "status": TEXT,
            "startTimeUtc": NULLABLE_TIME,
            "endTimeUtc": NULLABLE_TIME,
            "tags": RUN_TAGS,
            "properties": STRINGS,
        }
    ),
    #: name -> a value, or the list of values logged under it (or, recursive, run id -> such a map).
    "Metrics": {"type": "object", "additionalProperties": ANY},
    "RunProperties": STRINGS,
    "WorkspaceDetails": record(
        {
            "id": TEXT,
            "friendly_name": NULLABLE_TEXT,
            "description": NULLABLE_TEXT,
            "tags": STRINGS,
            "image_build_compute": NULLABLE_TEXT,
            "connections": OBJECT,
        }
    ),
    "Experiment": record(
        {"name": NAME, "id": TEXT, "created_time": TIME, "tags": RUN_TAGS, "archived_time": NULLABLE_TIME}
    ),
    "RunTags": RUN_TAGS,
    "Logged": record({"logged": {"type": "integer", "minimum": 0}}),
    "Schedule": record(
        {
            "id": NAME,
            "name": TEXT,
            "description": NULLABLE_TEXT,
            "pipeline_id": NAME,
            "experiment_name": NAME,
            "pipeline_parameters": OBJECT,
            "recurrence": NULLABLE_RECURRENCE,
            "data": NULLABLE_OBJECT,
            "status": {"enum": ["Active", "Disabled"]},
            "created_time": TIME,
            "last_run_id": NULLABLE_TEXT,
            "last_fired": NULLABLE_TIME,
            "last_error": {"type": ["string", "object", "null"]},
        }
    ),
}


# -- parameters -------------------------------------------------------------------------------------------------


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, **({"description": description} if description else {})}


# The Functions host drops query parameters with an empty value before the app sees them (`?latest=` is no
# `latest`), so each query schema admits "" too.
BOOLEAN_QUERY = {"type": "string", "enum": ["true", "false", ""]}
NOT_FOUND = (400, 404)  # a name that is not valid, or nothing by that name

# A GET of a run or a service waits first when asked (functions/_waiting.py); its answer carries the ETag to ask with.
WAIT_QUERIES = (
    query("wait", TEXT, "an ETag (answer once the document changes) or a status (once the status is another)"),
    query("timeout", {"anyOf": [{"type": "number", "minimum": 0, "maximum": 60}, {"const": ""}]}, "seconds (20)"),
)
