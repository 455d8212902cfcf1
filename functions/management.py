"""Management endpoints: the model registry, datastores and datasets (thin: decode, call shared/, encode)."""

from __future__ import annotations

import azure.functions as func

from functions._http import bool_param, int_param, json_body, json_endpoint
from functions._json_body import parse_json
from functions.api_document import Body, operation
from functions.schemas import (
    ANY,
    ANY_TAGS,
    BOOLEAN_QUERY,
    DATA_PATH,
    FILE,
    NAME,
    NOT_FOUND,
    NULLABLE_TEXT,
    STRINGS,
    TEXT,
    array,
    closed,
    or_empty,
    query,
    record,
    ref,
)
from shared.core.errors import InvalidInput
from shared.core.storage import app_storage
from shared.registry import datasets, datastores, models

bp = func.Blueprint()

#: A registered dataset's id, 'name:version'.
DATASET_ID = {"type": "string", "pattern": NAME["pattern"][:-1] + ":[0-9]+$"}
#: A ResourceConfiguration's fields.
RESOURCES = ("cpu", "memory_in_gb", "gpu")
NULLABLE_TAGS = {"anyOf": [ANY_TAGS, {"type": "null"}]}
#: A model name, or "" (as BOOLEAN_QUERY, functions/schemas.py).
NAME_QUERY = {**NAME, "pattern": NAME["pattern"].replace("^", "^$|^", 1)}
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


def _is_pair_filter(item: object) -> bool:
    """A key, or a [key, value] pair."""
    pair = isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)
    return isinstance(item, str) or pair


def _pairs_param(req: func.HttpRequest, field: str) -> list[object] | None:
    """A `tags` / `properties` filter: a JSON list of keys or [key, value] pairs."""
    if not req.params.get(field):
        return None
    value = parse_json(req.params[field], what=f"'{field}'", field=field)
    if not isinstance(value, list) or not all(map(_is_pair_filter, value)):
        raise InvalidInput(f"'{field}' must be a JSON list of keys or [key, value] pairs", field=field)
    return value


@bp.route(route="models", methods=["GET"])
@operation(
    "List model versions",
    ok=(200, array(ref("Model"))),
    errors=(400,),
    query=(query("name", NAME_QUERY), TAGS_QUERY, query("latest", BOOLEAN_QUERY)),
)
@json_endpoint()
def list_models(req: func.HttpRequest) -> object:
    return models.list_models(
        app_storage(),
        name=req.params.get("name"),
        tags=_pairs_param(req, "tags"),
        latest=bool_param(req, "latest", default=False),
        properties=_pairs_param(req, "properties"),
        run_id=req.params.get("run_id"),
        dataset_id=req.params.get("dataset_id"),
        model_framework=req.params.get("model_framework"),
    )


@bp.route(route="models/{name}", methods=["POST"])
@operation(
    "Register a staged upload as the next version",
    ok=(201, ref("Model")),
    errors=(400, 409, 413),
    body=Body(
        "RegisterModel",
        record(
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
    ),
)
@json_endpoint()
def register_model(req: func.HttpRequest) -> object:
    return 201, models.register_model(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="models/{name}/{version?}", methods=["GET"])
@operation("A model version (the latest without one)", ok=(200, ref("Model")), errors=NOT_FOUND)
@json_endpoint()
def get_model(req: func.HttpRequest) -> object:
    return models.get_model(app_storage(), req.route_params["name"], int_param(req, "version"))


@bp.route(route="models/{name}/{version}", methods=["PATCH"])
@operation(
    "Change a version's tags, properties, description or datasets (Model.update, add_tags, ...)",
    ok=(200, ref("Model")),
    errors=(400, 404, 409, 413),
    body=Body(
        "UpdateModel",
        closed(
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
                        closed({key: {"type": ["number", "null"], "minimum": 0} for key in RESOURCES}),
                        {"type": "null"},
                    ]
                },
            },
        ),
    ),
)
@json_endpoint()
def update_model(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    return models.update_model(app_storage(), req.route_params["name"], version, json_body(req))


@bp.route(route="models/{name}/{version}", methods=["DELETE"])
@operation("Delete a model version", ok=(200, ref("Deleted")), errors=NOT_FOUND)
@json_endpoint()
def delete_model(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    models.delete_model(app_storage(), req.route_params["name"], version)
    return {"deleted": f"{req.route_params['name']}:{version}"}


@bp.route(route="datastores", methods=["GET"])
@operation("List datastores", ok=(200, array(ref("Datastore"))))
@json_endpoint()
def list_datastores(req: func.HttpRequest) -> object:
    return datastores.list_datastores(app_storage())


@bp.route(route="datasets", methods=["GET"])
@operation("The latest version of every dataset", ok=(200, array(ref("Dataset"))))
@json_endpoint()
def list_datasets(req: func.HttpRequest) -> object:
    return datasets.list_datasets(app_storage())


@bp.route(route="datasets/{name}", methods=["POST"])
@operation(
    "Register a file dataset definition",
    ok=(201, ref("Dataset")),
    errors=(400, 404, 409, 413),
    body=Body(
        "RegisterDataset",
        record(
            {
                "paths": {**array(DATA_PATH), "minItems": 1},
                "description": NULLABLE_TEXT,
                "tags": or_empty(STRINGS),
                "create_new_version": ANY,  # read as a truth value
            },
            required=["paths"],
        ),
    ),
)
@json_endpoint()
def register_dataset(req: func.HttpRequest) -> object:
    return 201, datasets.register_dataset(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="datasets/{name}/{version?}", methods=["GET"])
@operation("A dataset version (the latest without one)", ok=(200, ref("Dataset")), errors=NOT_FOUND)
@json_endpoint()
def get_dataset(req: func.HttpRequest) -> object:
    return datasets.get_dataset(app_storage(), req.route_params["name"], int_param(req, "version"))


@bp.route(route="datasets/{name}/{version}", methods=["PATCH"])
@operation(
    "Change a dataset version's description and tags",
    ok=(200, ref("Dataset")),
    errors=(400, 404, 409, 413),
    body=Body("UpdateDataset", record({"description": NULLABLE_TEXT, "tags": or_empty(STRINGS)}, required=[])),
)
@json_endpoint()
def update_dataset(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    return datasets.update_dataset(app_storage(), req.route_params["name"], version, json_body(req))


@bp.route(route="datasets/{name}", methods=["DELETE"])
@operation(
    "Remove every version of a dataset's registration (its files stay)", ok=(200, ref("Deleted")), errors=NOT_FOUND
)
@json_endpoint()
def unregister_dataset(req: func.HttpRequest) -> object:
    count = datasets.unregister_dataset(app_storage(), req.route_params["name"])
    return {"deleted": f"{req.route_params['name']} ({count} versions)"}


@bp.route(route="datasets/{name}/{version}/files", methods=["GET"])
@operation("The files a dataset version resolves to now", ok=(200, array(ref("DatasetFile"))), errors=NOT_FOUND)
@json_endpoint()
def dataset_files(req: func.HttpRequest) -> object:
    record = datasets.get_dataset(app_storage(), req.route_params["name"], int_param(req, "version"))
    return datasets.resolve_files(app_storage(), record["paths"])
