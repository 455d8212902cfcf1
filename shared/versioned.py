"""Versioned, immutable records (models, datasets): `<kind>s/<name>/<version:010d>.json` in the registry.

The record *is* the version. A new one is created with If-None-Match on the next number; two writers racing for the
same number both succeed in the end, the loser on the number after, so versions stay unique and gap-free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import layout
from shared.errors import ConcurrencyConflict, NotFound
from shared.storage import Storage

MAX_VERSION_ATTEMPTS = 100

Record = dict[str, Any]


def list_versions(storage: Storage, prefix: str) -> list[int]:
    """The versions recorded under `prefix`, ascending."""
    names = storage.list_names(layout.REGISTRY_CONTAINER, prefix)
    return sorted(layout.version_from_record(path) for path in names if path.endswith(".json"))


def read_version(
    storage: Storage, kind: str, name: str, prefix: str, record_path: Callable[[int], str], version: int | None
) -> Record:
    """The record of `name` at `version` (the latest when None); NotFound names the versions that exist."""
    versions = list_versions(storage, prefix)
    if not versions:
        raise NotFound(f"{kind} {name!r} is not registered", **{kind: name})
    wanted = versions[-1] if version is None else version
    if wanted not in versions:
        raise NotFound(
            f"{kind} {name!r} has no version {version}; versions: {versions}", **{kind: name}, versions=versions
        )
    record, _ = storage.read_json(layout.REGISTRY_CONTAINER, record_path(wanted))
    return record


def create_next_version(storage: Storage, record: Record, latest: int, record_path: Callable[[int], str]) -> Record:
    """Store `record` as version latest+1, or the first free number after it; sets record['version']."""
    version = latest + 1
    for _ in range(MAX_VERSION_ATTEMPTS):
        record["version"] = version
        try:
            storage.create_json(layout.REGISTRY_CONTAINER, record_path(version), record)
            return record
        except ConcurrencyConflict:
            version += 1  # another writer took this number first
    raise ConcurrencyConflict(f"could not allocate a version for {record.get('name')!r}: too many concurrent writers")
