"""Compute targets as v1 code creates them: records in the registry, since the compute is the Function App itself.

`AmlCompute.provisioning_configuration(vm_size, min_nodes, max_nodes)` + `ComputeTarget.create` store a record that
nothing provisions (the Function App scales on its own). What the numbers still mean: a ParallelRunStep on an
AmlCompute target cannot ask for more than `max_nodes` nodes, and its node_count x process_count_per_node is how many
mini-batches run at once across the app's instances. `AksCompute` records are names that services deployed "to AKS"
carry; their settings are kept, not used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from shared.core import layout, validators
from shared.core.errors import Conflict, FninferError, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.core.validators import TagMap

TYPES = ("AmlCompute", "AksCompute", "ComputeInstance")
IDENTITY_TYPES = ("SystemAssigned", "UserAssigned")

#: A setting as recorded: the scalars of what the SDK sent (the rest is dropped).
Scalar = str | int | float | bool | None


class ScaleSettings(TypedDict):
    """An AmlCompute's node counts (what a ParallelRunStep on it may ask for)."""

    min_nodes: int
    max_nodes: int
    idle_seconds_before_scaledown: int


class Identity(TypedDict):
    """A managed identity as Azure ML's compute takes it (recorded: the app's own identity is what it uses)."""

    type: str  # one of IDENTITY_TYPES
    user_assigned: list[str]  # identity resource ids


class ComputeTarget(TypedDict):
    """A compute target (`layout.compute_target_record`); an AmlCompute's also holds its vm_size and ScaleSettings."""

    name: str
    type: str  # one of TYPES
    provisioning_state: str  # always "Succeeded": nothing is provisioned
    created_time: str  # ISO 8601, UTC
    modified_time: str
    settings: dict[str, Scalar]  # the provisioning or attach configuration's scalars, kept, not used
    tags: TagMap
    description: str | None
    location: str | None
    is_attached: bool  # attached (AksCompute.attach) rather than created
    identity: Identity | None
    vm_size: NotRequired[Scalar]  # AmlCompute only, as the SDK gave it
    min_nodes: NotRequired[int]  # AmlCompute only, with max_nodes and idle_seconds_before_scaledown
    max_nodes: NotRequired[int]
    idle_seconds_before_scaledown: NotRequired[int]


def _count(settings: dict[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if value is None:
        return default
    try:
        number = int(value)  # v1 samples pass os.environ values, which are strings
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{key} must be a whole number, not {value!r}", field=key) from exc
    if number < 0:
        raise InvalidInput(f"{key} must not be negative", field=key)
    return number


SCALE_FIELDS = ("min_nodes", "max_nodes", "idle_seconds_before_scaledown")


def _scale(
    settings: dict[str, Any], current: ComputeTarget | None = None, refusal: type[FninferError] = InvalidInput
) -> ScaleSettings:
    """An AmlCompute's scale settings: min_nodes, max_nodes and idle_seconds_before_scaledown (what is not given
    stays as it is, else takes Azure ML's default); `refusal` is raised for a max_nodes below 1 or min_nodes."""
    now: ComputeTarget | dict[str, int] = current or {}
    min_nodes = _count(settings, "min_nodes", now.get("min_nodes", 0))
    max_nodes = _count(settings, "max_nodes", now.get("max_nodes", 4))
    idle = _count(settings, "idle_seconds_before_scaledown", now.get("idle_seconds_before_scaledown") or 1800)
    if max_nodes < 1 or min_nodes > max_nodes:
        raise refusal(f"need 0 <= min_nodes <= max_nodes and max_nodes >= 1, not {min_nodes}..{max_nodes}")
    return {"min_nodes": min_nodes, "max_nodes": max_nodes, "idle_seconds_before_scaledown": idle}


def _scale_change(value: object) -> dict[str, Any] | None:
    """An update's scale settings: whole numbers (or their digits) for the fields given."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(SCALE_FIELDS):
        raise InvalidInput(f"'scale_settings' must be an object of {list(SCALE_FIELDS)}", field="scale_settings")
    for key, number in value.items():
        digits = isinstance(number, str) and number.isascii() and number.isdigit()
        if (
            number is not None
            and not digits
            and (isinstance(number, bool) or not isinstance(number, int) or number < 0)
        ):
            raise InvalidInput(f"{key} must be a whole number, not {number!r}", field=key)
    return value


def _identity(value: object) -> Identity | None:
    """A managed identity as Azure ML's compute takes it: {type: SystemAssigned | UserAssigned, user_assigned: [ids]}
    (recorded: the app's own identity is what it uses)."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in IDENTITY_TYPES:
        raise InvalidInput(f"identity must be {{type: one of {list(IDENTITY_TYPES)}, ...}}", field="identity")
    ids = value.get("user_assigned")
    ids = [] if ids is None else ids
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise InvalidInput("identity user_assigned must be a list of identity resource ids", field="identity")
    if value["type"] == "UserAssigned" and not ids:
        raise InvalidInput("a UserAssigned identity needs identity ids, as in Azure ML", field="identity")
    return {"type": value["type"], "user_assigned": list(ids)}


def _scalars(settings: dict[str, Any]) -> dict[str, Scalar]:
    return {k: v for k, v in settings.items() if isinstance(v, str | int | float | bool) or v is None}


def create(storage: Storage, name: str, request: dict[str, Any]) -> ComputeTarget:
    """Create (or return, when it exists with the same type) the compute target `name`; `attached` records one
    attached rather than created (AksCompute.attach)."""
    validators.validate_name("compute target", name)
    kind = request.get("type")
    if kind not in TYPES:
        raise InvalidInput(f"compute type must be one of {list(TYPES)}, not {kind!r}", field="type")
    settings = request.get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidInput("'settings' must be an object", field="settings")
    attached = request.get("attached", False)
    if not isinstance(attached, bool):
        raise InvalidInput("'attached' must be true or false", field="attached")
    now = datetime.now(UTC).isoformat()
    description, location = settings.get("description"), settings.get("location")
    record: ComputeTarget = {
        "name": name,
        "type": kind,
        "provisioning_state": "Succeeded",
        "created_time": now,
        "modified_time": now,
        "settings": _scalars(settings),
        "tags": validators.string_map(request.get("tags") or None, "tags"),
        "description": description if isinstance(description, str) else None,
        "location": location if isinstance(location, str) else None,
        "is_attached": attached,
        "identity": _identity(request.get("identity")),
    }
    if kind == "AmlCompute":
        record["vm_size"] = settings.get("vm_size")
        record.update(_scale(settings))
    existing: ComputeTarget | None
    existing, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))
    if existing is not None:
        if existing["type"] != kind:
            raise Conflict(f"compute target {name!r} exists as {existing['type']}, not {kind}", field="name")
        return existing
    storage.put_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name), record)
    return record


def update(storage: Storage, name: str, request: dict[str, Any]) -> ComputeTarget:
    """Change a compute target in place, as Azure ML's update / add_identity / remove_identity do: an AmlCompute's
    `scale_settings`, its `identity` (null removes it), or (AksCompute.update) more `settings`."""
    unknown = sorted(set(request) - {"scale_settings", "identity", "settings"})
    if unknown:
        raise InvalidInput(f"a compute target update takes scale_settings, identity or settings, not {unknown}")
    scale = _scale_change(request.get("scale_settings"))
    settings = request.get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidInput("'settings' must be an object", field="settings")
    identity = _identity(request["identity"]) if "identity" in request else None
    get(storage, name)  # NotFound names the compute targets

    def change(record: ComputeTarget) -> ComputeTarget:
        if scale is not None:
            if record["type"] != "AmlCompute":
                raise Conflict(f"{record['type']} {name!r} has no scale settings", field="scale_settings")
            record.update(_scale(scale, record, refusal=Conflict))
        if "identity" in request:
            record["identity"] = identity
        record["settings"] = {**record.get("settings", {}), **_scalars(settings)}
        record["modified_time"] = datetime.now(UTC).isoformat()
        return record

    updated: ComputeTarget = storage.update_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name), change)
    return updated


def get(storage: Storage, name: str) -> ComputeTarget:
    validators.validate_name("compute target", name)
    record: ComputeTarget | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))
    if record is None:
        known = [r["name"] for r in list_targets(storage)]
        raise NotFound(f"compute target {name!r} does not exist; compute targets: {known}", compute=name)
    return record


def list_targets(storage: Storage) -> list[ComputeTarget]:
    return storage.read_all_json(layout.REGISTRY_CONTAINER, layout.COMPUTE_TARGETS_PREFIX)


def delete(storage: Storage, name: str) -> None:
    get(storage, name)
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))


def check_node_count(storage: Storage, compute_target: object, node_count: int) -> None:
    """As Azure ML: a ParallelRunStep on an AmlCompute cannot ask for more nodes than its max_nodes."""
    if not isinstance(compute_target, str):
        return
    try:
        validators.validate_name("compute target", compute_target)
    except InvalidInput:
        return  # a name fninfer never recorded (e.g. from older code): nothing to check against
    record: ComputeTarget | None
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(compute_target))
    if record and record["type"] == "AmlCompute" and not 1 <= node_count <= record["max_nodes"]:
        raise InvalidInput(
            f"node_count '{node_count}' is not between 1 and max_nodes {record['max_nodes']} of compute target "
            f"{compute_target!r}",
            field="node_count",
        )
