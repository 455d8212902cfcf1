"""Deploying, updating and describing services: what the management endpoints call.

Deploying records the service as Transitioning and queues a deployment; the queue-triggered deployment function
checks the environment and runs init() once (`Runtime.deploy`), ending Healthy or Failed. An update or a reload bumps
the code version and goes through the same path, so every instance loads the new code on its next call.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypedDict

from shared.core import clock, layout, validators
from shared.core.errors import InvalidInput
from shared.core.storage import Storage
from shared.registry.installed_packages import validate_check
from shared.registry.models import get_model
from shared.registry.snapshots import Snapshot, validate_manifest, verify_uploaded
from shared.services.auth import choose_keys, new_nonces
from shared.services.calling import RESPONSE_ENCODINGS
from shared.services.service_records import (
    ServiceRecord,
    ServiceState,
    create_service,
    get_service,
    update_service,
)

AUTH_MODES = ("none", "key", "token")
COMPUTE_TYPES = ("ACI", "AKS", "Local")


def _models(storage: Storage, models: object) -> list[str]:
    if not isinstance(models, list):
        raise InvalidInput("'models' must be a list of 'name:version' ids", field="models")
    ids = []
    for model_id in models:
        name, _, version = str(model_id).partition(":")
        if not version.isdigit():
            raise InvalidInput(f"model id {model_id!r} must look like 'name:version'", field="models")
        get_model(storage, name, int(version))  # NotFound names what exists
        ids.append(f"{name}:{int(version)}")
    return ids


class _Code(TypedDict):
    """A deployment's or an update's code: ServiceRecord's fields of that name."""

    snapshot: Snapshot
    entry_script: str
    requirements: list[str]


def _code(storage: Storage, spec: dict[str, Any]) -> _Code:
    snapshot = validate_manifest(spec.get("snapshot"))
    verify_uploaded(storage, snapshot)
    entry_script = validators.validate_relative_path(spec.get("entry_script"))
    if entry_script not in {item["path"] for item in snapshot["files"]}:
        raise InvalidInput(f"entry script {entry_script!r} is not in source_directory", field="entry_script")
    requirements = validators.string_list(
        spec.get("requirements"), "requirements", described="package specs", absent="falsy"
    )
    return _Code(snapshot=snapshot, entry_script=entry_script, requirements=requirements)


def _deployment(config: object) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidInput("'deployment' must be an object", field="deployment")
    if config.get("compute_type", "ACI") not in COMPUTE_TYPES:
        raise InvalidInput(f"compute_type must be one of {COMPUTE_TYPES}", field="deployment")
    if config.get("auth", "none") not in AUTH_MODES:
        raise InvalidInput(f"auth must be one of {AUTH_MODES}", field="deployment")
    if config.get("response_encoding") not in (None, *RESPONSE_ENCODINGS):
        raise InvalidInput(f"response_encoding must be one of {RESPONSE_ENCODINGS}", field="deployment")
    validate_check(config.get("environment_check"))
    if {"primary_key", "secondary_key"} & set(config):  # secrets never become recorded settings
        raise InvalidInput("send chosen keys in the request's 'keys', not among the deployment settings", field="keys")
    for key in ("scoring_timeout_ms", "max_request_bytes", "replica_max_concurrent_requests", "max_request_wait_time"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise InvalidInput(f"{key} must be a positive integer", field="deployment")
    checked = dict(config)
    for field in ("tags", "properties"):  # any values, kept as strings, as Azure ML keeps them
        if field in checked:
            checked[field] = validators.string_map(checked[field], field)
    return checked


def _apply_tag_changes(deployment: dict[str, Any], changes: dict[str, Any]) -> None:
    """Webservice.add_tags / remove_tags / add_properties, applied to the stored record (so concurrent changes
    all land)."""
    tags = {**(deployment.get("tags") or {}), **changes["add_tags"]}
    for key in changes["remove_tags"]:
        tags.pop(key, None)
    deployment["tags"] = tags
    deployment["properties"] = {**(deployment.get("properties") or {}), **changes["add_properties"]}


def enqueue_deployment(storage: Storage, name: str, code_version: int) -> None:
    message = json.dumps({"name": name, "code_version": code_version}).encode()
    # The Functions host base64-decodes queue messages (messageEncoding: base64).
    storage.queue(layout.DEPLOYMENTS_QUEUE).send_message(base64.b64encode(message).decode())


def deploy(storage: Storage, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    validators.validate_name("service", name)
    overwrite = validators.optional_flag(spec.get("overwrite"), "overwrite")
    deployment = _deployment(spec.get("deployment", {}))
    record: ServiceRecord = {
        "name": name,
        "state": ServiceState.TRANSITIONING.value,
        "error": None,
        "models": _models(storage, spec.get("models", [])),
        **_code(storage, spec),
        "environment_name": spec.get("environment_name"),
        "deployment": deployment,
        "compute_target": spec.get("compute_target"),
        "auth": {
            "mode": deployment.get("auth", "none"),
            "nonces": new_nonces(),
            "chosen": choose_keys(name, spec.get("keys")),
        },
        "code_version": 1,
        "serving": None,
        "created_time": clock.stamp(),
        "updated_time": clock.stamp(),
    }
    create_service(storage, record, overwrite=bool(overwrite))
    enqueue_deployment(storage, name, record["code_version"])
    return public_view(record)


def update(storage: Storage, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """New models and/or code: the next code version, deployed through the same health check. Deployment settings
    (auth, timeouts, ...) apply at once to the version being served: they are not code."""
    models = _models(storage, spec["models"]) if "models" in spec else None
    code = _code(storage, spec) if "snapshot" in spec else None
    settings = spec.get("deployment") or {}
    if not isinstance(settings, dict):
        raise InvalidInput("'deployment' must be an object", field="deployment")
    tag_changes = {
        "add_tags": validators.string_map(spec.get("add_tags"), "add_tags"),
        "remove_tags": validators.key_list(spec.get("remove_tags"), "remove_tags"),
        "add_properties": validators.string_map(spec.get("add_properties"), "add_properties"),
    }
    if models is None and code is None and not settings and not spec.get("keys") and not any(tag_changes.values()):
        raise InvalidInput(
            "an update needs 'models', the code ('snapshot', 'entry_script'), 'deployment' settings or tag changes"
        )
    current = get_service(storage, name)["deployment"]
    if settings.get("compute_type", current.get("compute_type")) != current.get("compute_type"):
        raise InvalidInput("an update cannot move a service to another compute type", field="deployment")
    settings = {key: value for key, value in _deployment({**current, **settings}).items() if key in settings}
    chosen = choose_keys(name, spec.get("keys"))

    def change(record: ServiceRecord) -> int | None:
        record["auth"]["chosen"] = {**(record["auth"].get("chosen") or {}), **chosen}
        record["deployment"] = {**record["deployment"], **settings}
        _apply_tag_changes(record["deployment"], tag_changes)
        record["auth"]["mode"] = record["deployment"].get("auth", "none")
        if models is None and code is None:
            return None
        if models is not None:
            record["models"] = models
        if code is not None:
            record.update(code)
        record["code_version"] += 1
        record["state"] = ServiceState.TRANSITIONING.value
        record["error"] = None
        return record["code_version"]

    code_version = update_service(storage, name, change)
    if code_version is not None:
        enqueue_deployment(storage, name, code_version)
    return public_view(get_service(storage, name))


def public_view(record: ServiceRecord) -> dict[str, Any]:
    """The record as clients see it: everything but the key nonces."""
    view = {key: value for key, value in record.items() if key != "auth"}
    view["auth_mode"] = record["auth"]["mode"]
    view["scoring_path"] = f"services/{record['name']}/score"
    return view
