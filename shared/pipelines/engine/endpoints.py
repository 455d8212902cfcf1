"""Pipeline endpoints: one stable name and REST endpoint over versions of published pipelines (Azure ML's
`PipelineEndpoint`).

    {"id", "name", "description", "status": Active | Disabled, "default_version": "0",
     "versions": [{"version": "0", "pipeline_id": ...}, {"version": "1", ...}], "created_time"}

Versions are "0", "1", ... in the order pipelines are added; a run started from the endpoint runs the default version
unless the caller picks another. Names are unique: a name is claimed (If-None-Match) before its endpoint is written,
and a claim whose endpoint was never written (its writer died) is taken over by the next publish of that name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import TypedDict

from shared.core import clock, layout, validators
from shared.core.errors import ConcurrencyConflict, Conflict, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.pipelines.engine import published
from shared.runs.run_records import RunRecord


class EndpointStatus(StrEnum):
    ACTIVE = "Active"
    DISABLED = "Disabled"


class EndpointVersion(TypedDict):
    version: str  # "0", "1", ... in the order pipelines were added
    pipeline_id: str  # a published pipeline's id


class PipelineEndpoint(TypedDict):
    """A pipeline endpoint's record (`layout.pipeline_endpoint_record`)."""

    id: str
    name: str  # unique: claimed at `layout.pipeline_endpoint_name` (a NameClaim) before the record is written
    description: str | None
    status: str  # an EndpointStatus value
    default_version: str
    versions: list[EndpointVersion]
    created_time: str


class NameClaim(TypedDict):
    """An endpoint name's claim (`layout.pipeline_endpoint_name`): the endpoint that has it."""

    id: str


#: The tag a run started from an endpoint carries, beside the published pipeline's own.
ENDPOINT_TAG = "azureml.pipelineendpointid"


def _claim_name(storage: Storage, name: str, endpoint_id: str) -> None:
    path = layout.pipeline_endpoint_name(name)
    try:
        storage.create_json(layout.REGISTRY_CONTAINER, path, NameClaim(id=endpoint_id))
        return
    except ConcurrencyConflict:
        claim: NameClaim | None
        claim, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
    if claim is not None and _read(storage, claim["id"]) is not None:
        raise Conflict(
            f"a pipeline endpoint named {name!r} already exists ({claim['id']}): choose another name, or add the "
            "pipeline to it as a new version",
            name=name,
        )
    try:  # the claim's endpoint was never written: take the name over
        if etag is None:
            storage.create_json(layout.REGISTRY_CONTAINER, path, NameClaim(id=endpoint_id))
        else:
            storage.replace_json(layout.REGISTRY_CONTAINER, path, NameClaim(id=endpoint_id), etag)
    except ConcurrencyConflict as exc:
        raise Conflict(f"pipeline endpoint {name!r} is being published by another caller", name=name) from exc


def publish(storage: Storage, name: object, description: object, pipeline_id: object) -> PipelineEndpoint:
    """A new endpoint `name` whose version "0" (the default) is the published pipeline `pipeline_id`."""
    name = validators.validate_name("pipeline endpoint", name)
    validators.optional_text(description, "description")
    if not isinstance(pipeline_id, str):
        raise InvalidInput("'pipeline_id' is required: the published pipeline of version 0", field="pipeline_id")
    published.get_published(storage, pipeline_id)  # NotFound names it
    record: PipelineEndpoint = {
        "id": uuid.uuid4().hex,
        "name": name,
        "description": description,
        "status": EndpointStatus.ACTIVE.value,
        "default_version": "0",
        "versions": [EndpointVersion(version="0", pipeline_id=pipeline_id)],
        "created_time": clock.stamp(),
    }
    _claim_name(storage, name, record["id"])
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_endpoint_record(record["id"]), record)
    return record


def _read(storage: Storage, endpoint_id: str) -> PipelineEndpoint | None:
    record: PipelineEndpoint | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_endpoint_record(endpoint_id))
    return record


def get_endpoint(storage: Storage, id_or_name: str) -> PipelineEndpoint:
    """The endpoint with this id, or else this name."""
    validators.validate_name("pipeline endpoint", id_or_name)
    record = _read(storage, id_or_name)
    if record is None:
        claim: NameClaim | None
        claim, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.pipeline_endpoint_name(id_or_name))
        record = _read(storage, claim["id"]) if claim is not None else None
    if record is None:
        raise NotFound(f"pipeline endpoint {id_or_name!r} does not exist (by id or name)", endpoint=id_or_name)
    return record


def list_endpoints(storage: Storage, active_only: bool = True) -> list[PipelineEndpoint]:
    """Endpoints, newest first."""
    found: list[PipelineEndpoint] = storage.read_all_json(layout.REGISTRY_CONTAINER, layout.PIPELINE_ENDPOINTS_PREFIX)
    found = [record for record in found if not active_only or record["status"] == EndpointStatus.ACTIVE.value]
    return sorted(found, key=lambda r: r["created_time"], reverse=True)


def _change(storage: Storage, id_or_name: str, change: Callable[[PipelineEndpoint], object]) -> PipelineEndpoint:
    endpoint_id = get_endpoint(storage, id_or_name)["id"]

    def apply(record: PipelineEndpoint) -> PipelineEndpoint:
        change(record)
        return record

    return storage.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_endpoint_record(endpoint_id), apply)


def rename(storage: Storage, id_or_name: str, name: object) -> PipelineEndpoint:
    """Give the endpoint a new (unique) name; its id, URL and versions stay. The old name is free again."""
    new_name = validators.validate_name("pipeline endpoint", name)
    record = get_endpoint(storage, id_or_name)
    if record["name"] == new_name:
        return record
    _claim_name(storage, new_name, record["id"])
    updated = _change(storage, record["id"], lambda current: current.update({"name": new_name}))
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.pipeline_endpoint_name(record["name"]))
    return updated


def add(storage: Storage, id_or_name: str, pipeline_id: object, make_default: bool = False) -> PipelineEndpoint:
    """Add a published pipeline as the next version (and make it the default); a pipeline already there keeps its
    version."""
    if not isinstance(pipeline_id, str):
        raise InvalidInput("'pipeline_id' is required: the published pipeline to add", field="pipeline_id")
    published.get_published(storage, pipeline_id)

    def change(record: PipelineEndpoint) -> None:
        version = next((v["version"] for v in record["versions"] if v["pipeline_id"] == pipeline_id), None)
        if version is None:
            version = str(len(record["versions"]))
            record["versions"].append({"version": version, "pipeline_id": pipeline_id})
        if make_default:
            record["default_version"] = version

    return _change(storage, id_or_name, change)


def set_default_version(storage: Storage, id_or_name: str, version: object) -> PipelineEndpoint:
    def change(record: PipelineEndpoint) -> None:
        known = [v["version"] for v in record["versions"]]
        if str(version) not in known:
            raise NotFound(
                f"pipeline endpoint {record['name']!r} has no version {version!r}; versions: {known}",
                version=str(version),
            )
        record["default_version"] = str(version)

    return _change(storage, id_or_name, change)


def set_status(storage: Storage, id_or_name: str, status: EndpointStatus) -> PipelineEndpoint:
    def change(record: PipelineEndpoint) -> None:
        record["status"] = status.value

    return _change(storage, id_or_name, change)


def pipeline_of(record: PipelineEndpoint, version: object = None) -> str:
    """The published pipeline of `version` (the default when None)."""
    wanted = record["default_version"] if version is None or version == "" else str(version)
    for item in record["versions"]:
        if item["version"] == wanted:
            return str(item["pipeline_id"])
    known = [v["version"] for v in record["versions"]]
    raise NotFound(f"pipeline endpoint {record['name']!r} has no version {wanted!r}; versions: {known}", version=wanted)


def start(
    storage: Storage,
    id_or_name: str,
    experiment: object,
    assignments: object = None,
    tags: object = None,
    version: object = None,
    run_id: str | None = None,
    continue_on_step_failure: object = None,
) -> RunRecord:
    """Start a run of the endpoint's default version (or `version`): its REST endpoint, `PipelineEndpoint.submit`,
    a schedule."""
    record = get_endpoint(storage, id_or_name)
    if record["status"] != EndpointStatus.ACTIVE.value:
        raise Conflict(
            f"pipeline endpoint {record['name']!r} ({record['id']}) is {record['status']}: enable it to start runs",
            endpoint=record["id"],
        )
    # the run's start checks the values, after the version and the experiment's name
    run_tags = {**validators.string_values(tags, "tags", values="unchecked"), ENDPOINT_TAG: record["id"]}
    pipeline_id = pipeline_of(record, version)
    return published.start(storage, pipeline_id, experiment, assignments, run_tags, run_id, continue_on_step_failure)
