"""The workspace's own record over HTTP (admin key): what `Workspace.get_details()`, `update()` and the connection
methods read and change."""

from __future__ import annotations

import azure.functions as func

from functions._http import json_body, json_endpoint
from functions.api_document import Body, operation
from functions.schemas import NAME, NULLABLE_TEXT, STRINGS, TEXT, closed, ref
from shared.core.storage import app_storage
from shared.registry import workspace_details

bp = func.Blueprint()


@bp.route(route="workspace/details", methods=["GET"])
@operation("The workspace's record", ok=(200, ref("WorkspaceDetails")))
@json_endpoint()
def get_workspace_details(req: func.HttpRequest) -> object:
    return workspace_details.get_details(app_storage())


@bp.route(route="workspace/details", methods=["PATCH"])
@operation(
    "Change the workspace's friendly name, description, tags or connections",
    ok=(200, ref("WorkspaceDetails")),
    errors=(400, 404, 413),
    body=Body(
        "UpdateWorkspace",
        closed(
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
    ),
)
@json_endpoint()
def update_workspace_details(req: func.HttpRequest) -> object:
    return workspace_details.update(app_storage(), json_body(req))
