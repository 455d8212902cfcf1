"""The Swagger (OpenAPI) document of a service, generated as Azure ML's scoring server generates it
(`azureml-inference-server-http`, server/swagger.py and its two templates, copied below): the template with the
service's name, version and path prefix filled in, and `ServiceInput` / `ServiceOutput` from run()'s inference-schema
decorators (`{"type": "object", "example": {}}` for an undecorated run). A `swagger.json` or `swagger2.json`
(version 2), `swagger3.json` or `swagger3.1.json` at the root of the service's source folder is served instead, as
there. `?version=` picks 2 (the default), 3 or 3.1. Generated once per service version.

One difference: the templates' health-check path (`GET <prefix>/`) is left out, as fninfer has no such route (the
service's state is `service.state`); `<prefix>` is `/api/services/<name>`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference_schema.schema_util import (
    get_input_schema,
    get_output_schema,
    get_supported_versions,
    is_schema_decorated,
)

from shared.core.errors import NotFound

log = logging.getLogger("fninfer.app")

SWAGGER2_TEMPLATE: dict[str, Any] = {
    "swagger": "2.0",
    "info": {
        "title": "$SERVICE_NAME$",
        "description": "API specification for the Azure Machine Learning service $SERVICE_NAME$",
        "version": "$SERVICE_VERSION$",
    },
    "schemes": ["https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {
        "Bearer": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "description": "For example: Bearer abc123",
        }
    },
    "paths": {
        "$PATH_PREFIX$/": {
            "get": {
                "operationId": "ServiceHealthCheck",
                "description": "Simple health check endpoint to ensure the service is up at any given point.",
                "responses": {
                    "200": {
                        "description": "If service is up and running, this "
                        "response will be returned with the "
                        "content 'Healthy'",
                        "schema": {"type": "string"},
                        "examples": {"application/json": "Healthy"},
                    },
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "schema": {"$ref": "#/definitions/ErrorResponse"},
                    },
                },
            }
        },
        "$PATH_PREFIX$/score": {
            "post": {
                "operationId": "RunMLService",
                "description": "Run web service's model and get the prediction output",
                "security": [{"Bearer": []}],
                "parameters": [
                    {
                        "name": "serviceInputPayload",
                        "in": "body",
                        "description": "The input payload for executing the real-time machine learning service.",
                        "schema": {"$ref": "#/definitions/ServiceInput"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The service processed the input "
                        "correctly and provided a result "
                        "prediction, if applicable.",
                        "schema": {"$ref": "#/definitions/ServiceOutput"},
                    },
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "schema": {"$ref": "#/definitions/ErrorResponse"},
                    },
                },
            }
        },
        "$PATH_PREFIX$/swagger.json": {
            "get": {
                "operationId": "GetSwaggerSpec",
                "description": "Get the Swagger specification.",
                "parameters": [
                    {"name": "version", "in": "query", "required": False, "type": "integer", "enum": [2, 3]}
                ],
                "responses": {
                    "200": {"description": "The Swagger specification.", "schema": {"type": "string"}},
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "schema": {"$ref": "#/definitions/ErrorResponse"},
                    },
                },
            }
        },
    },
    "definitions": {
        "ServiceInput": {
            "type": "object",
            "properties": {"param": {"type": "object", "additionalProperties": {"type": "object"}}},
        },
        "ServiceOutput": {"type": "object", "additionalProperties": {"type": "object"}},
        "ErrorResponse": {"type": "object", "properties": {"message": {"type": "string"}}},
    },
}

SWAGGER3_TEMPLATE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "$SERVICE_NAME$",
        "description": "API specification for the Azure Machine Learning service $SERVICE_NAME$",
        "version": "$SERVICE_VERSION$",
    },
    "security": [{"Bearer": []}],
    "paths": {
        "$PATH_PREFIX$/": {
            "get": {
                "operationId": "ServiceHealthCheck",
                "description": "Simple health check endpoint to ensure the service is up at any given point.",
                "responses": {
                    "200": {
                        "description": "If service is up and running, this "
                        "response will be returned with the "
                        "content 'Healthy'",
                        "content": {"text/plain": {"schema": {"type": "string", "example": "Healthy"}}},
                    },
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                    },
                },
            }
        },
        "$PATH_PREFIX$/score": {
            "post": {
                "operationId": "RunMLService",
                "description": "Run web service's model and get the prediction output",
                "security": [{"Bearer": []}],
                "requestBody": {
                    "description": "The input payload for executing the real-time machine learning service.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceInput"}}},
                },
                "responses": {
                    "200": {
                        "description": "The service processed the input "
                        "correctly and provided a result "
                        "prediction, if applicable.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceOutput"}}},
                    },
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                    },
                },
            }
        },
        "$PATH_PREFIX$/swagger.json": {
            "get": {
                "operationId": "GetSwaggerSpec",
                "description": "Get the Swagger specification.",
                "parameters": [
                    {"name": "version", "in": "query", "required": False, "schema": {"type": "integer", "enum": [2, 3]}}
                ],
                "responses": {
                    "200": {
                        "description": "The Swagger specification.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "default": {
                        "description": "The service failed to execute due to an error.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                    },
                },
            }
        },
    },
    "components": {
        "schemas": {
            "ServiceInput": {
                "type": "object",
                "properties": {"param": {"type": "object", "additionalProperties": {"type": "object"}}},
            },
            "ServiceOutput": {"type": "object", "additionalProperties": {"type": "object"}},
            "ErrorResponse": {"type": "object", "properties": {"message": {"type": "string"}}},
        },
        "securitySchemes": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "For example: Bearer abc123",
            }
        },
    },
}

#: version -> (its aliases, the template, where the schemas go, the user's files read instead, in order)
_BUILDERS: dict[str, tuple[set[str], dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "2": ({"2", "2.0"}, SWAGGER2_TEMPLATE, ("definitions",), ("swagger.json", "swagger2.json")),
    "3": ({"3", "3.0"}, SWAGGER3_TEMPLATE, ("components", "schemas"), ("swagger3.json",)),
    "3.1": ({"3.1"}, SWAGGER3_TEMPLATE, ("components", "schemas"), ("swagger3.1.json",)),
}
VALID_VERSIONS = frozenset(alias for aliases, *_ in _BUILDERS.values() for alias in aliases)


def _user_document(folder: Path, names: tuple[str, ...]) -> dict[str, Any] | None:
    for name in names:
        try:
            return dict(json.loads((folder / name).read_text(encoding="utf-8")))
        except FileNotFoundError:
            continue
    return None


def _generated(
    version: str, template: dict[str, Any], where: tuple[str, ...], run: Callable[..., Any], fill: dict[str, str]
) -> dict[str, Any] | None:
    aliases = _BUILDERS[version][0]
    if all(alias not in get_supported_versions(run) for alias in aliases):
        return None
    if is_schema_decorated(run):
        input_schema, output_schema = get_input_schema(run), get_output_schema(run)
    else:
        input_schema = output_schema = {"type": "object", "example": {}}
    text = json.dumps(template)
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    document: dict[str, Any] = json.loads(text)
    document["paths"].pop(fill["$PATH_PREFIX$"] + "/", None)  # no health-check route (see the module docstring)
    schemas = document
    for key in where:
        schemas = schemas[key]
    schemas["ServiceInput"] = copy.deepcopy(input_schema)
    schemas["ServiceOutput"] = copy.deepcopy(output_schema)
    if version == "3.1":
        document["openapi"] = "3.1.0"
    return document


def swagger_documents(run: Callable[..., Any], folder: Path, service: str, path_prefix: str) -> dict[str, Any]:
    """{version alias: document} for the versions this run() supports."""
    fill = {"$SERVICE_NAME$": service, "$SERVICE_VERSION$": "1.0", "$PATH_PREFIX$": path_prefix}
    documents: dict[str, Any] = {}
    for version, (aliases, template, where, user_files) in _BUILDERS.items():
        document = _user_document(folder, user_files) or _generated(version, template, where, run, fill)
        if document is not None:
            documents.update(dict.fromkeys(aliases, document))
    return documents


def pick(documents: dict[str, Any], version: str | None) -> dict[str, Any]:
    """The document of `version` ("2" when None), or NotFound with Azure ML's message (answered 404
    `{"message": ...}`)."""
    version = version or "2"
    supported = ", ".join(sorted(v for v in _BUILDERS if v in documents))
    if version not in VALID_VERSIONS:
        raise NotFound(f"Swagger version [{version}] is not valid. Supported versions: [{supported}].")
    if version not in documents:
        raise NotFound(
            f"Swagger version [{version}] is not supported for the scoring script. "
            f"Supported swagger versions: [{supported}]."
        )
    return dict(documents[version])
