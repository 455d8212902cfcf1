"""The model registry: versioned, immutable records over content written once to blob storage.

Registration is two-phase. The SDK uploads the files straight to `fninfer-models/<name>/<upload id>/...` (never
through an HTTP body), then asks the app to register them. The app re-reads every staged file, checks its size and
sha256, and only then creates the version record `models/<name>/<version:010d>.json` (shared/core/versioned.py: numbers
are unique and never given again, even after a delete). A registration that fails before the record is written leaves
no version behind. An upload is claimed before its
version is written, so replaying a registration cannot make two versions share (and later delete) one content.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypedDict

from shared.core import layout, validators, versioned
from shared.core.errors import ConcurrencyConflict, Conflict, InvalidInput, NotFound
from shared.core.hashing import combined_sha256, is_sha256, sha256_chunks
from shared.core.storage import Storage, storage_errors
from shared.core.validators import TagMap
from shared.registry.datasets import get_dataset


class ModelFile(TypedDict):
    """One file of a model version, as declared by the SDK and checked against the staged upload."""

    path: str  # relative to the version's content_prefix
    size: int
    sha256: str


class DatasetReference(TypedDict):
    """Azure ML's `datasets=[(scenario, dataset), ...]`: a dataset the model was registered with."""

    scenario: str  # e.g. "training"
    dataset: str  # a registered dataset's id, 'name:version'


class ResourceConfiguration(TypedDict):
    """Azure ML's ResourceConfiguration (recorded, not used: the app's instances are what they are)."""

    cpu: float | int | None
    memory_in_gb: float | int | None
    gpu: float | int | None


class ModelMetadata(TypedDict):
    """What a registration says about the model besides its files; `update_model` changes some of it in place."""

    description: str | None
    tags: TagMap
    properties: TagMap  # immutable once set, as in Azure ML
    model_framework: str | None  # one of FRAMEWORKS, or any string given
    model_framework_version: str | None
    datasets: list[DatasetReference]
    sample_input_dataset: str | None  # a dataset id, 'name:version'
    sample_output_dataset: str | None
    resource_configuration: ResourceConfiguration | None
    run_id: str | None  # the run the model came from (Run.register_model)
    experiment_name: str | None


class ModelRecord(versioned.Versioned, ModelMetadata):
    """A model version (`layout.model_record`): its metadata and the content written once under
    `content_prefix` in the models container."""

    created_time: str  # ISO 8601, UTC
    content_prefix: str  # `layout.model_content_prefix(name, upload_id)`: the blobs of `files` are under it
    files: list[ModelFile]
    single_file: bool  # registered from one file, not a folder: get_model_path names the file
    sha256: str  # combined_sha256 of (path, sha256) of every file


class UploadClaim(TypedDict):
    """The claim of an upload by a registration (`layout.model_upload_claim`): its presence is the claim."""

    name: str


def list_versions(storage: Storage, name: str) -> list[int]:
    """Registered versions of model `name`, ascending."""
    return versioned.list_versions(storage, layout.model_versions_prefix(name))


def _parse_files(files: object) -> list[ModelFile]:
    if not isinstance(files, list) or not files:
        raise InvalidInput("'files' must be a non-empty list of {path, size, sha256}", field="files")
    parsed = []
    for item in files:
        if not isinstance(item, dict):
            raise InvalidInput("each entry of 'files' must be an object", field="files")
        path = validators.validate_relative_path(item.get("path"))
        size, digest = item.get("size"), item.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(f"file {path!r}: 'size' must be a non-negative integer", field="files")
        if not is_sha256(digest):
            raise InvalidInput(f"file {path!r}: 'sha256' must be 64 lower-case hex digits", field="files")
        parsed.append(ModelFile(path=path, size=size, sha256=digest))
    if len({item["path"] for item in parsed}) != len(parsed):
        raise InvalidInput("'files' lists a path twice", field="files")
    return parsed


def _verify_staged(storage: Storage, prefix: str, files: list[ModelFile]) -> None:
    """Every declared file is staged with the declared size and sha256, and nothing else is."""
    container = storage.container(layout.MODELS_CONTAINER)
    staged = {name[len(prefix) :] for name in storage.list_names(layout.MODELS_CONTAINER, prefix)}
    declared = {item["path"] for item in files}
    if staged != declared:
        missing, extra = sorted(declared - staged), sorted(staged - declared)
        raise InvalidInput(f"the upload does not match 'files': missing {missing}, unexpected {extra}", field="files")
    for item in files:
        with storage_errors(f"staged file {item['path']!r}"):
            stream = container.download_blob(prefix + item["path"])
            digest, size = sha256_chunks(stream.chunks())
        if size != item["size"] or digest != item["sha256"]:
            raise InvalidInput(
                f"staged file {item['path']!r} has size {size} and sha256 {digest}, "
                f"not the declared {item['size']} and {item['sha256']}",
                field="files",
            )


#: Azure ML's `Model.Framework` constants; other strings are kept as given (Azure ML accepts any).
FRAMEWORKS = ("Custom", "TensorFlow", "ScikitLearn", "Onnx", "TfKeras", "PyTorch", "Multi")


def _dataset_id(storage: Storage, value: object, field: str) -> str:
    """A registered dataset's id, 'name:version', checked to exist (NotFound names its versions)."""
    name, _, version = str(value).partition(":") if isinstance(value, str) else ("", "", "")
    if not version.isdigit():
        raise InvalidInput(f"'{field}' must name a registered dataset as 'name:version', not {value!r}", field=field)
    get_dataset(storage, name, int(version))
    return f"{name}:{int(version)}"


def _datasets(storage: Storage, request: dict[str, Any]) -> list[DatasetReference]:
    """Azure ML's `datasets=[(scenario, dataset), ...]`, as [{scenario, dataset id}]."""
    value = request.get("datasets") or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInput("'datasets' must be a list of {scenario, dataset}", field="datasets")
    found = []
    for item in value:
        scenario = item.get("scenario")
        if not isinstance(scenario, str) or not scenario:
            raise InvalidInput("each of 'datasets' needs a 'scenario' name (e.g. 'training')", field="datasets")
        found.append(DatasetReference(scenario=scenario, dataset=_dataset_id(storage, item.get("dataset"), "datasets")))
    return found


def _resource_configuration(request: dict[str, Any]) -> ResourceConfiguration | None:
    value = request.get("resource_configuration")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"cpu", "memory_in_gb", "gpu"}:
        raise InvalidInput(
            "'resource_configuration' must be {cpu, memory_in_gb, gpu} (ResourceConfiguration)",
            field="resource_configuration",
        )
    for key, number in value.items():
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float) or number < 0):
            raise InvalidInput(f"resource_configuration {key} must be a non-negative number", field=key)
    return ResourceConfiguration(cpu=value.get("cpu"), memory_in_gb=value.get("memory_in_gb"), gpu=value.get("gpu"))


def _metadata(storage: Storage, request: dict[str, Any]) -> ModelMetadata:
    """Everything a registration says about the model besides its files, checked before anything is written."""
    framework = validators.optional_text(request.get("model_framework"), "model_framework")
    framework_version = validators.optional_text(request.get("model_framework_version"), "model_framework_version")
    if framework is None and framework_version is not None:
        raise InvalidInput(
            "model_framework_version needs a model_framework, as in Azure ML", field="model_framework_version"
        )
    samples = {}
    for field in ("sample_input_dataset", "sample_output_dataset"):
        value = request.get(field)
        samples[field] = None if value is None else _dataset_id(storage, value, field)
    return ModelMetadata(
        description=validators.optional_text(request.get("description"), "description"),
        tags=validators.string_map(request.get("tags") or None, "tags"),
        properties=validators.string_map(request.get("properties") or None, "properties"),
        model_framework=framework,
        model_framework_version=framework_version,
        datasets=_datasets(storage, request),
        sample_input_dataset=samples["sample_input_dataset"],
        sample_output_dataset=samples["sample_output_dataset"],
        resource_configuration=_resource_configuration(request),
        run_id=validators.optional_text(request.get("run_id"), "run_id"),
        experiment_name=validators.optional_text(request.get("experiment_name"), "experiment_name"),
    )


def register_model(storage: Storage, name: str, request: dict[str, Any]) -> ModelRecord:
    """Verify a staged upload and record it as the next version of model `name`."""
    validators.validate_name("model", name)
    upload_id = validators.validate_name("upload", request.get("upload_id"))
    files = _parse_files(request.get("files"))
    single_file = request.get("single_file", False)
    if not isinstance(single_file, bool) or (single_file and len(files) != 1):
        raise InvalidInput("'single_file' must be a boolean, true only for exactly one file", field="single_file")
    metadata = _metadata(storage, request)
    prefix = layout.model_content_prefix(name, upload_id)
    _verify_staged(storage, prefix, files)
    try:
        storage.create_json(
            layout.REGISTRY_CONTAINER, layout.model_upload_claim(name, upload_id), UploadClaim(name=name)
        )
    except ConcurrencyConflict as exc:
        raise Conflict(f"upload {upload_id!r} of model {name!r} is already registered", field="upload_id") from exc
    record: ModelRecord = {
        "name": name,
        **metadata,
        "created_time": datetime.now(UTC).isoformat(),
        "content_prefix": prefix,
        "files": files,
        "single_file": single_file,
        "sha256": combined_sha256((item["path"], item["sha256"]) for item in files),
        "version": 0,  # create_next_version numbers it
    }
    versions = list_versions(storage, name)
    return versioned.create_next_version(
        storage, record, versions[-1] if versions else 0, lambda version: layout.model_record(name, version)
    )


def get_model(storage: Storage, name: str, version: int | None = None) -> ModelRecord:
    """The record of `name` at `version` (the latest when None); NotFound names the versions that exist."""
    prefix = layout.model_versions_prefix(name)
    record: ModelRecord = versioned.read_version(
        storage, "model", name, prefix, lambda v: layout.model_record(name, v), version
    )
    return record


class ModelChanges(TypedDict, total=False):
    """The metadata an update replaces (only what the request gives)."""

    description: str | None
    sample_input_dataset: str | None
    sample_output_dataset: str | None
    resource_configuration: ResourceConfiguration | None


#: What `update_model` changes, as Azure ML's Model.update / update_tags_properties / add_dataset_references do.
UPDATE_FIELDS = (
    "tags",
    "add_tags",
    "remove_tags",
    "add_properties",
    "description",
    "add_datasets",
    "sample_input_dataset",
    "sample_output_dataset",
    "resource_configuration",
)


def update_model(storage: Storage, name: str, version: int, request: dict[str, Any]) -> ModelRecord:
    """Change a version's metadata in place, as Azure ML's registry does (its content never changes): `tags`
    replaces the tags, `add_tags` / `remove_tags` change some, `add_properties` adds properties (which, as in Azure
    ML, cannot change once set), `add_datasets` adds [{scenario, dataset}], and `description`, the sample datasets
    and `resource_configuration` replace theirs. Applied with If-Match, so concurrent updates all land."""
    unknown = sorted(set(request) - set(UPDATE_FIELDS))
    if unknown:
        raise InvalidInput(f"a model update takes {list(UPDATE_FIELDS)}, not {unknown}", field=unknown[0])
    replace_tags = validators.string_map(request["tags"], "tags") if "tags" in request else None
    add_tags = validators.string_map(request.get("add_tags"), "add_tags")
    remove_tags = validators.key_list(request.get("remove_tags"), "remove_tags")
    add_properties = validators.string_map(request.get("add_properties"), "add_properties")
    added_datasets = _datasets(storage, {"datasets": request.get("add_datasets")})
    changes: ModelChanges = {}
    if "description" in request:
        changes["description"] = validators.optional_text(request.get("description"), "description")
    if request.get("sample_input_dataset") is not None:
        changes["sample_input_dataset"] = _dataset_id(storage, request["sample_input_dataset"], "sample_input_dataset")
    if request.get("sample_output_dataset") is not None:
        changes["sample_output_dataset"] = _dataset_id(
            storage, request["sample_output_dataset"], "sample_output_dataset"
        )
    if request.get("resource_configuration") is not None:
        changes["resource_configuration"] = _resource_configuration(request)
    get_model(storage, name, version)  # NotFound names the versions that exist

    def change(record: ModelRecord) -> ModelRecord:
        properties = dict(record.get("properties") or {})
        duplicates = sorted(key for key in add_properties if key in properties)
        if duplicates:
            raise InvalidInput(
                f"properties are immutable, as in Azure ML: {duplicates} cannot be added or changed",
                field="add_properties",
            )
        tags = dict(record.get("tags") or {}) if replace_tags is None else dict(replace_tags)
        tags.update(add_tags)
        for key in remove_tags:
            tags.pop(key, None)
        record.update(changes)
        record["tags"], record["properties"] = tags, {**properties, **add_properties}
        record["datasets"] = [*(record.get("datasets") or []), *added_datasets]
        return record

    updated: ModelRecord = storage.update_json(layout.REGISTRY_CONTAINER, layout.model_record(name, version), change)
    return updated


def _matches_pairs(values: TagMap, wanted: list[Any] | None, field: str) -> bool:
    """Azure ML's filter: each item is a key that must be present, or a [key, value] pair that must match."""
    for item in wanted or []:
        if isinstance(item, str):
            if item not in values:
                return False
        elif isinstance(item, list | tuple) and len(item) == 2:
            if values.get(item[0]) != item[1]:
                return False
        else:
            raise InvalidInput(f"each {field} filter must be a key or a [key, value] pair", field=field)
    return True


def list_models(
    storage: Storage,
    name: str | None = None,
    tags: list[Any] | None = None,
    latest: bool = False,
    properties: list[Any] | None = None,
    run_id: str | None = None,
    dataset_id: str | None = None,
    model_framework: str | None = None,
) -> list[ModelRecord]:
    """Records of every version (or only the latest of each model), newest first, filtered as Azure ML does: by
    tags, properties, run, a dataset the version was registered with ('name:version') and framework."""
    prefix = layout.model_versions_prefix(name) if name else layout.MODELS_PREFIX
    paths = [path for path in storage.list_names(layout.REGISTRY_CONTAINER, prefix) if path.endswith(".json")]
    if latest:
        paths = layout.latest_records(paths)
    records = []
    for path in paths:
        record: ModelRecord
        try:
            record, _ = storage.read_json(layout.REGISTRY_CONTAINER, path)
        except NotFound:
            continue  # deleted while we listed
        used = {item["dataset"] for item in record.get("datasets") or []}
        if (
            _matches_pairs(record.get("tags") or {}, tags, "tags")
            and _matches_pairs(record.get("properties") or {}, properties, "properties")
            and (run_id is None or record.get("run_id") == run_id)
            and (dataset_id is None or dataset_id in used)
            and (model_framework is None or record.get("model_framework") == model_framework)
        ):
            records.append(record)
    return sorted(records, key=lambda r: (r["name"], -r["version"]))


def delete_model(storage: Storage, name: str, version: int) -> None:
    """Remove a version: its record first (so it vanishes atomically), then its content."""
    record = get_model(storage, name, version)
    versioned.retire(storage, lambda v: layout.model_record(name, v), version)
    storage.delete_blob(layout.REGISTRY_CONTAINER, layout.model_record(name, version))
    for blob in storage.list_names(layout.MODELS_CONTAINER, record["content_prefix"]):
        storage.delete_blob(layout.MODELS_CONTAINER, blob)


def content_blob(record: ModelRecord, relative_path: str) -> str:
    """The blob name of one file of a model version."""
    return record["content_prefix"] + relative_path


#: The models deployed with the service whose init() or run() is running here, as {name: version}: inside a service,
#: `Model.get_model_path(name)` without a version means the deployed version, not the latest registered one.
_deployed: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "fninfer_deployed_models", default=None
)


@contextlib.contextmanager
def deployed_versions(versions: dict[str, int]) -> Iterator[None]:
    """Within the block, `deployed_version(name)` answers from `versions` (this block's own: a contextvar)."""
    token = _deployed.set(versions)
    try:
        yield
    finally:
        _deployed.reset(token)


def deployed_version(name: str) -> int | None:
    return (_deployed.get() or {}).get(name)
