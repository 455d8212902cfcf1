"""A run's history over HTTP (admin key): details, status, properties, metrics, tags, child runs, registering a model
from its files, and experiments. What `Run` and `Experiment` read and write from outside the app; inside, the same
`shared/runs/run_history.py` functions run on the app's storage."""

from __future__ import annotations

import azure.functions as func

from functions._http import async_json_endpoint, bool_param, json_body, json_endpoint
from functions._waiting import watched
from functions.api_document import Body, operation
from functions.schemas import (
    ANY,
    BOOLEAN_QUERY,
    NAME,
    NOT_FOUND,
    NULLABLE_NAME,
    NULLABLE_TEXT,
    RUN_TAGS,
    STRINGS,
    TEXT,
    WAIT_QUERIES,
    array,
    closed,
    query,
    record,
    ref,
)
from shared.core import layout
from shared.core.storage import app_storage
from shared.core.watch import Blob
from shared.pipelines.engine import submit
from shared.runs import run_history

bp = func.Blueprint()

#: Run and experiment tags as the app takes them: names of 1-255 characters, not all blank; values text or null.
TAG_MAP = {
    "type": "object",
    "additionalProperties": {"type": ["string", "null"]},
    "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "\\S"},
}
RUN_ERROR = record({"message": TEXT, "code": NULLABLE_TEXT}, required=["message"])


@bp.route(route="runs", methods=["GET"])
@operation(
    "An experiment's runs, newest first",
    ok=(200, array(ref("RunDetails"))),
    errors=(400,),
    query=({**query("experiment", NAME), "required": True}, query("include_children", BOOLEAN_QUERY)),
)
@json_endpoint()
def list_history_runs(req: func.HttpRequest) -> object:
    include_children = bool_param(req, "include_children", default=False)
    return run_history.list_runs(app_storage(), req.params.get("experiment"), include_children)


@bp.route(route="runs", methods=["POST"])
@operation(
    "Start a run in the run history (Experiment.start_logging, run.child_run)",
    ok=(201, ref("RunDetails")),
    errors=(400, 404, 409, 413),
    body=Body(
        "CreateRun",
        record(
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
    ),
)
@json_endpoint()
def create_history_run(req: func.HttpRequest) -> object:
    body = json_body(req)
    return 201, run_history.create_run(app_storage(), body.get("experiment"), body)


@bp.route(route="runs/{run_id}", methods=["GET"])
@operation(
    "A run: status, times, experiment, parent run, tags",
    ok=(200, ref("RunDetails")),
    errors=NOT_FOUND,
    query=WAIT_QUERIES,
)
@async_json_endpoint()
async def get_run_details(req: func.HttpRequest) -> object:
    """The run's details; `?wait=<status>` waits for it to move on first (functions/_waiting.py)."""
    run_id = req.route_params["run_id"]
    engine = Blob(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id))
    info = Blob(layout.RUN_HISTORY_CONTAINER, layout.run_info(run_id))
    tags = Blob(layout.RUN_HISTORY_CONTAINER, layout.run_tags(run_id))
    return await watched(
        req, lambda: run_history.describe(app_storage(), run_id), [engine, info], secondary=lambda _: [tags]
    )


@bp.route(route="runs/{run_id}", methods=["PATCH"])
@operation(
    "Set a run's display name, description or snapshot",
    ok=(200, ref("RunDetails")),
    errors=(400, 404, 413),
    body=Body(
        "UpdateRun", closed({"display_name": NULLABLE_TEXT, "description": NULLABLE_TEXT, "snapshot_id": NULLABLE_TEXT})
    ),
)
@json_endpoint()
def update_history_run(req: func.HttpRequest) -> object:
    return run_history.update_run(app_storage(), req.route_params["run_id"], json_body(req))


@bp.route(route="runs/{run_id}/status", methods=["POST"])
@operation(
    "Start, complete, fail or cancel a run; or record its error",
    ok=(200, ref("RunDetails")),
    errors=(400, 404, 409, 413),
    body=Body(
        "RunStatus",
        {
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
    ),
)
@json_endpoint()
def set_run_status(req: func.HttpRequest) -> object:
    body, storage, run_id = json_body(req), app_storage(), req.route_params["run_id"]
    if body.get("action") == "cancel":
        return submit.cancel(storage, run_id)
    if body.get("action") == "error":
        return run_history.record_error(storage, run_id, body.get("error"))
    return run_history.set_status(storage, run_id, body.get("action"), body.get("error"))


@bp.route(route="runs/{run_id}/properties", methods=["POST"])
@operation(
    "Add immutable properties",
    ok=(200, ref("RunProperties")),
    errors=(400, 404, 409, 413),
    body=Body("AddProperties", record({"properties": STRINGS})),
)
@json_endpoint()
def add_run_properties(req: func.HttpRequest) -> object:
    return run_history.add_properties(app_storage(), req.route_params["run_id"], json_body(req).get("properties"))


@bp.route(route="runs/{run_id}/children", methods=["GET"])
@operation("A run's child runs (a pipeline run's steps)", ok=(200, array(ref("RunDetails"))), errors=NOT_FOUND)
@json_endpoint()
def get_run_children(req: func.HttpRequest) -> object:
    storage, run_id = app_storage(), req.route_params["run_id"]
    run_history.require_run(storage, run_id)
    return [run_history.describe(storage, child) for child in run_history.child_ids(storage, run_id)]


@bp.route(route="runs/{run_id}/metrics", methods=["GET"])
@operation(
    "The run's metrics, as Run.get_metrics() shows them",
    ok=(200, ref("Metrics")),
    errors=NOT_FOUND,
    query=(
        query("name", TEXT),
        query("recursive", BOOLEAN_QUERY, "'true': {run id: metrics} for the run and its children"),
        query("populate", BOOLEAN_QUERY, "'true': JSON metrics (confusion matrix, ...) as their content"),
    ),
)
@json_endpoint()
def get_run_metrics(req: func.HttpRequest) -> object:
    recursive = bool_param(req, "recursive", default=False)
    populate = bool_param(req, "populate", default=False)
    return run_history.metrics(app_storage(), req.route_params["run_id"], req.params.get("name"), recursive, populate)


@bp.route(route="runs/{run_id}/metrics", methods=["POST"])
@operation(
    "Log metric values",
    ok=(200, ref("Logged")),
    errors=(400, 404, 413),
    body=Body(
        "LogMetrics",
        record(
            {
                "metrics": array(
                    record(
                        {"name": TEXT, "kind": TEXT, "value": ANY, "description": ANY, "step": ANY},
                        required=["name", "value"],
                    )
                )
            }
        ),
    ),
)
@json_endpoint()
def log_run_metrics(req: func.HttpRequest) -> object:
    count = run_history.log_metrics(app_storage(), req.route_params["run_id"], json_body(req).get("metrics"))
    return {"logged": count}


@bp.route(route="runs/{run_id}/tags", methods=["GET"])
@operation("The run's tags", ok=(200, ref("RunTags")), errors=NOT_FOUND)
@json_endpoint()
def get_run_tags(req: func.HttpRequest) -> object:
    storage = app_storage()
    run_history.require_run(storage, req.route_params["run_id"])
    return run_history.get_tags(storage, req.route_params["run_id"])


@bp.route(route="runs/{run_id}/tags", methods=["POST"])
@operation(
    "Add or change tags (a null value is a tag without value)",
    ok=(200, ref("RunTags")),
    errors=(400, 404, 413),
    body=Body(
        "SetTags", record({"tags": {**RUN_TAGS, "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "\\S"}}})
    ),
)
@json_endpoint()
def set_run_tags(req: func.HttpRequest) -> object:
    return run_history.set_tags(app_storage(), req.route_params["run_id"], json_body(req).get("tags"))


@bp.route(route="runs/{run_id}/tags/remove", methods=["POST"])
@operation(
    "Remove tags",
    ok=(200, ref("RunTags")),
    errors=(400, 404, 413),
    body=Body("RemoveTags", record({"keys": array(TEXT)})),
)
@json_endpoint()
def remove_run_tags(req: func.HttpRequest) -> object:
    return run_history.remove_tags(app_storage(), req.route_params["run_id"], json_body(req).get("keys"))


@bp.route(route="runs/{run_id}/models", methods=["POST"])
@operation(
    "Register a model from the run's output files",
    ok=(201, ref("Model")),
    errors=(400, 404, 409, 413),
    body=Body(
        "RegisterRunModel",
        record(
            {"model_name": NAME, "model_path": TEXT, "tags": STRINGS, "properties": STRINGS},
            required=["model_name"],
        ),
    ),
)
@json_endpoint()
def register_run_model(req: func.HttpRequest) -> object:
    return 201, run_history.register_model(app_storage(), req.route_params["run_id"], json_body(req))


@bp.route(route="experiments", methods=["GET"])
@operation("Every experiment", ok=(200, array(ref("Experiment"))))
@json_endpoint()
def list_experiments(req: func.HttpRequest) -> object:
    return run_history.list_experiments(app_storage())


@bp.route(route="experiments/{name}", methods=["GET"])
@operation("An experiment", ok=(200, ref("Experiment")), errors=NOT_FOUND)
@json_endpoint()
def get_experiment(req: func.HttpRequest) -> object:
    return run_history.get_experiment(app_storage(), req.route_params["name"])


@bp.route(route="experiments/{name}", methods=["PUT"])
@operation("An experiment, created when new", ok=(200, ref("Experiment")), errors=(400,))
@json_endpoint()
def ensure_experiment(req: func.HttpRequest) -> object:
    return run_history.ensure_experiment(app_storage(), req.route_params["name"])


@bp.route(route="experiments/{name}", methods=["PATCH"])
@operation(
    "Tag, archive or reactivate an experiment",
    ok=(200, ref("Experiment")),
    errors=(400, 413),
    body=Body(
        "ChangeExperiment",
        record(
            {
                "set_tags": {"anyOf": [TAG_MAP, {"type": "null"}]},
                "remove_tags": {"anyOf": [array(TEXT), {"type": "null"}]},
                "archived": {"type": ["boolean", "null"]},
            },
            required=[],
        ),
    ),
)
@json_endpoint()
def change_experiment(req: func.HttpRequest) -> object:
    return run_history.change_experiment(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="experiments/{name}", methods=["DELETE"])
@operation("Delete an experiment and its runs' history", ok=(200, record({"deleted": NAME})), errors=(400, 404, 409))
@json_endpoint()
def delete_experiment(req: func.HttpRequest) -> object:
    run_history.delete_experiment(app_storage(), req.route_params["name"])
    return {"deleted": req.route_params["name"]}
