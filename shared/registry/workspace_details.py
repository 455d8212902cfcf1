"""The workspace's own record: its id, friendly name, description, tags, image build compute and connections
(`Workspace.get_details()`, `update()`, `set_connection()` ...). One record, changed with If-Match."""

from __future__ import annotations

import uuid
from typing import TypedDict, cast

from shared.core import layout, validators
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import Storage

#: What `Workspace.update` may change.
UPDATABLE = ("friendly_name", "description", "tags", "image_build_compute")
#: A workspace connection's fields, as Azure ML's `set_connection` takes them.
CONNECTION_FIELDS = ("name", "category", "target", "authType", "value")


class Connection(TypedDict):
    """A workspace connection, as Azure ML's `set_connection` takes it (CONNECTION_FIELDS)."""

    name: str
    category: str
    target: str
    authType: str  # Azure ML's spelling
    value: str


class WorkspaceDetails(TypedDict):
    """The workspace's one record (`layout.WORKSPACE_DETAILS_RECORD`), made the first time it is read."""

    id: str  # a uuid4, fixed at creation
    friendly_name: str | None
    description: str | None
    tags: dict[str, str]
    image_build_compute: str | None  # a compute target's name, recorded only
    connections: dict[str, Connection]  # by name


def _fresh() -> WorkspaceDetails:
    return {
        "id": str(uuid.uuid4()),
        "friendly_name": None,
        "description": None,
        "tags": {},
        "image_build_compute": None,
        "connections": {},
    }


def get_details(storage: Storage) -> WorkspaceDetails:
    """The record, made the first time it is read."""
    record: WorkspaceDetails | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.WORKSPACE_DETAILS_RECORD)
    if record is not None:
        return record
    fresh = _fresh()
    try:
        storage.create_json(layout.REGISTRY_CONTAINER, layout.WORKSPACE_DETAILS_RECORD, fresh)
        return fresh
    except Exception:  # made at the same moment by another caller: theirs stands
        record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.WORKSPACE_DETAILS_RECORD)
        return record or fresh


def update(storage: Storage, changes: object) -> WorkspaceDetails:
    """Change the friendly name, description, tags (replaced, as Azure ML's update does) or image build compute;
    set or delete a connection ({"set_connection": {...}} / {"delete_connection": name})."""
    if not isinstance(changes, dict):
        raise InvalidInput("the changes must be an object", field="changes")
    unknown = set(changes) - {*UPDATABLE, "set_connection", "delete_connection"}
    if unknown:
        raise InvalidInput(f"a workspace's {sorted(unknown)} cannot be changed here", field=sorted(unknown)[0])
    for field in ("friendly_name", "description", "image_build_compute"):
        validators.optional_text(changes.get(field), field)
    validators.string_values(changes.get("tags"), "tags", keys="strings")
    connection = changes.get("set_connection")
    if connection is not None:
        if not isinstance(connection, dict) or set(connection) != set(CONNECTION_FIELDS):
            raise InvalidInput(f"a connection has exactly {list(CONNECTION_FIELDS)}", field="set_connection")
        for field in CONNECTION_FIELDS:
            if not isinstance(connection[field], str):
                raise InvalidInput(f"a connection's '{field}' must be a string", field=field)
        validators.validate_name("connection", connection["name"])
    removed = validators.optional_text(changes.get("delete_connection"), "delete_connection")
    get_details(storage)

    def apply(record: WorkspaceDetails) -> WorkspaceDetails:
        # UPDATABLE, one by one: a TypedDict's keys are named, not looked up
        if changes.get("friendly_name") is not None:
            record["friendly_name"] = changes["friendly_name"]
        if changes.get("description") is not None:
            record["description"] = changes["description"]
        if changes.get("tags") is not None:
            record["tags"] = changes["tags"]
        if changes.get("image_build_compute") is not None:
            record["image_build_compute"] = changes["image_build_compute"]
        connections = dict(record.get("connections") or {})
        if connection is not None:
            # checked above: exactly CONNECTION_FIELDS, each a string (kept in the order the client sent them)
            connections[connection["name"]] = cast(Connection, dict(connection))
        if removed is not None:
            if removed not in connections:
                raise NotFound(f"the workspace has no connection {removed!r}", connection=removed)
            del connections[removed]
        record["connections"] = connections
        return record

    updated: WorkspaceDetails = storage.update_json(layout.REGISTRY_CONTAINER, layout.WORKSPACE_DETAILS_RECORD, apply)
    return updated
