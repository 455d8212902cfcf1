"""Datasets: versioned records of (datastore, path pattern) pairs, resolved to files when used.

A pattern is a blob path relative to its datastore, with `*` (within one folder), `**` (across folders) and `?`.
As in Azure ML, a dataset records the definition, not a snapshot of the files: resolving lists what matches now.
A record is a file dataset (`"kind": "file"`) or a tabular one (`"kind": "tabular"`, with how to read its files, see
tabular.py); either may have a `partition_format`, which names columns found in the files' paths.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from shared.core import layout, validators, versioned
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.storage import Storage
from shared.registry import tabular
from shared.registry.datastores import DatastoreRecord, by_name, find_datastore, list_blobs

KINDS = ("file", "tabular")


class DatasetPath(TypedDict):
    """One of a dataset's `paths`: a pattern on a datastore."""

    datastore: str
    path: str  # a blob path relative to the datastore, with `*`, `**` and `?`; a literal one is a file or a folder
    only: NotRequired[list[str]]  # a file dataset's take/skip/filter/...: the files chosen among what path matched


class DatasetDefinition(TypedDict):
    """What a dataset is (equal definitions are the same version)."""

    kind: str  # one of KINDS; records written before tabular datasets lack it: file datasets (see definition_of)
    paths: list[DatasetPath]
    partition_format: str | None  # names columns found in the files' paths (tabular.partition_pattern)
    tabular: NotRequired[tabular.Spec]  # a tabular dataset's: how to read its files


class DatasetRecord(versioned.Versioned, DatasetDefinition):
    """A dataset version (`layout.dataset_record`): its definition, description and tags."""

    description: str | None
    tags: dict[str, str]
    created_time: str  # ISO 8601, UTC


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex)


def literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first wildcard: the listing prefix."""
    cut = min((pattern.find(c) for c in "*?" if c in pattern), default=len(pattern))
    return pattern[:cut]


def parse_paths(paths: object) -> list[DatasetPath]:
    if not isinstance(paths, list) or not paths:
        raise InvalidInput("'paths' must be a non-empty list of {datastore, path}", field="paths")
    parsed = []
    for item in paths:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise InvalidInput("each entry of 'paths' needs a 'datastore' and a non-empty 'path'", field="paths")
        pattern = validators.validate_datastore_path(item["path"])
        entry = DatasetPath(datastore=validators.validate_name("datastore", item.get("datastore")), path=pattern)
        only = item.get("only")
        if only is not None:  # a file dataset's take/skip/filter/...: the files chosen among what the pattern matched
            if not isinstance(only, list) or not all(isinstance(name, str) for name in only):
                raise InvalidInput("'only' must be a list of file paths", field="paths")
            entry["only"] = [validators.validate_datastore_path(name) for name in only]
        parsed.append(entry)
    return parsed


def is_literal(pattern: str) -> bool:
    """A pattern without wildcards names one file, or a folder meaning every file below it (as in Azure ML)."""
    return literal_prefix(pattern) == pattern


def resolve_files(
    storage: Storage, paths: list[DatasetPath], stores: Mapping[str, DatastoreRecord] | None = None
) -> list[dict[str, Any]]:
    """Every blob matching the dataset's patterns (among a pattern's `only` files, when it has them): [{datastore,
    container, path, size}], sorted, without duplicates. `stores`: the datastores by name, when the caller keeps
    them."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    stores = by_name(storage) if stores is None else stores
    for item in paths:
        if item["datastore"] not in stores:
            find_datastore(storage, item["datastore"])  # NotFound names the datastores there are
        datastore = stores[item["datastore"]]
        container = datastore["container_name"]
        matcher = glob_to_regex(item["path"])
        only = set(item["only"]) if "only" in item else None
        for name, size in list_blobs(storage, datastore, literal_prefix(item["path"])):
            if only is not None and name not in only:
                continue
            if matcher.fullmatch(name) or (is_literal(item["path"]) and name.startswith(item["path"] + "/")):
                key = (datastore["account_name"] or "", container, name)
                found[key] = {"datastore": item["datastore"], "container": container, "path": name, "size": size}
    return [found[key] for key in sorted(found)]


def partitioned(files: list[dict[str, Any]], partition_format: str, keys: list[str]) -> list[dict[str, Any]]:
    """The files grouped by their values of `keys` (from their paths, by `partition_format`; the step's definition
    checked that they are its keys), in order of first appearance: [{"values": {key: value}, "files": [...]}]. A file
    whose path does not match the format is left out, as Azure ML leaves it."""
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in files:
        values = tabular.partition_values(partition_format, item["path"])
        if values is None:
            continue
        chosen = {key: str(values[key]) for key in keys}
        groups.setdefault(tuple(chosen.values()), {"values": chosen, "files": []})["files"].append(item)
    return list(groups.values())


def parse_definition(request: dict[str, Any]) -> DatasetDefinition:
    """What a dataset is, checked: kind, paths, partition_format and, for tabular ones, how to read them."""
    kind = request.get("kind") or "file"
    if kind not in KINDS:
        raise InvalidInput(f"dataset kind must be one of {list(KINDS)}, not {kind!r}", field="kind")
    partition_format = request.get("partition_format")
    if partition_format is not None:
        if not isinstance(partition_format, str):
            raise InvalidInput("partition_format must be a string", field="partition_format")
        tabular.partition_pattern(partition_format)  # InvalidInput names what is wrong with it
    definition = DatasetDefinition(
        kind=kind, paths=parse_paths(request.get("paths")), partition_format=partition_format
    )
    if kind == "tabular":
        definition["tabular"] = tabular.parse_spec(request.get("tabular"))
    return definition


def definition_of(record: DatasetRecord) -> DatasetDefinition:
    """A record's definition (records written before tabular datasets are file datasets)."""
    definition = DatasetDefinition(
        kind=record.get("kind", "file"), paths=record["paths"], partition_format=record.get("partition_format")
    )
    if record.get("kind") == "tabular":
        # re-read, so a record written before a setting existed compares equal to the same definition made now
        definition["tabular"] = tabular.parse_spec(record["tabular"])
    return definition


def relative_paths(paths: list[DatasetPath], files: list[dict[str, str]]) -> list[str]:
    """Each resolved file relative to the dataset's root, with a leading '/', as Azure ML's `to_path()` lists them.

    The root is the common folder of the patterns' own folders: a folder pattern is its own folder, a file or a
    wildcard pattern lives in the folder its literal part ends in.
    """
    names = {item["path"] for item in files}
    folders = []
    for item in paths:
        pattern = item["path"]
        folder_pattern = is_literal(pattern) and pattern not in names
        folders.append(pattern if folder_pattern else posixpath.dirname(literal_prefix(pattern)))
    root = posixpath.commonpath(folders) if folders else ""
    return ["/" + posixpath.relpath(item["path"], root or ".") for item in files]


def single_file(paths: list[DatasetPath], files: list[dict[str, Any]]) -> bool:
    """Whether the dataset is one file named by its path (not a folder, not a pattern): a step that mounts or
    downloads it gets the file's path, as in Azure ML, not a folder."""
    return len(paths) == 1 and len(files) == 1 and is_literal(paths[0]["path"]) and files[0]["path"] == paths[0]["path"]


def dataset_root(paths: list[DatasetPath], files: list[dict[str, Any]]) -> str:
    """The folder the files are relative to (what to_path() lists them from, and a Path column shows); '' for
    none."""
    if not files:
        return ""
    first = files[0]["path"]
    return first[: len(first) - len(relative_paths(paths, files[:1])[0])].rstrip("/")


def list_versions(storage: Storage, name: str) -> list[int]:
    return versioned.list_versions(storage, layout.dataset_versions_prefix(name))


def get_dataset(storage: Storage, name: str, version: int | None = None) -> DatasetRecord:
    prefix = layout.dataset_versions_prefix(name)
    record: DatasetRecord = versioned.read_version(
        storage, "dataset", name, prefix, lambda v: layout.dataset_record(name, v), version
    )
    return record


def register_dataset(storage: Storage, name: str, request: dict[str, Any]) -> DatasetRecord:
    """Register a definition as Azure ML does: the same definition again returns the existing version; a different
    one needs `create_new_version`, else it is a Conflict."""
    validators.validate_name("dataset", name)
    definition = parse_definition(request)
    for item in definition["paths"]:
        find_datastore(storage, item["datastore"])  # NotFound names the datastores that exist
    description = validators.optional_text(request.get("description"), "description")
    tags = validators.string_values(request.get("tags"), "tags", absent="falsy")
    create_new_version = bool(request.get("create_new_version", False))
    versions = list_versions(storage, name)
    if versions:
        latest = get_dataset(storage, name, versions[-1])
        if definition_of(latest) == definition:
            return latest
        if not create_new_version:
            raise Conflict(
                f"dataset {name!r} already exists with another definition; "
                "register with create_new_version=True to add a version",
                dataset=name,
            )
    record: DatasetRecord = {
        "name": name,
        "description": description,
        "tags": tags,
        **definition,
        "created_time": datetime.now(UTC).isoformat(),
        "version": 0,  # create_next_version numbers it
    }
    latest_version = versions[-1] if versions else 0
    return versioned.create_next_version(
        storage, record, latest_version, lambda version: layout.dataset_record(name, version)
    )


def update_dataset(storage: Storage, name: str, version: int, request: dict[str, Any]) -> DatasetRecord:
    """Change a version's description and tags in place (its definition never changes), as Azure ML's
    `dataset.update` / `add_tags` / `remove_tags` do; an absent field is kept."""
    validators.validate_name("dataset", name)
    path = layout.dataset_record(name, version)
    record: DatasetRecord | None
    record, etag = storage.try_read_json(layout.REGISTRY_CONTAINER, path)
    if record is None or etag is None:
        get_dataset(storage, name, version)  # NotFound names the versions there are
        raise NotFound(f"dataset {name!r} has no version {version}", dataset=name)
    description = validators.optional_text(request.get("description", record.get("description")), "description")
    tags = record.get("tags") or {}
    if "tags" in request:  # null or [] is none
        tags = validators.string_values(request["tags"], "tags", absent="falsy")
    updated = record.copy()
    updated["description"], updated["tags"] = description, tags
    storage.replace_json(layout.REGISTRY_CONTAINER, path, updated, etag)  # ConcurrencyConflict: changed meanwhile
    return updated


def unregister_dataset(storage: Storage, name: str) -> int:
    """Remove every version of a dataset's registration (its files stay, as in Azure ML); how many there were. Its
    version numbers are never given again."""
    versions = list_versions(storage, validators.validate_name("dataset", name))
    if not versions:
        raise NotFound(f"dataset {name!r} is not registered", dataset=name)
    versioned.retire(storage, lambda v: layout.dataset_record(name, v), versions[-1])
    for version in versions:
        storage.delete_blob(layout.REGISTRY_CONTAINER, layout.dataset_record(name, version))
    return len(versions)


def list_datasets(storage: Storage) -> list[DatasetRecord]:
    """The latest version of every dataset."""
    paths = layout.latest_records(storage.list_names(layout.REGISTRY_CONTAINER, layout.DATASETS_PREFIX))
    return [storage.read_json(layout.REGISTRY_CONTAINER, path)[0] for path in paths]
