"""Datastores: named blob containers. The default one, `workspaceblobstore`, is the `fninfer-datastore` container."""

from __future__ import annotations

from typing import Any

from shared import layout
from shared.errors import NotFound
from shared.storage import Storage


def default_datastore() -> dict[str, Any]:
    return {"name": layout.DEFAULT_DATASTORE_NAME, "container_name": layout.DEFAULT_DATASTORE_CONTAINER}


def list_datastores(storage: Storage) -> list[dict[str, Any]]:
    """The default datastore, then any registered ones."""
    return [default_datastore(), *storage.read_all_json(layout.REGISTRY_CONTAINER, layout.DATASTORES_PREFIX)]


def get_datastore(storage: Storage, name: str) -> dict[str, Any]:
    for datastore in list_datastores(storage):
        if datastore["name"] == name:
            return datastore
    names = [datastore["name"] for datastore in list_datastores(storage)]
    raise NotFound(f"datastore {name!r} does not exist; datastores: {names}", datastore=name)
