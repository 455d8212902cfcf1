"""Versioned, immutable records (models, datasets, environments): `<kind>s/<name>/<version:010d>.json` in the registry.

The record *is* the version, and a number is never given twice, even after its version is deleted (Azure ML's
registry never reuses one: a client holding `name:3` must not get other content later). Each name has a counter
(`versioncounters/...`) that only grows: a writer claims the next number on it with If-Match, then creates the record
with If-None-Match. Two writers racing both succeed in the end, on different numbers. A writer that dies between its
claim and its record leaves a gap, never a reuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from shared.core import layout
from shared.core.errors import ConcurrencyConflict, NotFound
from shared.core.storage import Storage

MAX_VERSION_ATTEMPTS = 100


class Versioned(TypedDict):
    """What every versioned record holds (each kind's record adds its own fields: models.ModelRecord,
    datasets.DatasetRecord, environments.EnvironmentRecord)."""

    name: str
    version: int  # set by create_next_version, never given twice under a name


class VersionCounter(TypedDict):
    """A name's counter (`layout.version_counter`): the highest version number ever given, deleted ones included."""

    version: int


V = TypeVar("V", bound=Versioned)


def list_versions(storage: Storage, prefix: str) -> list[int]:
    """The versions recorded under `prefix`, ascending."""
    names = storage.list_names(layout.REGISTRY_CONTAINER, prefix)
    return sorted(layout.version_from_record(path) for path in names if path.endswith(".json"))


def read_version(
    storage: Storage, kind: str, name: str, prefix: str, record_path: Callable[[int], str], version: int | None
) -> Any:
    """The record of `name` at `version` (the latest when None); NotFound names the versions that exist. Its shape
    is the kind's (the caller's return type says which)."""
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


def _set_counter(storage: Storage, counter: str, version: int, etag: str | None) -> bool:
    """Write the counter if it is still as read (`etag`; None: absent); False when another writer came first."""
    issued = VersionCounter(version=version)
    try:
        if etag is None:
            storage.create_json(layout.REGISTRY_CONTAINER, counter, issued)
        else:
            storage.replace_json(layout.REGISTRY_CONTAINER, counter, issued, etag)
    except ConcurrencyConflict:
        return False
    return True


def _claim_next(storage: Storage, counter: str, latest: int) -> int | None:
    """Claim the number after both `latest` (what is listed) and the counter (what was ever given); None when
    another writer claimed first."""
    issued: VersionCounter | None
    issued, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, counter)
    version = max(latest, issued["version"] if issued else 0) + 1
    return version if _set_counter(storage, counter, version, etag) else None


def retire(storage: Storage, record_path: Callable[[int], str], version: int) -> None:
    """Before version `version` is deleted: the counter covers it, so its number is never given again (also for
    versions created before counters existed)."""
    counter = layout.version_counter(record_path(1))
    for _ in range(MAX_VERSION_ATTEMPTS):
        issued: VersionCounter | None
        issued, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, counter)
        if (issued is not None and issued["version"] >= version) or _set_counter(storage, counter, version, etag):
            return
    raise ConcurrencyConflict(f"the version counter {counter} kept changing; the version was not deleted")


def create_next_version(storage: Storage, record: V, latest: int, record_path: Callable[[int], str]) -> V:
    """Store `record` as the next version never given before (after `latest`, the highest listed); sets
    record['version'] (whatever it held: the caller's placeholder)."""
    counter = layout.version_counter(record_path(1))
    for _ in range(MAX_VERSION_ATTEMPTS):
        version = _claim_next(storage, counter, latest)
        if version is None:
            continue  # another writer took this number first
        record["version"] = version
        try:
            storage.create_json(layout.REGISTRY_CONTAINER, record_path(version), record)
            return record
        except ConcurrencyConflict:
            latest = version  # a record from before counters existed holds this number
    raise ConcurrencyConflict(f"could not allocate a version for {record['name']!r}: too many concurrent writers")
