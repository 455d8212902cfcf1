"""The workspace's own record over HTTP (admin key): what `Workspace.get_details()`, `update()` and the connection
methods read and change."""

from __future__ import annotations

import azure.functions as func

from functions._http import json_body, json_endpoint
from shared import workspace_details
from shared.storage import app_storage

bp = func.Blueprint()


@bp.route(route="workspace/details", methods=["GET"])
@json_endpoint()
def get_workspace_details(req: func.HttpRequest) -> object:
    return workspace_details.get_details(app_storage())


@bp.route(route="workspace/details", methods=["PATCH"])
@json_endpoint()
def update_workspace_details(req: func.HttpRequest) -> object:
    return workspace_details.update(app_storage(), json_body(req))
