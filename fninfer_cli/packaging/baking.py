"""Registered models and deployed services copied into the package, in the layout the app looks for first
(`shared/core/layout.py`, "a packaged app"): a cold start then loads them from its own files, after checking their
sha256, instead of downloading them."""

from __future__ import annotations

from pathlib import Path

from shared.core import layout, validators
from shared.core.errors import InvalidInput
from shared.core.storage import Storage
from shared.registry import snapshots
from shared.registry.model_cache import cached_model_path
from shared.registry.models import ModelRecord, get_model
from shared.services.service_records import get_service


def parse_model_id(model_id: str) -> tuple[str, int]:
    name, _, version = model_id.partition(":")
    if not version.isdigit():
        raise InvalidInput(f"--include-model {model_id!r}: give NAME:VERSION, for example classification_model:1")
    return validators.validate_name("model", name), int(version)


def bake_model(storage: Storage, model_id: str, app_copy: Path) -> ModelRecord:
    """Copy a model version into `<app_copy>/azureml-models/<name>/<version>/`, verified; returns its record."""
    name, version = parse_model_id(model_id)
    record = get_model(storage, name, version)
    cached_model_path(storage, record, root=app_copy / layout.PACKAGED_MODELS_DIR)
    return record


def bake_service(storage: Storage, name: str, app_copy: Path) -> list[str]:
    """Copy a deployed service's code (the version it serves) and its models into the package; returns the model
    ids baked with it."""
    record = get_service(storage, validators.validate_name("service", name))
    served = record.get("serving") or record  # the version calls go to (the latest, if none passed its check yet)
    snapshots.download(storage, served["snapshot"], app_copy / layout.PACKAGED_SNAPSHOTS_DIR)
    for model_id in served.get("models") or []:
        bake_model(storage, model_id, app_copy)
    return list(served.get("models") or [])
