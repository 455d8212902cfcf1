"""Compute targets as v1 code creates them: records in the registry, since the compute is the Function App itself.

`AmlCompute.provisioning_configuration(vm_size, min_nodes, max_nodes)` + `ComputeTarget.create` store a record that
nothing provisions (the Function App scales on its own). What the numbers still mean: a ParallelRunStep on an
AmlCompute target cannot ask for more than `max_nodes` nodes, and its node_count x process_count_per_node is how many
mini-batches run at once across the app's instances. `AksCompute` records are names that services deployed "to AKS"
carry; their settings are kept, not used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import layout
from shared.errors import Conflict, InvalidInput, NotFound
from shared.storage import Storage

Record = dict[str, Any]
TYPES = ("AmlCompute", "AksCompute", "ComputeInstance")


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


def create(storage: Storage, name: str, request: dict[str, Any]) -> Record:
    """Create (or return, when it exists with the same type) the compute target `name`."""
    layout.validate_name("compute target", name)
    kind = request.get("type")
    if kind not in TYPES:
        raise InvalidInput(f"compute type must be one of {list(TYPES)}, not {kind!r}", field="type")
    settings = request.get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidInput("'settings' must be an object", field="settings")
    record: Record = {
        "name": name,
        "type": kind,
        "provisioning_state": "Succeeded",
        "created_time": datetime.now(UTC).isoformat(),
        "settings": {k: v for k, v in settings.items() if isinstance(v, str | int | float | bool) or v is None},
    }
    if kind == "AmlCompute":
        min_nodes, max_nodes = _count(settings, "min_nodes", 0), _count(settings, "max_nodes", 4)
        if max_nodes < 1 or min_nodes > max_nodes:
            raise InvalidInput(f"need 0 <= min_nodes <= max_nodes and max_nodes >= 1, not {min_nodes}..{max_nodes}")
        record.update(vm_size=settings.get("vm_size"), min_nodes=min_nodes, max_nodes=max_nodes)
    existing, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))
    if existing is not None:
        if existing["type"] != kind:
            raise Conflict(f"compute target {name!r} exists as {existing['type']}, not {kind}", field="name")
        return existing
    storage.put_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name), record)
    return record


def get(storage: Storage, name: str) -> Record:
    layout.validate_name("compute target", name)
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))
    if record is None:
        known = [r["name"] for r in list_targets(storage)]
        raise NotFound(f"compute target {name!r} does not exist; compute targets: {known}", compute=name)
    return record


def list_targets(storage: Storage) -> list[Record]:
    return storage.read_all_json(layout.REGISTRY_CONTAINER, layout.COMPUTE_TARGETS_PREFIX)


def delete(storage: Storage, name: str) -> None:
    get(storage, name)
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.compute_target_record(name))


def check_node_count(storage: Storage, compute_target: object, node_count: int) -> None:
    """As Azure ML: a ParallelRunStep on an AmlCompute cannot ask for more nodes than its max_nodes."""
    if not isinstance(compute_target, str):
        return
    try:
        layout.validate_name("compute target", compute_target)
    except InvalidInput:
        return  # a name fninfer never recorded (e.g. from older code): nothing to check against
    record, _ = storage.try_read_json(layout.REGISTRY_CONTAINER, layout.compute_target_record(compute_target))
    if record and record["type"] == "AmlCompute" and not 1 <= node_count <= int(record["max_nodes"]):
        raise InvalidInput(
            f"node_count '{node_count}' is not between 1 and max_nodes {record['max_nodes']} of compute target "
            f"{compute_target!r}",
            field="node_count",
        )
