"""Service records and their states, kept in storage (storage is the truth; any instance reads the same).

    Transitioning --deploy ok--> Healthy --an instance cannot init()--> Unhealthy --one can again--> Healthy
         |                          ^
         +--init() or env fails--> Failed        (update / reload: any state --> Transitioning)

The states are Azure ML's spellings. `transition` is the one way a deployment outcome or an instance's finding
changes the state: it checks `ALLOWED` (a move it does not allow, such as a late "Failed" from a second delivery of
a deployment that already passed, changes nothing) and applies only to the code version it is about.

The record describes the latest code version (models, snapshot, entry script); `serving` is the last version that
passed its health check, where calls go. An update or reload that is Transitioning, or that Failed, leaves calls on
the previous version (as a rolling update on AKS does); a service that never passed one has nothing to serve.

Every change goes through `update_service`, an If-Match read-modify-write, so concurrent instances never lose one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypedDict, TypeVar

from shared.core import clock, layout
from shared.core.errors import Conflict, NotFound
from shared.core.storage import Storage
from shared.registry.snapshots import Snapshot
from shared.services.auth import ServiceAuth

T = TypeVar("T")


class ServiceState(StrEnum):
    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    FAILED = "Failed"


#: Where each state may go by `transition` (updates and reloads move any state to Transitioning themselves).
ALLOWED: dict[ServiceState, frozenset[ServiceState]] = {
    ServiceState.TRANSITIONING: frozenset({ServiceState.HEALTHY, ServiceState.FAILED}),
    ServiceState.HEALTHY: frozenset({ServiceState.HEALTHY, ServiceState.UNHEALTHY}),
    ServiceState.UNHEALTHY: frozenset({ServiceState.HEALTHY, ServiceState.UNHEALTHY}),
    ServiceState.FAILED: frozenset({ServiceState.FAILED}),
}


class ServedVersion(TypedDict):
    """A code version: what calls to the service run."""

    code_version: int  # grows by one with every update or reload, never reused under a name
    models: list[str]  # model ids, 'name:version'
    snapshot: Snapshot
    entry_script: str  # a path in the snapshot


class ServiceRecord(ServedVersion):
    """A service (`layout.service_record`): its latest code version and how it is deployed and called."""

    name: str
    state: str  # a ServiceState's value
    error: str | None  # why it is Failed or Unhealthy
    requirements: list[str]  # what the environment check compares with the installed packages
    environment_name: str | None  # recorded only
    deployment: dict[str, Any]  # the deployment configuration's settings as the SDK sent them, checked
    compute_target: str | None  # recorded only (e.g. an AksCompute's name)
    auth: ServiceAuth
    serving: ServedVersion | None  # the last version that passed its health check: where calls go; None: none yet
    created_time: str  # clock.stamp()
    updated_time: str


def create_service(storage: Storage, record: ServiceRecord, overwrite: bool) -> ServiceRecord:
    path = layout.service_record(record["name"])
    if overwrite:
        existing: ServiceRecord | None
        existing, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
        if existing is not None and etag is not None:
            # A code version is never reused under a name: instances cache loaded code by (name, code version).
            record["code_version"] = int(existing.get("code_version", 0)) + 1
            storage.replace_json(layout.REGISTRY_CONTAINER, path, record, etag)
            return record
    try:
        storage.create_json(layout.REGISTRY_CONTAINER, path, record)
    except Conflict as exc:
        raise Conflict(
            f"service {record['name']!r} already exists: update it, delete it, or deploy with overwrite=True",
            service=record["name"],
        ) from exc
    return record


def get_service(storage: Storage, name: str) -> ServiceRecord:
    record: ServiceRecord | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.service_record(name))
    if record is None:
        names = [r["name"] for r in list_services(storage)]
        raise NotFound(f"service {name!r} does not exist; services: {names}", service=name)
    return record


def list_services(storage: Storage) -> list[ServiceRecord]:
    paths = storage.list_names(layout.REGISTRY_CONTAINER, layout.SERVICES_PREFIX)
    found = []
    for path in paths:
        record: ServiceRecord | None
        record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
        if record is not None:
            found.append(record)
    return found


def update_service(storage: Storage, name: str, change: Callable[[ServiceRecord], T]) -> T:
    """Apply `change` to the stored record with If-Match, retrying on conflict; NotFound when it is gone."""
    get_service(storage, name)  # a clear NotFound first

    def stamped(record: ServiceRecord) -> T:
        result = change(record)
        record["updated_time"] = clock.stamp()
        return result

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.service_record(name), stamped)


def transition(
    storage: Storage, name: str, state: ServiceState, error: str | None = None, code_version: int | None = None
) -> bool:
    """Move the service to `state` (with its reason) if `ALLOWED` permits and, with `code_version`, only while the
    record still describes that version (a newer deployment or reload is not overwritten by an older outcome).
    Healthy makes that version the one calls go to. False (nothing written) when the move does not apply."""

    def change(record: ServiceRecord) -> None:
        current = ServiceState(record["state"])
        if (code_version is not None and record.get("code_version") != code_version) or state not in ALLOWED[current]:
            raise _Unchanged
        record["state"] = state.value
        record["error"] = error
        if state == ServiceState.HEALTHY and code_version is not None:
            record["serving"] = ServedVersion(
                code_version=record["code_version"],
                models=record["models"],
                snapshot=record["snapshot"],
                entry_script=record["entry_script"],
            )

    try:
        update_service(storage, name, change)
    except _Unchanged:
        return False
    return True


class _Unchanged(Exception):
    """Raised inside an update to leave the record as it is (nothing is written)."""


def delete_service(storage: Storage, name: str) -> None:
    get_service(storage, name)
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.service_record(name))
    for blob in storage.list_names(layout.LOGS_CONTAINER, layout.service_logs_prefix(name)):
        storage.delete_blob(layout.LOGS_CONTAINER, blob)
