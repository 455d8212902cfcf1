"""Management endpoints: the model registry, datastores and datasets (thin: decode, call shared/, encode)."""

from __future__ import annotations

import azure.functions as func

from functions._http import bool_param, int_param, json_body, json_endpoint
from shared import datasets, datastores, models
from shared.errors import InvalidInput
from shared.jsonbody import parse_json
from shared.storage import app_storage

bp = func.Blueprint()


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
@json_endpoint()
def register_model(req: func.HttpRequest) -> object:
    return 201, models.register_model(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="models/{name}/{version?}", methods=["GET"])
@json_endpoint()
def get_model(req: func.HttpRequest) -> object:
    return models.get_model(app_storage(), req.route_params["name"], int_param(req, "version"))


@bp.route(route="models/{name}/{version}", methods=["PATCH"])
@json_endpoint()
def update_model(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    return models.update_model(app_storage(), req.route_params["name"], version, json_body(req))


@bp.route(route="models/{name}/{version}", methods=["DELETE"])
@json_endpoint()
def delete_model(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    models.delete_model(app_storage(), req.route_params["name"], version)
    return {"deleted": f"{req.route_params['name']}:{version}"}


@bp.route(route="datastores", methods=["GET"])
@json_endpoint()
def list_datastores(req: func.HttpRequest) -> object:
    return datastores.list_datastores(app_storage())


@bp.route(route="datasets", methods=["GET"])
@json_endpoint()
def list_datasets(req: func.HttpRequest) -> object:
    return datasets.list_datasets(app_storage())


@bp.route(route="datasets/{name}", methods=["POST"])
@json_endpoint()
def register_dataset(req: func.HttpRequest) -> object:
    return 201, datasets.register_dataset(app_storage(), req.route_params["name"], json_body(req))


@bp.route(route="datasets/{name}/{version?}", methods=["GET"])
@json_endpoint()
def get_dataset(req: func.HttpRequest) -> object:
    return datasets.get_dataset(app_storage(), req.route_params["name"], int_param(req, "version"))


@bp.route(route="datasets/{name}/{version}", methods=["PATCH"])
@json_endpoint()
def update_dataset(req: func.HttpRequest) -> object:
    version = int_param(req, "version")
    assert version is not None
    return datasets.update_dataset(app_storage(), req.route_params["name"], version, json_body(req))


@bp.route(route="datasets/{name}", methods=["DELETE"])
@json_endpoint()
def unregister_dataset(req: func.HttpRequest) -> object:
    count = datasets.unregister_dataset(app_storage(), req.route_params["name"])
    return {"deleted": f"{req.route_params['name']} ({count} versions)"}


@bp.route(route="datasets/{name}/{version}/files", methods=["GET"])
@json_endpoint()
def dataset_files(req: func.HttpRequest) -> object:
    record = datasets.get_dataset(app_storage(), req.route_params["name"], int_param(req, "version"))
    return datasets.resolve_files(app_storage(), record["paths"])
