"""The OpenAPI 3.1 document of the app's HTTP API, served at `/api/openapi.json`, generated from the functions'
own metadata.

Paths, methods and path parameters come from the HTTP functions `function_app.py` registers (their route templates,
as the Functions host reads them), so the document cannot list an endpoint the app lacks or miss one it has. What
the metadata cannot say (summaries, query parameters, request and response schemas) is declared here per function
name; `tests/unit/test_openapi.py` fails when a function has no entry or an entry no function. The schemas describe
what the handlers accept and return: `tests/integration/test_api_document.py` fuzzes the running app against them
with schemathesis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: host.json's `extensions.http.routePrefix` (tests/unit/test_openapi.py keeps the two equal).
ROUTE_PREFIX = "api"
INT32_MAX = 2**31 - 1

# -- schemas ----------------------------------------------------------------------------------------------------

#: A model, dataset, service, run, pipeline or schedule name or id (shared/layout.py validate_name): 1-255 letters,
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
#: An error the way Azure ML's scoring server writes it (the scoring endpoint's 400, 415, 500, 504).
SCORING_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
EITHER_ERROR = {"anyOf": [SCORING_ERROR, {"$ref": "#/components/schemas/Error"}]}


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
RUN_ERROR = record({"message": TEXT, "code": NULLABLE_TEXT}, required=["message"])
#: Run and experiment tags as the app takes them: names of 1-255 characters, not all blank; values text or null.
TAG_MAP = {
    "type": "object",
    "additionalProperties": {"type": ["string", "null"]},
    "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "\\S"},
}
#: A ResourceConfiguration's fields.
RESOURCES = ("cpu", "memory_in_gb", "gpu")
#: A count given as a number or as its digits (v1 code passes os.environ values).
WHOLE_NUMBER = {"anyOf": [{"type": ["integer", "null"], "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]}

#: A pipeline endpoint's version label, "0", "1", ... (a number is read as its label).
VERSION_LABEL = {"type": ["string", "integer"]}
RUN_TAGS = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
#: Tags or properties as a client may send them: any values, stored as strings (shared/tags.py).
ANY_TAGS = {"type": "object", "propertyNames": {"minLength": 1}}
NULLABLE_TAGS = {"anyOf": [ANY_TAGS, {"type": "null"}]}
#: A registered dataset's id, 'name:version'.
DATASET_ID = {"type": "string", "pattern": NAME["pattern"][:-1] + ":[0-9]+$"}
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
            "recurrence": NULLABLE_OBJECT,
            "data": NULLABLE_OBJECT,
            "status": {"enum": ["Active", "Disabled"]},
            "created_time": TIME,
            "last_run_id": NULLABLE_TEXT,
            "last_fired": NULLABLE_TIME,
            "last_error": {"type": ["string", "object", "null"]},
        }
    ),
}

# Request bodies: what the handlers read. Validity that depends on storage (an upload staged, a snapshot uploaded, a
# pipeline that exists) is beyond a schema; tests/schemathesis.toml lists those operations.
BODIES: dict[str, dict[str, Any]] = {
    "RegisterModel": record(
        {
            "upload_id": NAME,
            "files": {**array(FILE), "minItems": 1},
            "single_file": {"type": "boolean"},
            "description": NULLABLE_TEXT,
            "tags": or_empty(ANY_TAGS),
            "properties": or_empty(ANY_TAGS),
        },
        required=["upload_id", "files"],
    ),
    "UpdateModel": {
        **record(
            {
                "tags": NULLABLE_TAGS,
                "add_tags": NULLABLE_TAGS,
                "remove_tags": {"anyOf": [TEXT, array(TEXT), {"type": "null"}]},
                "add_properties": NULLABLE_TAGS,
                "description": NULLABLE_TEXT,
                "add_datasets": {
                    "anyOf": [
                        array(record({"scenario": {"type": "string", "minLength": 1}, "dataset": DATASET_ID})),
                        {"type": "null"},
                    ]
                },
                "sample_input_dataset": {"anyOf": [DATASET_ID, {"type": "null"}]},
                "sample_output_dataset": {"anyOf": [DATASET_ID, {"type": "null"}]},
                "resource_configuration": {
                    "anyOf": [
                        {
                            **record({key: {"type": ["number", "null"], "minimum": 0} for key in RESOURCES}, []),
                            "additionalProperties": False,
                        },
                        {"type": "null"},
                    ]
                },
            },
            required=[],
        ),
        "additionalProperties": False,
    },
    "RegisterDataset": record(
        {
            "paths": {**array(DATA_PATH), "minItems": 1},
            "description": NULLABLE_TEXT,
            "tags": or_empty(STRINGS),
            "create_new_version": ANY,  # read as a truth value
        },
        required=["paths"],
    ),
    "UpdateDataset": record({"description": NULLABLE_TEXT, "tags": or_empty(STRINGS)}, required=[]),
    "DeployService": record(
        {
            "models": array(TEXT),
            "snapshot": record({"id": TEXT, "files": array(FILE)}),
            "entry_script": TEXT,
            "requirements": array(TEXT),
            "environment_name": NULLABLE_TEXT,
            "deployment": OBJECT,
            "compute_target": NULLABLE_TEXT,
            "overwrite": {"type": "boolean"},
        },
        required=["snapshot", "entry_script"],
    ),
    "UpdateService": OBJECT,
    "RegenerateKey": record({"keyType": {"enum": ["Primary", "Secondary"]}}),
    "RegisterDatastore": record(
        {
            "container_name": {"type": "string", "pattern": "^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$"},
            "account_name": {"type": ["string", "null"], "pattern": "^[a-z0-9]{3,24}$"},
            "has_credential": {"type": "boolean"},
            "create_if_not_exists": {"type": "boolean"},
            "overwrite": {"type": "boolean"},
        },
        required=["container_name"],
    ),
    "SetDefaultDatastore": record({"name": NAME}),
    "CreateComputeTarget": record(
        {
            "type": {"enum": ["AmlCompute", "AksCompute", "ComputeInstance"]},
            "settings": or_empty(OBJECT),
            "tags": or_empty(ANY_TAGS),
            "attached": {"type": "boolean"},
        },
        required=["type"],
    ),
    "UpdateComputeTarget": {
        **record(
            {
                "scale_settings": {
                    "anyOf": [
                        {
                            **record(
                                {
                                    key: WHOLE_NUMBER
                                    for key in ("min_nodes", "max_nodes", "idle_seconds_before_scaledown")
                                },
                                [],
                            ),
                            "additionalProperties": False,
                        },
                        {"type": "null"},
                    ]
                },
                "identity": {
                    "anyOf": [
                        {"type": "null"},
                        record(
                            {
                                "type": {"const": "SystemAssigned"},
                                "user_assigned": {"anyOf": [array(TEXT), {"type": "null"}]},
                            },
                            ["type"],
                        ),
                        record({"type": {"const": "UserAssigned"}, "user_assigned": {**array(TEXT), "minItems": 1}}),
                    ]
                },
                "settings": or_empty(OBJECT),
            },
            required=[],
        ),
        "additionalProperties": False,
    },
    "SubmitRun": record(
        {"experiment": NAME, "pipeline": record({"steps": array(OBJECT)}), "tags": or_empty(STRINGS)},
        required=["experiment", "pipeline"],
    ),
    "StartScriptRun": record(
        {"script": OBJECT, "tags": or_empty(STRINGS), "run_id": NULLABLE_NAME}, required=["script"]
    ),
    "PublishPipeline": record(
        {"pipeline": record({"steps": array(OBJECT)}), "name": TEXT, "description": TEXT, "version": TEXT},
        required=["pipeline", "name"],
    ),
    "PublishRun": record({"name": TEXT, "description": TEXT, "version": TEXT}, required=["name"]),
    "SubmitPublished": record(
        {
            "ExperimentName": NAME,
            "ParameterAssignments": or_empty(OBJECT),
            "DataSetDefinitionValueAssignments": or_empty(OBJECT),
            "Tags": or_empty(STRINGS),
        },
        required=["ExperimentName"],
    ),
    "RegisterEnvironment": OBJECT,  # an Environment's definition (python, docker, environment_variables, ...)
    "PublishEndpoint": record(
        {"name": NAME, "description": NULLABLE_TEXT, "pipeline_id": NAME}, required=["name", "pipeline_id"]
    ),
    "AddEndpointVersion": record({"pipeline_id": NAME, "default": {"type": "boolean"}}, required=["pipeline_id"]),
    "SetEndpointDefault": record({"version": VERSION_LABEL}),
    "SubmitEndpoint": record(
        {
            "ExperimentName": NAME,
            "PipelineVersion": {"type": ["string", "integer", "null"]},  # null or "": the default version
            "ParameterAssignments": or_empty(OBJECT),
            "DataSetDefinitionValueAssignments": or_empty(OBJECT),
            "Tags": or_empty(STRINGS),
        },
        required=["ExperimentName"],
    ),
    "UpdateSchedule": OBJECT,  # any of CreateSchedule's fields, and status
    "LogMetrics": record(
        {
            "metrics": array(
                record(
                    {"name": TEXT, "kind": TEXT, "value": ANY, "description": ANY, "step": ANY},
                    required=["name", "value"],
                )
            )
        }
    ),
    "SetTags": record({"tags": {**RUN_TAGS, "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "\\S"}}}),
    "RemoveTags": record({"keys": array(TEXT)}),
    "CreateRun": record(
        {
            "experiment": NAME,
            "run_id": NULLABLE_NAME,
            "parent_run_id": NULLABLE_NAME,
            "name": NULLABLE_TEXT,
            "display_name": NULLABLE_TEXT,
            "description": NULLABLE_TEXT,
            "status": {"enum": ["NotStarted", "Running", None]},
            "tags": {"anyOf": [TAG_MAP, {"type": "null"}]},
            "properties": {"anyOf": [STRINGS, {"type": "null"}]},
        },
        required=["experiment"],
    ),
    "UpdateRun": closed({"display_name": NULLABLE_TEXT, "description": NULLABLE_TEXT, "snapshot_id": NULLABLE_TEXT}),
    "RunStatus": {
        "anyOf": [
            record(
                {
                    "action": {"enum": ["start", "complete", "fail", "cancel"]},
                    "error": {"anyOf": [RUN_ERROR, {"type": "null"}]},
                },
                required=["action"],
            ),
            record({"action": {"const": "error"}, "error": RUN_ERROR}),
        ]
    },
    "AddProperties": record({"properties": STRINGS}),
    "RenameEndpoint": record({"name": NAME}),
    "UpdateWorkspace": closed(
        {
            "friendly_name": NULLABLE_TEXT,
            "description": NULLABLE_TEXT,
            "tags": {"anyOf": [STRINGS, {"type": "null"}]},
            "image_build_compute": NULLABLE_TEXT,
            "set_connection": {
                "anyOf": [
                    closed(
                        {"name": NAME, "category": TEXT, "target": TEXT, "authType": TEXT, "value": TEXT},
                        required=["name", "category", "target", "authType", "value"],
                    ),
                    {"type": "null"},
                ]
            },
            "delete_connection": NULLABLE_TEXT,
        }
    ),
    "ChangeExperiment": record(
        {
            "set_tags": {"anyOf": [TAG_MAP, {"type": "null"}]},
            "remove_tags": {"anyOf": [array(TEXT), {"type": "null"}]},
            "archived": {"type": ["boolean", "null"]},
        },
        required=[],
    ),
    "RegisterRunModel": record(
        {"model_name": NAME, "model_path": TEXT, "tags": STRINGS, "properties": STRINGS},
        required=["model_name"],
    ),
    "CreateSchedule": record(
        {
            "name": TEXT,
            "description": ANY,  # kept when it is a string
            "pipeline_id": NAME,
            "experiment_name": NAME,
            "recurrence": OBJECT,
            "datastore": NAME,
            "path_on_datastore": TEXT,
            "polling_interval": {"type": "integer", "minimum": 1},
            "data_path_parameter_name": NAME,
            "pipeline_parameters": or_empty(OBJECT),
        },
        required=["name", "pipeline_id", "experiment_name"],
    ),
}

# -- operations -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """What the function metadata does not say about one HTTP function."""

    summary: str
    ok: tuple[str, dict[str, Any] | None]  # (status, schema); None: any JSON
    errors: tuple[str, ...] = ()  # error statuses besides 401, each with the Error body
    body: str | None = None  # a BODIES entry
    query: tuple[dict[str, Any], ...] = ()
    admin: bool = True  # needs the admin key (else: the scoring endpoint's own auth, or none)
    extra: dict[str, Any] = field(default_factory=dict)
    ok_media_type: str = "application/json"
    per_method: dict[str, dict[str, Any]] = field(default_factory=dict)  # fields for one method only


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, **({"description": description} if description else {})}


# The Functions host drops query parameters with an empty value before the app sees them (`?latest=` is no
# `latest`), so each query schema admits "" too.
BOOLEAN_QUERY = {"type": "string", "enum": ["true", "false", ""]}
NAME_QUERY = {**NAME, "pattern": NAME["pattern"].replace("^", "^$|^", 1)}
NOT_FOUND = ("400", "404")  # a name that is not valid, or nothing by that name
TAGS_QUERY = {
    "name": "tags",
    "in": "query",
    "description": 'tag keys and [key, value] pairs a version must have, e.g. ["stage", ["team", "ml"]]',
    "content": {
        "application/json": {
            "schema": array({"oneOf": [TEXT, {**array(TEXT), "minItems": 2, "maxItems": 2}]}),
        }
    },
}

# A GET of a run or a service waits first when asked (functions/_waiting.py); its answer carries the ETag to ask with.
WAIT_QUERIES = (
    query("wait", TEXT, "an ETag (answer once the document changes) or a status (once the status is another)"),
    query("timeout", {"anyOf": [{"type": "number", "minimum": 0, "maximum": 60}, {"const": ""}]}, "seconds (20)"),
)

OPERATIONS: dict[str, Operation] = {
    "list_models": Operation(
        "List model versions",
        ("200", array(ref("Model"))),
        ("400",),
        query=(query("name", NAME_QUERY), TAGS_QUERY, query("latest", BOOLEAN_QUERY)),
    ),
    "register_model": Operation(
        "Register a staged upload as the next version", ("201", ref("Model")), ("400", "409", "413"), "RegisterModel"
    ),
    "get_model": Operation("A model version (the latest without one)", ("200", ref("Model")), NOT_FOUND),
    "update_model": Operation(
        "Change a version's tags, properties, description or datasets (Model.update, add_tags, ...)",
        ("200", ref("Model")),
        ("400", "404", "409", "413"),
        "UpdateModel",
    ),
    "delete_model": Operation("Delete a model version", ("200", ref("Deleted")), NOT_FOUND),
    "list_datastores": Operation("List datastores", ("200", array(ref("Datastore")))),
    "register_datastore": Operation(
        "Register a blob container as a datastore (Datastore.register_azure_blob_container)",
        ("201", ref("Datastore")),
        ("400", "409", "413"),
        "RegisterDatastore",
    ),
    "get_datastore": Operation("A datastore", ("200", ref("Datastore")), NOT_FOUND),
    "unregister_datastore": Operation(
        "Remove a datastore's registration (its container stays)", ("200", ref("Deleted")), ("400", "404", "409")
    ),
    "get_default_datastore": Operation("The workspace's default datastore", ("200", ref("Datastore"))),
    "set_default_datastore": Operation(
        "Make a datastore the workspace's default",
        ("200", ref("Datastore")),
        ("400", "404", "413"),
        "SetDefaultDatastore",
    ),
    "list_compute_targets": Operation("Compute targets", ("200", array(ref("ComputeTarget")))),
    "create_compute_target": Operation(
        "Create a compute target record (no provisioning: the compute is the Function App)",
        ("201", ref("ComputeTarget")),
        ("400", "409", "413"),
        "CreateComputeTarget",
    ),
    "get_compute_target": Operation("A compute target", ("200", ref("ComputeTarget")), NOT_FOUND),
    "update_compute_target": Operation(
        "Change a compute target's scale settings, identity or settings (AmlCompute.update, add_identity, ...)",
        ("200", ref("ComputeTarget")),
        ("400", "404", "409", "413"),
        "UpdateComputeTarget",
    ),
    "delete_compute_target": Operation("Delete a compute target record", ("200", ref("Deleted")), NOT_FOUND),
    "list_datasets": Operation("The latest version of every dataset", ("200", array(ref("Dataset")))),
    "register_dataset": Operation(
        "Register a file dataset definition", ("201", ref("Dataset")), ("400", "404", "409", "413"), "RegisterDataset"
    ),
    "get_dataset": Operation("A dataset version (the latest without one)", ("200", ref("Dataset")), NOT_FOUND),
    "update_dataset": Operation(
        "Change a dataset version's description and tags",
        ("200", ref("Dataset")),
        ("400", "404", "409", "413"),
        "UpdateDataset",
    ),
    "unregister_dataset": Operation(
        "Remove every version of a dataset's registration (its files stay)", ("200", ref("Deleted")), NOT_FOUND
    ),
    "dataset_files": Operation(
        "The files a dataset version resolves to now", ("200", array(ref("DatasetFile"))), NOT_FOUND
    ),
    "openapi": Operation("This document", ("200", OBJECT), admin=False),
    "list_services": Operation("List real-time services", ("200", array(ref("Service")))),
    "deploy_service": Operation(
        "Deploy a service (answers Transitioning; the deployment runs on a queue)",
        ("202", ref("Service")),
        ("400", "404", "409", "413"),
        "DeployService",
    ),
    "get_service": Operation("A service and its state", ("200", ref("Service")), NOT_FOUND, query=WAIT_QUERIES),
    "update_service": Operation(
        "Update models, code or settings (also how reload works)",
        ("202", ref("Service")),
        ("400", "404", "409", "413"),
        "UpdateService",
    ),
    "delete_service": Operation("Delete a service", ("200", ref("Deleted")), NOT_FOUND),
    "get_keys": Operation("The service's keys", ("200", ref("Keys")), NOT_FOUND),
    "regenerate_key": Operation(
        "Regenerate the primary or secondary key", ("200", ref("Keys")), ("400", "404", "413"), "RegenerateKey"
    ),
    "get_token": Operation("A short-lived token for token auth", ("200", ref("Token")), ("400", "404", "409")),
    "get_logs": Operation(
        "What init() and run() printed, across instances", ("200", TEXT), NOT_FOUND, ok_media_type="text/plain"
    ),
    "score": Operation(
        "Score: the request reaches run() as Azure ML's scoring server passes it (POST: the body; GET: the query "
        "parameters; OPTIONS: 200, or run()'s own answer under @rawhttp), and the answer is what that server gives",
        ("200", None),
        admin=False,
        extra={
            "security": [{"serviceKeyOrToken": []}, {}],
            "responses": {
                "200": {"description": "What run() returned, as Azure ML's scoring server answers it"},
                **{
                    status: {"description": "Error", "content": {"application/json": {"schema": SCORING_ERROR}}}
                    for status in ("415", "500", "504")
                },
                # 400: Azure ML's body for what run() refuses, fninfer's for a service name that is not valid
                "400": {"description": "Error", "content": {"application/json": {"schema": EITHER_ERROR}}},
                **{
                    status: {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
                    for status in ("401", "403", "404", "413", "503")
                },
            },
        },
        per_method={"post": {"requestBody": {"content": {"*/*": {"schema": ANY}}}}},
    ),
    "submit_run": Operation(
        "Submit a pipeline run (one ParallelRunStep)", ("201", ref("Run")), ("400", "404", "413"), "SubmitRun"
    ),
    "start_script_run": Operation(
        "Start a script run (a ScriptRunConfig submitted to the experiment): one script step, no pipeline",
        ("201", ref("Run")),
        ("400", "404", "409", "413"),
        "StartScriptRun",
    ),
    "list_runs": Operation(
        "List pipeline runs, newest first (with include_children, their step runs too)",
        ("200", array(ref("Run"))),
        ("400",),
        query=(query("experiment", TEXT), query("include_children", BOOLEAN_QUERY)),
    ),
    "get_run": Operation(
        "A pipeline run (each step's status and progress) or a step run (plan, counts live while it runs)",
        ("200", ref("Run")),
        NOT_FOUND,
        query=WAIT_QUERIES,
    ),
    "get_script_logs": Operation(
        "A script step run's stdout and stderr, one log per try",
        ("200", array(record({"try": {"type": "integer", "minimum": 1}, "log": TEXT}))),
        NOT_FOUND,
    ),
    "get_run_logs": Operation(
        "Mini-batch logs, a page at a time",
        ("200", ref("RunLogs")),
        NOT_FOUND,
        query=(
            query("start", {"anyOf": [{"type": "integer", "minimum": 0}, {"const": ""}]}, "first item (0)"),
            query("count", {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 500}, {"const": ""}]}, "per page"),
        ),
    ),
    "cancel_run": Operation(
        "Cancel a run and its running steps (a finished one stays as it is)", ("200", ref("Run")), NOT_FOUND
    ),
    "publish_pipeline": Operation(
        "Publish a pipeline definition", ("201", ref("PublishedPipeline")), ("400", "404", "413"), "PublishPipeline"
    ),
    "publish_run": Operation(
        "Publish the pipeline a run ran", ("201", ref("PublishedPipeline")), ("400", "404", "413"), "PublishRun"
    ),
    "list_published": Operation(
        "Published pipelines, newest first",
        ("200", array(ref("PublishedPipeline"))),
        ("400",),
        query=(query("active_only", BOOLEAN_QUERY),),
    ),
    "get_published": Operation("A published pipeline", ("200", ref("PublishedPipeline")), NOT_FOUND),
    "enable_published": Operation("Enable a published pipeline", ("200", ref("PublishedPipeline")), NOT_FOUND),
    "disable_published": Operation("Disable a published pipeline", ("200", ref("PublishedPipeline")), NOT_FOUND),
    "submit_published": Operation(
        "The published pipeline's endpoint: starts a run",
        ("200", ref("SubmittedRun")),
        ("400", "404", "409", "413"),
        "SubmitPublished",
    ),
    "list_environments": Operation("The latest version of every environment", ("200", array(ref("Environment")))),
    "register_environment": Operation(
        "Register an environment definition (200 with the latest version when it is unchanged)",
        ("201", ref("Environment")),
        ("400", "413"),
        "RegisterEnvironment",
        extra={"responses_also": {"200": ref("Environment")}},
    ),
    "get_environment": Operation(
        "An environment version (the latest without one)", ("200", ref("Environment")), NOT_FOUND
    ),
    "swagger": Operation(
        "The service's Swagger document, generated from run()'s inference-schema decorators",
        ("200", record({"info": OBJECT, "paths": OBJECT})),
        ("400", "503"),
        admin=False,
        extra={
            "responses_also": {"404": EITHER_ERROR}
        },  # no such service (fninfer's body), no such version (Azure ML's)
        query=(query("version", {"enum": ["2", "2.0", "3", "3.0", "3.1", ""]}),),
    ),
    "publish_endpoint": Operation(
        'Publish a pipeline endpoint for a published pipeline (version "0", the default)',
        ("201", ref("PipelineEndpoint")),
        ("400", "404", "409", "413"),
        "PublishEndpoint",
    ),
    "list_endpoints": Operation(
        "Pipeline endpoints, newest first",
        ("200", array(ref("PipelineEndpoint"))),
        ("400",),
        query=(query("active_only", BOOLEAN_QUERY),),
    ),
    "get_endpoint": Operation("A pipeline endpoint, by id or name", ("200", ref("PipelineEndpoint")), NOT_FOUND),
    "add_endpoint_version": Operation(
        "Add a published pipeline as the next version",
        ("200", ref("PipelineEndpoint")),
        ("400", "404", "413"),
        "AddEndpointVersion",
    ),
    "set_endpoint_default": Operation(
        "Set the default version", ("200", ref("PipelineEndpoint")), ("400", "404", "413"), "SetEndpointDefault"
    ),
    "rename_endpoint": Operation(
        "Rename a pipeline endpoint (its id and URL stay)",
        ("200", ref("PipelineEndpoint")),
        ("400", "404", "409", "413"),
        "RenameEndpoint",
    ),
    "enable_endpoint": Operation("Enable a pipeline endpoint", ("200", ref("PipelineEndpoint")), NOT_FOUND),
    "disable_endpoint": Operation("Disable a pipeline endpoint", ("200", ref("PipelineEndpoint")), NOT_FOUND),
    "submit_endpoint": Operation(
        "The endpoint's REST endpoint: a published pipeline's submit body plus PipelineVersion (else the default)",
        ("200", ref("SubmittedRun")),
        ("400", "404", "409", "413"),
        "SubmitEndpoint",
    ),
    "update_schedule": Operation(
        "Update a schedule: the fields given (and not null) change",
        ("200", ref("Schedule")),
        ("400", "404", "413"),
        "UpdateSchedule",
    ),
    "get_run_children": Operation(
        "A run's child runs (a pipeline run's steps)", ("200", array(ref("RunDetails"))), NOT_FOUND
    ),
    "list_history_runs": Operation(
        "An experiment's runs, newest first",
        ("200", array(ref("RunDetails"))),
        ("400",),
        query=({**query("experiment", NAME), "required": True}, query("include_children", BOOLEAN_QUERY)),
    ),
    "create_history_run": Operation(
        "Start a run in the run history (Experiment.start_logging, run.child_run)",
        ("201", ref("RunDetails")),
        ("400", "404", "409", "413"),
        "CreateRun",
    ),
    "update_history_run": Operation(
        "Set a run's display name, description or snapshot",
        ("200", ref("RunDetails")),
        ("400", "404", "413"),
        "UpdateRun",
    ),
    "set_run_status": Operation(
        "Start, complete, fail or cancel a run; or record its error",
        ("200", ref("RunDetails")),
        ("400", "404", "409", "413"),
        "RunStatus",
    ),
    "add_run_properties": Operation(
        "Add immutable properties", ("200", ref("RunProperties")), ("400", "404", "409", "413"), "AddProperties"
    ),
    "get_workspace_details": Operation("The workspace's record", ("200", ref("WorkspaceDetails"))),
    "update_workspace_details": Operation(
        "Change the workspace's friendly name, description, tags or connections",
        ("200", ref("WorkspaceDetails")),
        ("400", "404", "413"),
        "UpdateWorkspace",
    ),
    "list_experiments": Operation("Every experiment", ("200", array(ref("Experiment")))),
    "get_experiment": Operation("An experiment", ("200", ref("Experiment")), NOT_FOUND),
    "ensure_experiment": Operation("An experiment, created when new", ("200", ref("Experiment")), ("400",)),
    "change_experiment": Operation(
        "Tag, archive or reactivate an experiment",
        ("200", ref("Experiment")),
        ("400", "413"),
        "ChangeExperiment",
    ),
    "delete_experiment": Operation(
        "Delete an experiment and its runs' history", ("200", record({"deleted": NAME})), ("400", "404", "409")
    ),
    "get_run_details": Operation(
        "A run: status, times, experiment, parent run, tags", ("200", ref("RunDetails")), NOT_FOUND, query=WAIT_QUERIES
    ),
    "get_run_metrics": Operation(
        "The run's metrics, as Run.get_metrics() shows them",
        ("200", ref("Metrics")),
        NOT_FOUND,
        query=(
            query("name", TEXT),
            query("recursive", BOOLEAN_QUERY, "'true': {run id: metrics} for the run and its children"),
            query("populate", BOOLEAN_QUERY, "'true': JSON metrics (confusion matrix, ...) as their content"),
        ),
    ),
    "log_run_metrics": Operation("Log metric values", ("200", ref("Logged")), ("400", "404", "413"), "LogMetrics"),
    "get_run_tags": Operation("The run's tags", ("200", ref("RunTags")), NOT_FOUND),
    "set_run_tags": Operation(
        "Add or change tags (a null value is a tag without value)",
        ("200", ref("RunTags")),
        ("400", "404", "413"),
        "SetTags",
    ),
    "remove_run_tags": Operation("Remove tags", ("200", ref("RunTags")), ("400", "404", "413"), "RemoveTags"),
    "register_run_model": Operation(
        "Register a model from the run's output files",
        ("201", ref("Model")),
        ("400", "404", "409", "413"),
        "RegisterRunModel",
    ),
    "create_schedule": Operation(
        "Create a schedule: a recurrence, or a datastore path to watch",
        ("201", ref("Schedule")),
        ("400", "404", "413"),
        "CreateSchedule",
    ),
    "list_schedules": Operation(
        "Schedules, newest first",
        ("200", array(ref("Schedule"))),
        ("400",),
        query=(query("active_only", BOOLEAN_QUERY), query("pipeline_id", TEXT)),
    ),
    "get_schedule": Operation("A schedule, with its last run and last error", ("200", ref("Schedule")), NOT_FOUND),
    "enable_schedule": Operation("Enable a schedule", ("200", ref("Schedule")), NOT_FOUND),
    "disable_schedule": Operation("Disable a schedule", ("200", ref("Schedule")), NOT_FOUND),
}

# -- the document from the metadata -----------------------------------------------------------------------------

#: A route parameter: `{name}`, `{version:int?}`, `{*rest}`, with constraints and default.
_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)((?::[^{}=?]+)*)(\?)?(?:=[^{}]*)?\}")
PATH_SCHEMAS = {"version": {"type": "integer", "minimum": 1}}


def openapi_paths(route: str) -> list[tuple[str, list[str]]]:
    """The OpenAPI path(s) of a route template and their parameters: a trailing optional parameter gives two paths,
    with and without it (OpenAPI path parameters are always required)."""
    template = route.strip("/")
    names = [match.group(1) for match in _PARAMETER.finditer(template)]
    path = "/" + "/".join(filter(None, [ROUTE_PREFIX, _PARAMETER.sub(lambda m: "{" + m.group(1) + "}", template)]))
    last = list(_PARAMETER.finditer(template))
    if last and last[-1].group(3) and last[-1].end() == len(template) and template[: last[-1].start()].endswith("/"):
        shorter = path[: path.rindex("/")]
        return [(shorter, names[:-1]), (path, names)]
    return [(path, names)]


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, NAME)}


def _json(schema: dict[str, Any] | None, description: str, media_type: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {} if schema is None else schema}}}


def _operation(operation: Operation, parameters: list[str]) -> dict[str, Any]:
    status, schema = operation.ok
    responses = {status: _json(schema, "OK", operation.ok_media_type)}
    for also, also_schema in operation.extra.get("responses_also", {}).items():
        responses[also] = _json(also_schema, "OK")
    for error in (*(("401",) if operation.admin else ()), *operation.errors):
        responses[error] = _json(ref("Error"), "Error")
    document: dict[str, Any] = {"summary": operation.summary, "responses": responses}
    if operation.admin:
        document["security"] = [{"adminKey": []}]
    elif "security" not in operation.extra:
        document["security"] = []
    if parameters or operation.query:
        document["parameters"] = [*map(_path_parameter, parameters), *operation.query]
    if operation.body:
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(operation.body)}}}
    return {**document, **{k: v for k, v in operation.extra.items() if k != "responses_also"}}


def openapi_document(http_functions: Iterable[tuple[str, str, Iterable[str] | None]]) -> dict[str, Any]:
    """The document for the app's HTTP functions, given as (function name, route template, methods)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, route, methods in http_functions:
        operation = OPERATIONS.get(name)
        if operation is None:
            raise KeyError(f"HTTP function {name!r} has no entry in shared/openapi.py OPERATIONS")
        variants = openapi_paths(route)
        for path, parameters in variants:
            # operationIds are unique: the shorter path of an optional parameter is "<name>_without_<parameter>".
            operation_id = name if parameters == variants[-1][1] else f"{name}_without_{variants[-1][1][-1]}"
            for method in methods or ("get", "post", "put", "patch", "delete"):
                paths.setdefault(path, {})[method.lower()] = {
                    "operationId": operation_id if len(methods or ()) < 2 else f"{operation_id}_{method.lower()}",
                    **_operation(operation, parameters),
                    **operation.per_method.get(method.lower(), {}),
                }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fninfer",
            "version": "0.1.0",
            "description": "Azure ML inference workflows on Azure Functions",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminKey": {"type": "http", "scheme": "bearer"},
                "serviceKeyOrToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {**SCHEMAS, **BODIES},
        },
    }
