"""The OpenAPI 3.1 document of the app's HTTP API, served at `/api/openapi.json`.

`tests/unit/test_openapi.py` compares it with the routes `function_app.py` registers, both ways, so an endpoint
cannot be added or removed without this document following.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
#: An error the way Azure ML's scoring server writes it.
SCORING_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
OBJECT = {"type": "object"}
LIST = {"type": "array", "items": OBJECT}


def _responses(ok_status: str, ok_schema: dict[str, Any], *errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        ok_status: {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}
    }
    for status in ("401", *errors):
        responses[status] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    return responses


def _path_params(*names: str) -> list[dict[str, Any]]:
    schemas = {"version": {"type": "integer", "minimum": 1}}
    return [
        {"name": name, "in": "path", "required": True, "schema": schemas.get(name, {"type": "string"})}
        for name in names
    ]


def _operation(summary: str, params: list[str], responses: dict[str, Any], body: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses, "security": [{"adminKey": []}]}
    if params:
        operation["parameters"] = _path_params(*params)
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": OBJECT}}}
    return operation


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {
        "/api/models": {
            "get": {
                **_operation(
                    "List model versions (filters: name, tags and properties as JSON lists, latest, run_id, "
                    "dataset_id 'name:version', model_framework)",
                    [],
                    _responses("200", LIST, "400"),
                ),
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "tags", "in": "query", "schema": {"type": "string"}},
                    {"name": "latest", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "properties", "in": "query", "schema": {"type": "string"}},
                    {"name": "run_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "dataset_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "model_framework", "in": "query", "schema": {"type": "string"}},
                ],
            }
        },
        "/api/models/{name}": {
            "post": _operation(
                "Register a staged upload as the next version",
                ["name"],
                _responses("201", OBJECT, "400", "409", "413"),
                True,
            ),
            "get": _operation("The latest version of a model", ["name"], _responses("200", OBJECT, "404")),
        },
        "/api/models/{name}/{version}": {
            "get": _operation("One version of a model", ["name", "version"], _responses("200", OBJECT, "404")),
            "delete": _operation("Delete a model version", ["name", "version"], _responses("200", OBJECT, "404")),
        },
        "/api/environments": {
            "get": _operation("The latest version of every environment", [], _responses("200", LIST))
        },
        "/api/environments/{name}": {
            "post": _operation(
                "Register an environment definition (200 with the latest version when it is unchanged)",
                ["name"],
                {**_responses("201", OBJECT, "400", "413"), "200": _responses("200", OBJECT)["200"]},
                True,
            ),
            "get": _operation("The latest version of an environment", ["name"], _responses("200", OBJECT, "404")),
        },
        "/api/environments/{name}/{version}": {
            "get": _operation("One version of an environment", ["name", "version"], _responses("200", OBJECT, "404"))
        },
        "/api/datastores": {"get": _operation("List datastores", [], _responses("200", LIST))},
        "/api/datastores/{name}": {
            "post": _operation(
                "Register a blob container as a datastore",
                ["name"],
                _responses("201", OBJECT, "400", "409", "413"),
                True,
            ),
            "get": _operation("A datastore", ["name"], _responses("200", OBJECT, "400", "404")),
        },
        "/api/workspace/defaultdatastore": {
            "get": _operation("The workspace's default datastore", [], _responses("200", OBJECT)),
            "put": _operation(
                "Make a registered datastore the default", [], _responses("200", OBJECT, "400", "404", "413"), True
            ),
        },
        "/api/computetargets": {"get": _operation("List compute targets", [], _responses("200", LIST))},
        "/api/computetargets/{name}": {
            "put": _operation(
                "Create a compute target record", ["name"], _responses("201", OBJECT, "400", "413"), True
            ),
            "get": _operation("A compute target", ["name"], _responses("200", OBJECT, "400", "404")),
            "delete": _operation("Delete a compute target record", ["name"], _responses("200", OBJECT, "400", "404")),
        },
        "/api/datasets": {"get": _operation("The latest version of every dataset", [], _responses("200", LIST))},
        "/api/datasets/{name}": {
            "post": _operation(
                "Register a file dataset definition", ["name"], _responses("201", OBJECT, "400", "409", "413"), True
            ),
            "get": _operation("The latest version of a dataset", ["name"], _responses("200", OBJECT, "404")),
        },
        "/api/datasets/{name}/{version}": {
            "get": _operation("One version of a dataset", ["name", "version"], _responses("200", OBJECT, "404"))
        },
        "/api/datasets/{name}/{version}/files": {
            "get": _operation(
                "The files a dataset version resolves to now", ["name", "version"], _responses("200", LIST, "404")
            )
        },
        "/api/services": {"get": _operation("List real-time services", [], _responses("200", LIST))},
        "/api/services/{name}": {
            "post": _operation(
                "Deploy a service (answers Transitioning; the deployment runs on a queue)",
                ["name"],
                _responses("202", OBJECT, "400", "404", "409", "413"),
                True,
            ),
            "get": _operation("A service and its state", ["name"], _responses("200", OBJECT, "404")),
            "patch": _operation(
                "Update models or code (also how reload works)", ["name"], _responses("202", OBJECT, "400", "404"), True
            ),
            "delete": _operation("Delete a service", ["name"], _responses("200", OBJECT, "404")),
        },
        "/api/services/{name}/keys": {
            "get": _operation("The service's keys", ["name"], _responses("200", OBJECT, "404"))
        },
        "/api/services/{name}/keys/regenerate": {
            "post": _operation(
                'Regenerate a key: {"keyType": "Primary" | "Secondary", "setKey": an optional key of your own}',
                ["name"],
                _responses("200", OBJECT, "400"),
                True,
            )
        },
        "/api/services/{name}/token": {
            "get": _operation("A short-lived token for token auth", ["name"], _responses("200", OBJECT, "404"))
        },
        "/api/services/{name}/logs": {
            "get": _operation(
                "What init() and run() printed, across instances", ["name"], _responses("200", OBJECT, "404")
            )
        },
        "/api/services/{name}/score": {
            method: {
                "summary": summary,
                "parameters": _path_params("name"),
                "security": [{"serviceKeyOrToken": []}, {}],
                **({"requestBody": {"content": {"*/*": {"schema": {}}}}} if method == "post" else {}),
                "responses": {
                    "200": {"description": "What run() returned, as Azure ML's scoring server answers it"},
                    **{
                        status: {"description": "Error", "content": {"application/json": {"schema": SCORING_ERROR}}}
                        for status in ("400", "415", "500", "504")
                    },
                    **{
                        status: {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
                        for status in ("401", "403", "404", "413", "503")
                    },
                },
            }
            for method, summary in (
                ("post", "Score: the body reaches run() as Azure ML's scoring server passes it (see the README)"),
                ("get", "Score with the query parameters as run()'s input, as Azure ML's scoring server does"),
                ("options", "200 and no body, or run()'s own answer under @rawhttp"),
            )
        },
        "/api/services/{name}/swagger.json": {
            "get": {
                "summary": "The service's Swagger document, generated from run()'s inference-schema decorators",
                "parameters": [
                    *_path_params("name"),
                    {
                        "name": "version",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["2", "2.0", "3", "3.0", "3.1"]},
                    },
                ],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": OBJECT}}},
                    "404": {"description": "Error", "content": {"application/json": {"schema": {}}}},
                    "503": {"description": "Error", "content": {"application/json": {"schema": ERROR}}},
                },
            }
        },
        "/api/pipelines/runs": {
            "post": _operation(
                'Submit a pipeline run: {"experiment", "pipeline": {"steps": [ParallelRunStep]}, "tags"}',
                [],
                _responses("201", OBJECT, "400", "404", "413"),
                True,
            ),
            "get": {
                **_operation("List pipeline runs, newest first", [], _responses("200", LIST)),
                "parameters": [
                    {"name": "experiment", "in": "query", "schema": {"type": "string"}},
                    {"name": "include_children", "in": "query", "schema": {"type": "boolean"}},
                ],
            },
        },
        "/api/pipelines/runs/{run_id}": {
            "get": _operation(
                "A pipeline run (each step's status and progress) or a step run (plan, counts live while it runs)",
                ["run_id"],
                _responses("200", OBJECT, "404"),
            )
        },
        "/api/pipelines/runs/{run_id}/logs": {
            "get": {
                **_operation(
                    "Mini-batch logs, a page at a time: tries, errors, tracebacks, what run() printed",
                    ["run_id"],
                    _responses("200", OBJECT, "400", "404"),
                ),
                "parameters": [
                    *_path_params("run_id"),
                    {"name": "start", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "count", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                ],
            }
        },
        "/api/pipelines/runs/{run_id}/script-logs": {
            "get": _operation(
                "A script step run's stdout and stderr, one log per try", ["run_id"], _responses("200", LIST, "404")
            )
        },
        "/api/pipelines/runs/{run_id}/cancel": {
            "post": _operation(
                "Cancel a run and its running steps (a finished one stays as it is)",
                ["run_id"],
                _responses("200", OBJECT, "404"),
            )
        },
        "/api/pipelines/runs/{run_id}/publish": {
            "post": _operation(
                'Publish the pipeline a run ran: {"name", "description", "version"}',
                ["run_id"],
                _responses("201", OBJECT, "400", "404"),
                True,
            )
        },
        "/api/pipelines/published": {
            "post": _operation(
                'Publish a pipeline definition: {"pipeline", "name", "description", "version"}',
                [],
                _responses("201", OBJECT, "400", "404", "413"),
                True,
            ),
            "get": {
                **_operation("Published pipelines, newest first", [], _responses("200", LIST)),
                "parameters": [{"name": "active_only", "in": "query", "schema": {"type": "boolean"}}],
            },
        },
        "/api/pipelines/published/{pipeline_id}": {
            "get": _operation("A published pipeline", ["pipeline_id"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/published/{pipeline_id}/enable": {
            "post": _operation("Enable a published pipeline", ["pipeline_id"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/published/{pipeline_id}/disable": {
            "post": _operation("Disable a published pipeline", ["pipeline_id"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/published/{pipeline_id}/submit": {
            "post": _operation(
                'The published pipeline\'s endpoint: {"ExperimentName", "ParameterAssignments", "DataPathAssignments", '
                '"DataSetDefinitionValueAssignments", "RunSource", "tags"} starts a run; answers {"Id", ...}',
                ["pipeline_id"],
                _responses("200", OBJECT, "400", "404", "409"),
                True,
            )
        },
        "/api/schedules": {
            "post": _operation(
                "Create a schedule of a published pipeline or a pipeline endpoint: a recurrence, or a datastore path",
                [],
                _responses("201", OBJECT, "400", "404"),
                True,
            ),
            "get": {
                **_operation("Schedules, newest first", [], _responses("200", LIST)),
                "parameters": [
                    {"name": "active_only", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "pipeline_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "pipeline_endpoint_id", "in": "query", "schema": {"type": "string"}},
                ],
            },
        },
        "/api/schedules/{schedule_id}": {
            "get": _operation(
                "A schedule, with its last run and last error", ["schedule_id"], _responses("200", OBJECT, "404")
            ),
            "patch": _operation(
                "Update a schedule: name, description, recurrence, pipeline_parameters, status, the watched path...",
                ["schedule_id"],
                _responses("200", OBJECT, "400", "404"),
                True,
            ),
        },
        "/api/schedules/{schedule_id}/enable": {
            "post": _operation("Enable a schedule", ["schedule_id"], _responses("200", OBJECT, "404"))
        },
        "/api/schedules/{schedule_id}/disable": {
            "post": _operation("Disable a schedule", ["schedule_id"], _responses("200", OBJECT, "404"))
        },
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
    }
    paths.update(_run_history_paths())
    paths.update(_pipeline_endpoint_paths())
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
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": OBJECT,
                            },
                            "required": ["code", "message"],
                        }
                    },
                }
            },
        },
    }


def _run_history_paths() -> dict[str, dict[str, Any]]:
    """A run's history: what `Run` reads and writes from outside the app."""
    return {
        "/api/runs/{run_id}": {
            "get": _operation(
                "A run: status, times, experiment, parent run, tags", ["run_id"], _responses("200", OBJECT, "404")
            )
        },
        "/api/runs/{run_id}/children": {
            "get": _operation("A run's child runs (a pipeline run's steps)", ["run_id"], _responses("200", LIST, "404"))
        },
        "/api/runs/{run_id}/metrics": {
            "get": {
                **_operation(
                    "The run's metrics, as Run.get_metrics() shows them", ["run_id"], _responses("200", OBJECT, "404")
                ),
                "parameters": [
                    *_path_params("run_id"),
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "recursive", "in": "query", "schema": {"type": "boolean"}},
                ],
            },
            "post": _operation(
                'Log values: {"metrics": [{"name", "kind", "value", "description", "step"}]}',
                ["run_id"],
                _responses("200", OBJECT, "400", "404", "413"),
                True,
            ),
        },
        "/api/runs/{run_id}/tags": {
            "get": _operation("The run's tags", ["run_id"], _responses("200", OBJECT, "404")),
            "post": _operation(
                'Add or change tags: {"tags": {...}}', ["run_id"], _responses("200", OBJECT, "400", "404"), True
            ),
        },
        "/api/runs/{run_id}/tags/remove": {
            "post": _operation(
                'Remove tags: {"keys": [...]}', ["run_id"], _responses("200", OBJECT, "400", "404"), True
            )
        },
        "/api/runs/{run_id}/models": {
            "post": _operation(
                'Register a model from the run\'s files: {"model_name", "model_path", "tags", "properties", ...}',
                ["run_id"],
                _responses("201", OBJECT, "400", "404", "409"),
                True,
            )
        },
    }


def _pipeline_endpoint_paths() -> dict[str, dict[str, Any]]:
    """Pipeline endpoints: versions of published pipelines behind one name and one REST endpoint."""
    return {
        "/api/pipelines/endpoints": {
            "post": _operation(
                'Publish an endpoint: {"name", "description", "pipeline_id"} (version "0", the default)',
                [],
                _responses("201", OBJECT, "400", "404", "409"),
                True,
            ),
            "get": {
                **_operation("Pipeline endpoints, newest first", [], _responses("200", LIST)),
                "parameters": [{"name": "active_only", "in": "query", "schema": {"type": "boolean"}}],
            },
        },
        "/api/pipelines/endpoints/{endpoint}": {
            "get": _operation("A pipeline endpoint, by id or name", ["endpoint"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/endpoints/{endpoint}/versions": {
            "post": _operation(
                'Add a published pipeline as the next version: {"pipeline_id", "default"}',
                ["endpoint"],
                _responses("200", OBJECT, "400", "404"),
                True,
            )
        },
        "/api/pipelines/endpoints/{endpoint}/default": {
            "post": _operation(
                'Set the default version: {"version"}', ["endpoint"], _responses("200", OBJECT, "400", "404"), True
            )
        },
        "/api/pipelines/endpoints/{endpoint}/enable": {
            "post": _operation("Enable a pipeline endpoint", ["endpoint"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/endpoints/{endpoint}/disable": {
            "post": _operation("Disable a pipeline endpoint", ["endpoint"], _responses("200", OBJECT, "404"))
        },
        "/api/pipelines/endpoints/{endpoint}/submit": {
            "post": _operation(
                "The endpoint's REST endpoint: Azure ML's submit body (as a published pipeline's) plus "
                '"PipelineVersion"; runs the default version; answers {"Id", ...}',
                ["endpoint"],
                _responses("200", OBJECT, "400", "404", "409"),
                True,
            )
        },
    }
