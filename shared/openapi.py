"""The OpenAPI 3.1 document of the app's HTTP API, served at `/api/openapi.json`.

`tests/unit/test_openapi.py` compares it with the routes `function_app.py` registers, both ways, so an endpoint
cannot be added or removed without this document following.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
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
                    "List model versions (filters: name, tags as a JSON list, latest)",
                    [],
                    _responses("200", LIST, "400"),
                ),
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "tags", "in": "query", "schema": {"type": "string"}},
                    {"name": "latest", "in": "query", "schema": {"type": "boolean"}},
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
                'Regenerate a key: {"keyType": "Primary" | "Secondary"}',
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
            "post": {
                "summary": (
                    "Score: the body reaches run(raw_data); the answer is a JSON string of what run returned, or with "
                    "response_encoding 'json' the JSON of what run returned"
                ),
                "parameters": _path_params("name"),
                "security": [{"serviceKeyOrToken": []}, {}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": OBJECT}}},
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
                    **{
                        status: {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
                        for status in ("400", "401", "403", "404", "413", "500", "503", "504")
                    },
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
                "parameters": [{"name": "experiment", "in": "query", "schema": {"type": "string"}}],
            },
        },
        "/api/pipelines/runs/{run_id}": {
            "get": _operation(
                "A pipeline run: status, plan, counts (live while it runs), error",
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
        "/api/pipelines/runs/{run_id}/cancel": {
            "post": _operation(
                "Cancel a run (a finished one stays as it is)", ["run_id"], _responses("200", OBJECT, "404")
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
                'The published pipeline\'s endpoint: {"ExperimentName", "ParameterAssignments", '
                '"DataSetDefinitionValueAssignments"} starts a run; answers {"Id", ...}',
                ["pipeline_id"],
                _responses("200", OBJECT, "400", "404", "409"),
                True,
            )
        },
        "/api/schedules": {
            "post": _operation(
                "Create a schedule: a recurrence, or a datastore path to watch",
                [],
                _responses("201", OBJECT, "400", "404"),
                True,
            ),
            "get": {
                **_operation("Schedules, newest first", [], _responses("200", LIST)),
                "parameters": [
                    {"name": "active_only", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "pipeline_id", "in": "query", "schema": {"type": "string"}},
                ],
            },
        },
        "/api/schedules/{schedule_id}": {
            "get": _operation(
                "A schedule, with its last run and last error", ["schedule_id"], _responses("200", OBJECT, "404")
            )
        },
        "/api/schedules/{schedule_id}/enable": {
            "post": _operation("Enable a schedule", ["schedule_id"], _responses("200", OBJECT, "404"))
        },
        "/api/schedules/{schedule_id}/disable": {
            "post": _operation("Disable a schedule", ["schedule_id"], _responses("200", OBJECT, "404"))
        },
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
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
