"""`Model`: register, find, download and delete model versions; `Model.get_model_path` for entry scripts."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from azure.storage.blob import BlobBlock, BlobSasPermissions, ContainerClient, generate_blob_sas

from fninfer._client import api_path, check_name
from fninfer._dataset import Dataset
from fninfer._exceptions import ModelNotFoundException, UserErrorException, invalid, webservice_error
from fninfer._progress import Progress
from fninfer._resource_configuration import ResourceConfiguration
from fninfer._run import Run
from fninfer._workspace import Workspace
from shared.core import layout, validators
from shared.core.errors import Conflict, FninferError, InvalidInput, NotFound
from shared.core.hashing import CHUNK_SIZE
from shared.core.settings import storage_connection
from shared.core.storage import Storage, app_storage, storage_errors
from shared.registry.model_cache import cached_model_path, download_verified, preplaced_model_path
from shared.registry.models import content_blob, deployed_version, get_model

#: Uploads smaller than this finish too fast for a progress bar to help.
PROGRESS_THRESHOLD = 8 * 1024 * 1024
#: Blocks staged at once per file; also bounds the memory an upload holds (this many blocks of CHUNK_SIZE, twice).
UPLOAD_CONCURRENCY = 4
#: The app re-reads and hashes every staged byte before answering a registration: allow for large models.
REGISTER_TIMEOUT = httpx.Timeout(1800.0, connect=10.0)  # host.json functionTimeout
#: How long the links `Model.get_sas_urls()` gives can read the files.
SAS_LIFETIME = timedelta(hours=1)
#: A lazily read attribute not read yet (None is a value it can have).
_UNREAD = object()


def _upload_file(
    container: ContainerClient, blob_name: str, path: Path, progress: Progress, offset: int
) -> tuple[str, int]:
    """Upload `path` as `blob_name` in blocks of CHUNK_SIZE, reading it once: each block feeds the sha256 as it is
    read, then is staged in parallel; the block list is committed last. Returns the hex sha256 and the size read."""
    blob = container.get_blob_client(blob_name)
    digest = hashlib.sha256()
    block_ids: list[str] = []
    in_flight: dict[Future[Any], int] = {}
    staged = offset

    def settle(futures: set[Future[Any]]) -> None:
        nonlocal staged
        for future in futures:
            future.result()  # a failed block fails the upload
            staged += in_flight.pop(future)
        progress.update(staged)

    with path.open("rb") as handle, ThreadPoolExecutor(UPLOAD_CONCURRENCY) as pool:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            block_id = base64.b64encode(f"{len(block_ids):010d}".encode()).decode()
            block_ids.append(block_id)
            in_flight[pool.submit(blob.stage_block, block_id, chunk, length=len(chunk))] = len(chunk)
            if len(in_flight) >= 2 * UPLOAD_CONCURRENCY:
                settle(wait(in_flight, return_when=FIRST_COMPLETED).done)
        settle(set(in_flight))
    blob.commit_block_list([BlobBlock(block_id=block_id) for block_id in block_ids])
    return digest.hexdigest(), staged - offset


def _delete_staged(container: ContainerClient, prefix: str) -> None:
    """Best-effort removal of an upload the app refused: its content would otherwise linger unreferenced."""
    with contextlib.suppress(Exception):
        for blob in container.list_blobs(name_starts_with=prefix):
            container.delete_blob(blob.name)


def _local_files(model_path: Path, child_paths: list[str] | None = None) -> tuple[list[tuple[str, Path]], bool]:
    if model_path.is_file():
        if child_paths:
            raise UserErrorException("child_paths apply to a model_path that is a folder", field="child_paths")
        return [(model_path.name, model_path)], True
    if not model_path.is_dir():
        raise InvalidInput(f"model_path {str(model_path)!r} does not exist", field="model_path")
    files = sorted((p.relative_to(model_path).as_posix(), p) for p in model_path.rglob("*") if p.is_file())
    if child_paths:  # Azure ML uploads only these files or folders of the model folder
        wanted = []
        for child in child_paths:
            relative = Path(child).as_posix().strip("/")
            if not (model_path / relative).exists():
                raise UserErrorException(f"child path {child!r} is not in {str(model_path)!r}", field="child_paths")
            wanted.append(relative)
        files = [(rel, p) for rel, p in files if any(rel == w or rel.startswith(w + "/") for w in wanted)]
    if not files:
        raise InvalidInput(f"model_path {str(model_path)!r} is an empty folder", field="model_path")
    return files, False


def _dataset_id(dataset: Any, what: str) -> str:
    """A registered dataset's id ('name:version'), as the registry links models to datasets."""
    dataset_id = getattr(dataset, "id", None)
    if not isinstance(dataset_id, str) or ":" not in dataset_id:
        raise UserErrorException(
            f"{what} must be a registered dataset (dataset.register(...) first); got {dataset!r}", field=what
        )
    return dataset_id


def version_number(version: int | str | None) -> int | None:
    """A model version as Azure ML takes it: 3 or "3" (None: the latest)."""
    if version is None:
        return None
    if isinstance(version, str) and version.strip().isascii() and version.strip().isdigit():
        return int(version.strip())
    if isinstance(version, bool) or not isinstance(version, int):
        raise invalid(f"a model version is a whole number such as 3 or '3', not {version!r}", field="version")
    return version


def _version(version: int | str | None) -> tuple[int, ...]:
    number = version_number(version)
    return () if number is None else (number,)


def _sas_urls(storage: Storage, blobs: dict[str, str], lifetime: timedelta = SAS_LIFETIME) -> dict[str, str]:
    """{name: read-only SAS URL} for {name: blob in the models container}: signed with the account key when the
    storage has one (Azurite, a connection string), else with a user delegation key (an identity)."""
    client = storage.blobs
    start, expiry = datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC) + lifetime
    signing: dict[str, Any] = {}
    account_key = getattr(client.credential, "account_key", None)
    with storage_errors("a key to sign model URLs"):
        if account_key is not None:
            signing["account_key"] = account_key
        else:
            signing["user_delegation_key"] = client.get_user_delegation_key(start, expiry)
    urls = {}
    for name, blob in blobs.items():
        sas = generate_blob_sas(
            client.account_name,
            layout.MODELS_CONTAINER,
            blob,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
            **signing,
        )
        urls[name] = f"{client.url.rstrip('/')}/{layout.MODELS_CONTAINER}/{quote(blob, safe='/~')}?{sas}"
    return urls


def _print_replacements(current: dict[str, str | None], added: dict[str, str | None]) -> None:
    for key, value in added.items():
        if key in current:
            print(f"Replacing tag {key} -> {current[key]} with {key} -> {value}")


class Model:
    """Mirrors `azureml.core.Model`: `Model(ws, name, version=None)` is a registered version (the latest by
    default, or the latest matching `tags` / `properties` / `run_id` / `model_framework`). `version` may be given as
    a number or a string, as in Azure ML."""

    class Framework:
        """Azure ML's framework constants (`Model.Framework.SCIKITLEARN`); no-code deployment takes ScikitLearn."""

        CUSTOM = "Custom"
        TENSORFLOW = "TensorFlow"
        SCIKITLEARN = "ScikitLearn"
        ONNX = "Onnx"
        TFKERAS = "TfKeras"
        PYTORCH = "PyTorch"
        MULTI = "Multi"

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: list[Any] | None = None,
        properties: list[Any] | None = None,
        version: int | str | None = None,
        run_id: str | None = None,
        model_framework: str | None = None,
        expand: bool = True,
        **kwargs: Any,
    ) -> None:
        if id is not None:
            name, _, raw_version = id.partition(":")
            version = int(raw_version) if raw_version.isdigit() else None
        if not name:
            raise invalid("Model needs a name (or an id 'name:version')", field="name")
        check_name("model", name)  # a '/' would otherwise read as a version segment of the URL
        if version is None and (tags or properties or run_id or model_framework):
            found = Model.list(workspace, name, tags, properties, run_id, model_framework=model_framework)
            if not found:
                raise webservice_error(NotFound(f"no version of model {name!r} matches"), "ModelNotFound")
            self._load(workspace, found[0]._record)
            return
        try:
            self._load(workspace, workspace.client.request("GET", api_path("models", name, *_version(version))))
        except FninferError as exc:
            raise webservice_error(exc, "ModelNotFound" if isinstance(exc, NotFound) else None) from exc

    @classmethod
    def _from_record(cls, workspace: Workspace, record: dict[str, Any]) -> Model:
        model = cls.__new__(cls)
        model._load(workspace, record)
        return model

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record
        self.name: str = record["name"]
        self.version: int = record["version"]
        self.id = f"{self.name}:{self.version}"
        self.description: str | None = record.get("description")
        self.tags: dict[str, str | None] = dict(record.get("tags") or {})
        self.properties: dict[str, str | None] = dict(record.get("properties") or {})
        self.created_time: str = record["created_time"]
        # Who registered a version is not recorded: the app sees an admin key or a token, not a user.
        self.created_by: dict[str, str] | None = record.get("created_by")
        self.sha256: str = record["sha256"]
        self.mime_type: str = record.get("mime_type") or "application/octet-stream"
        self.unpack = False  # the files are kept as registered: nothing is unpacked
        self.model_framework: str | None = record.get("model_framework")
        self.model_framework_version: str | None = record.get("model_framework_version")
        self.run_id: str | None = record.get("run_id")
        self.experiment_name: str | None = record.get("experiment_name")
        # Azure ML links models derived by conversion (ONNX, packaging); fninfer derives none.
        self.parent_id: str | None = record.get("parent_id")
        self.derived_model_ids: list[str] | None = record.get("derived_model_ids")
        self._dataset_ids: dict[str, list[str]] = {}
        for item in record.get("datasets") or []:
            self._dataset_ids.setdefault(item["scenario"], []).append(item["dataset"])
        self._datasets: dict[str, list[Any]] | None = None
        self._samples: dict[str, Any] = {}
        configuration = record.get("resource_configuration")
        self.resource_configuration = ResourceConfiguration(**configuration) if configuration else None
        self._run: Any = _UNREAD

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name!r}, id={self.id!r}, version={self.version}, "
            f"tags={self.tags}, properties={self.properties})"
        )

    def _dataset(self, dataset_id: str | None) -> Any:
        """The registered dataset `dataset_id`, as Azure ML expands it; None when it is gone (as there)."""
        if dataset_id is None:
            return None
        try:
            return Dataset.get_by_id(self.workspace, dataset_id)
        except FninferError:
            return None

    @property
    def datasets(self) -> dict[str, list[Any]]:
        """The datasets registered with this version, by scenario ('training', ...), as Dataset objects (read on
        first use)."""
        if self._datasets is None:
            found: dict[str, list[Any]] = {}
            for scenario, ids in self._dataset_ids.items():
                loaded = [dataset for dataset in map(self._dataset, ids) if dataset is not None]
                if loaded:
                    found[scenario] = loaded
            self._datasets = found
        return self._datasets

    @datasets.setter
    def datasets(self, value: dict[str, list[Any]]) -> None:
        self._datasets = value

    def _sample(self, field: str) -> Any:
        if field not in self._samples:
            self._samples[field] = self._dataset(self._record.get(field))
        return self._samples[field]

    @property
    def sample_input_dataset(self) -> Any:
        """The sample input dataset registered with this version (a Dataset), or None."""
        return self._sample("sample_input_dataset")

    @sample_input_dataset.setter
    def sample_input_dataset(self, value: Any) -> None:
        self._samples["sample_input_dataset"] = value

    @property
    def sample_output_dataset(self) -> Any:
        """The sample output dataset registered with this version (a Dataset), or None."""
        return self._sample("sample_output_dataset")

    @sample_output_dataset.setter
    def sample_output_dataset(self, value: Any) -> None:
        self._samples["sample_output_dataset"] = value

    @property
    def run(self) -> Run | None:
        """The run that produced this version (registered with `run_id`), read on first use; None without one or
        when it cannot be read, as in Azure ML."""
        if self._run is _UNREAD:
            self._run = None
            if self.run_id:
                with contextlib.suppress(FninferError):
                    self._run = Run.get(self.workspace, self.run_id)
        return self._run

    @property
    def url(self) -> str:
        """Where the version's content is: its folder in the models container (Azure ML gives its asset's
        `aml://` address). `get_sas_urls()` gives links that read each file."""
        base = self.workspace.storage.blobs.url.rstrip("/")
        return f"{base}/{layout.MODELS_CONTAINER}/{self._record['content_prefix']}"

    def serialize(self) -> dict[str, Any]:
        """The version as Azure ML's `Model.serialize()` writes it (camelCase keys), plus its `files` and `sha256`."""
        return {
            "createdTime": self.created_time,
            "createdBy": self.created_by,
            "description": self.description,
            "id": self.id,
            "mimeType": self.mime_type,
            "name": self.name,
            "framework": self.model_framework,
            "frameworkVersion": self.model_framework_version,
            "tags": self.tags,
            "properties": self.properties,
            "unpack": self.unpack,
            "url": self.url,
            "version": self.version,
            "experimentName": self.experiment_name,
            "runId": self.run_id,
            "runDetails": str(self._run) if self._run is not _UNREAD else None,
            "datasets": [
                {"name": scenario, "id": dataset_id}
                for scenario, ids in self._dataset_ids.items()
                for dataset_id in ids
            ],
            "resourceConfiguration": self.resource_configuration.serialize() if self.resource_configuration else None,
            "sampleInputDatasetId": self._record.get("sample_input_dataset"),
            "sampleOutputDatasetId": self._record.get("sample_output_dataset"),
            "files": [dict(item) for item in self._record["files"]],
            "sha256": self.sha256,
        }

    @staticmethod
    def deserialize(workspace: Workspace, model_payload: dict[str, Any]) -> Model:
        """The model a `serialize()` payload describes, read from `workspace`'s registry: as in Azure ML, it must
        be the workspace the model is registered in (else ModelNotFound)."""
        model_id = model_payload.get("id") or f"{model_payload.get('name')}:{model_payload.get('version')}"
        return Model(workspace, id=str(model_id))

    def _patch(self, change: dict[str, Any]) -> None:
        """Send a metadata change to the registry and take the version as it is after it."""
        try:
            record = self.workspace.client.request("PATCH", api_path("models", self.name, self.version), json=change)
        except FninferError as exc:
            raise webservice_error(exc, "ModelNotFound" if isinstance(exc, NotFound) else None) from exc
        datasets, samples = self._datasets, self._samples
        self._load(self.workspace, record)
        self._datasets, self._samples = datasets, samples

    def update(
        self,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: ResourceConfiguration | None = None,
    ) -> None:
        """Replace the given fields of this version in place (the tags all at once), as Azure ML's does."""
        change: dict[str, Any] = {}
        if tags:
            change["tags"] = validators.string_map(tags, "tags")
        if description:
            change["description"] = description
        if sample_input_dataset:
            change["sample_input_dataset"] = _dataset_id(sample_input_dataset, "sample_input_dataset")
        if sample_output_dataset:
            change["sample_output_dataset"] = _dataset_id(sample_output_dataset, "sample_output_dataset")
        if resource_configuration:
            change["resource_configuration"] = resource_configuration.serialize()
        if not change:
            return
        self._patch(change)
        if sample_input_dataset:
            self._samples["sample_input_dataset"] = sample_input_dataset
        if sample_output_dataset:
            self._samples["sample_output_dataset"] = sample_output_dataset

    def update_tags_properties(
        self,
        add_tags: dict[str, Any] | None = None,
        remove_tags: list[str] | str | None = None,
        add_properties: dict[str, Any] | None = None,
    ) -> None:
        """Add and remove tags and add properties in one change. As in Azure ML, properties cannot be changed once
        set (WebserviceException naming them), and a tag that is not there is reported, not an error."""
        added_tags = validators.string_map(add_tags, "add_tags") if add_tags is not None else None
        added_properties = (
            validators.string_map(add_properties, "add_properties") if add_properties is not None else None
        )
        duplicates = sorted(key for key in added_properties or {} if key in self.properties)
        if duplicates:
            raise invalid(
                "Error, properties are immutable, the following keys cannot be added/modified: " + ",".join(duplicates),
                field="add_properties",
            )
        change: dict[str, Any] = {}
        if added_tags is not None:
            _print_replacements(self.tags, added_tags)
            change["add_tags"] = added_tags
        if remove_tags is not None:
            removed = validators.key_list(remove_tags, "remove_tags")
            for key in removed:
                if key not in self.tags and key not in (added_tags or {}):
                    print(f"Tag with key {key} not found.")
            change["remove_tags"] = removed
        if added_properties is not None:
            change["add_properties"] = added_properties
        if change:
            self._patch(change)

    def add_tags(self, tags: dict[str, Any]) -> None:
        """Add (or replace) tags; values that are not strings are kept as strings, as in Azure ML."""
        self.update_tags_properties(add_tags=tags)
        print("Model tag add operation complete.")

    def remove_tags(self, tags: list[str] | str) -> None:
        self.update_tags_properties(remove_tags=tags)
        print("Model tag remove operation complete.")

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties (which cannot change once set, as in Azure ML)."""
        self.update_tags_properties(add_properties=properties)
        print("Model properties add operation complete.")

    def add_dataset_references(self, datasets: list[tuple[str, Any]]) -> None:
        """Link registered datasets to this version, as (scenario, dataset) pairs."""
        pairs = [
            {"scenario": str(scenario), "dataset": _dataset_id(dataset, "datasets")} for scenario, dataset in datasets
        ]
        self._patch({"add_datasets": pairs})
        if self._datasets is not None:
            for scenario, dataset in datasets:
                self._datasets.setdefault(str(scenario), []).append(dataset)

    def get_sas_urls(self) -> dict[str, str]:
        """{file path in the model: a read-only URL of it, valid for an hour}, as Azure ML's gives."""
        blobs = {item["path"]: content_blob(self._record, item["path"]) for item in self._record["files"]}
        return _sas_urls(self.workspace.storage, blobs)

    @staticmethod
    def print_configuration(
        models: list[Model], inference_config: Any, deployment_config: Any, deployment_target: Any
    ) -> None:
        """Print what a deployment would use, as Azure ML's does."""
        if models:
            print(f"Models: {[model.id for model in models]}")
        if deployment_target is not None:
            print(f"Compute target: {deployment_target.name}")
        if inference_config is not None:
            folder = inference_config.source_directory or ""
            print(f"Entry script: {os.path.join(folder, inference_config.entry_script)}")
            if inference_config.base_image:
                print(f"Base image: {inference_config.base_image}")
            environment = inference_config.environment
            if environment is not None:
                if len(environment.environment_variables) > 1:
                    print(f"Environment variables: {environment.environment_variables}")
                dependencies = environment.python.conda_dependencies
                if dependencies is not None and dependencies.conda_packages:
                    print(f"Conda dependencies: {dependencies.conda_packages}")
                if dependencies is not None and dependencies.pip_packages:
                    print(f"Pip dependencies: {dependencies.pip_packages}")
        if deployment_config is not None:
            deployment_config.print_deploy_configuration()

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        datasets: list[tuple[str, Any]] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        child_paths: list[str] | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: ResourceConfiguration | None = None,
    ) -> Model:
        """Upload a file or folder straight to blob storage, then register it as the next version of `model_name`.
        Every keyword Azure ML takes is kept on the version's record (`datasets` as (scenario, dataset) pairs)."""
        check_name("model", model_name)
        if model_framework is None and model_framework_version is not None:
            raise invalid("Model framework version cannot be provided without a valid framework")
        metadata = {
            "description": description,
            "tags": validators.string_map(tags, "tags"),
            "properties": validators.string_map(properties, "properties"),
            "model_framework": model_framework,
            "model_framework_version": model_framework_version,
            "datasets": [
                {"scenario": str(scenario), "dataset": _dataset_id(dataset, "datasets")}
                for scenario, dataset in (datasets or [])
            ],
            "sample_input_dataset": _dataset_id(sample_input_dataset, "sample_input_dataset")
            if sample_input_dataset is not None
            else None,
            "sample_output_dataset": _dataset_id(sample_output_dataset, "sample_output_dataset")
            if sample_output_dataset is not None
            else None,
            "resource_configuration": resource_configuration.serialize() if resource_configuration else None,
        }
        files, single_file = _local_files(Path(model_path), child_paths)
        upload_id = uuid.uuid4().hex
        prefix = layout.model_content_prefix(model_name, upload_id)
        container = workspace.storage.container(layout.MODELS_CONTAINER)
        total = sum(path.stat().st_size for _, path in files)
        progress = Progress(f"Uploading {model_name}", total, enabled=total >= PROGRESS_THRESHOLD)
        manifest, done = [], 0
        try:
            for relative, path in files:
                with storage_errors(f"upload of {relative!r}"):
                    digest, size = _upload_file(container, prefix + relative, path, progress, done)
                done += size
                manifest.append({"path": relative, "size": size, "sha256": digest})
            progress.update(total, force=True)
            record = workspace.client.request(
                "POST",
                api_path("models", model_name),
                timeout=REGISTER_TIMEOUT,
                json={"upload_id": upload_id, "files": manifest, "single_file": single_file, **metadata},
            )
        except FninferError as exc:
            # Only a refusal proves no version uses the upload; after a lost answer the app may have registered it.
            if 400 <= exc.status < 500:
                _delete_staged(container, prefix)
            raise
        return Model._from_record(workspace, record)

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: list[Any] | None = None,
        properties: list[Any] | None = None,
        run_id: str | None = None,
        latest: bool = False,
        dataset_id: str | None = None,
        expand: bool = True,
        page_count: int = 255,
        model_framework: str | None = None,
    ) -> list[Model]:
        """Registered versions, newest first; `tags` / `properties` items are keys or [key, value] pairs, as in
        Azure ML; `dataset_id` ('name:version') finds the versions registered with that dataset. Every version
        is read in one request, so `page_count` only has Azure ML's bounds (20 to 255)."""
        if page_count and not 20 <= page_count <= 255:
            raise UserErrorException(f"Expected page_count value is between 20 and 255. Provided: {page_count}")
        if tags is not None and not isinstance(tags, list):
            raise UserErrorException(
                f'Expected tags must be list type. Ex. ["key", ["key2", "key2 value"]]: provided {type(tags)}'
            )
        params: dict[str, str] = {"latest": str(latest).lower()}
        if name:
            params["name"] = check_name("model", name)
        for field, value in (("tags", tags), ("properties", properties)):
            if value:
                params[field] = json.dumps(value)
        for field, text in (("run_id", run_id), ("dataset_id", dataset_id), ("model_framework", model_framework)):
            if text:
                params[field] = text
        records = workspace.client.request("GET", "models", params=params)
        return [Model._from_record(workspace, record) for record in records]

    def download(
        self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False, exists_ok: bool | None = None
    ) -> str:
        """Download this version into `target_dir`, verified; returns the file (one-file model) or the folder.
        `exists_ok` is Azure ML's older spelling of `exist_ok`."""
        if exists_ok is not None:
            if exist_ok:
                raise invalid("Both exists_ok and exist_ok are set. Please use exist_ok only.")
            exist_ok = exists_ok
        target = Path(target_dir)
        for item in self._record["files"]:
            if (target / item["path"]).exists() and not exist_ok:
                raise Conflict(f"{target / item['path']} already exists; pass exist_ok=True to overwrite")
        target.mkdir(parents=True, exist_ok=True)
        staging = target / f".fninfer-download-{uuid.uuid4().hex}"
        try:
            download_verified(self.workspace.storage, self._record, staging)
            for item in self._record["files"]:
                destination = target / item["path"]
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / item["path"], destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(target / self._record["files"][0]["path"]) if self._record["single_file"] else str(target)

    def delete(self) -> None:
        self.workspace.client.request("DELETE", api_path("models", self.name, self.version))

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: list[Model],
        inference_config: Any = None,
        deployment_config: Any = None,
        deployment_target: Any = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Any:
        """Deploy `models` as a real-time service; see `fninfer._webservice.deploy`. Without an inference_config,
        a ScikitLearn model deploys with no code, as in Azure ML (see `fninfer._no_code`)."""
        from fninfer._webservice import deploy

        return deploy(
            workspace, name, models, inference_config, deployment_config, deployment_target, overwrite, show_output
        )

    @staticmethod
    def profile(
        workspace: Workspace,
        profile_name: str,
        models: list[Model],
        inference_config: Any,
        input_dataset: Any,
        cpu: float | None = None,
        memory_in_gb: float | None = None,
        description: str | None = None,
    ) -> Any:
        """Measure the models' latency and throughput on the app with the dataset's rows; see `fninfer._profile`."""
        from fninfer._profile import start_profile

        return start_profile(
            workspace, profile_name, models, inference_config, input_dataset, cpu, memory_in_gb, description
        )

    @staticmethod
    def package(
        workspace: Workspace,
        models: list[Model],
        inference_config: Any = None,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
        image_label: str | None = None,
    ) -> Any:
        """Build the Functions zip (`fninfer package`) with these models baked in; see `fninfer._package`."""
        from fninfer._package import start_package

        return start_package(workspace, models, inference_config, generate_dockerfile, image_name, image_label)

    @staticmethod
    def get_model_path(model_name: str, version: int | str | None = None, _workspace: Workspace | None = None) -> str:
        """The local path of a registered model, for entry scripts: the file of a one-file model, else its folder.

        A model placed beside the code under `AZUREML_MODEL_DIR` (a packaged app) is used as it is. Otherwise the
        registry is read from the app's own storage (AzureWebJobsStorage) inside the app, or from the workspace
        config elsewhere; the content is downloaded once into the model cache and verified against the sha256
        recorded at registration: a blob changed since is refused with IntegrityError.
        """
        version = version_number(version)
        if version is None and _workspace is None:
            version = deployed_version(model_name)  # inside a service: the version deployed with it
        if _workspace is None:
            placed = preplaced_model_path(model_name, version)
            if placed is not None:
                return str(placed)
        storage = _workspace.storage if _workspace is not None else _registry_storage()
        try:
            record = get_model(storage, model_name, version)
        except NotFound as exc:
            raise ModelNotFoundException(exc.message, **exc.details) from exc
        return str(cached_model_path(storage, record))


def _registry_storage() -> Storage:
    """The app's storage when running as (or beside) the app, else the one the workspace config names."""
    try:
        storage_connection()
    except InvalidInput:  # no AzureWebJobsStorage setting in any form: a client, not the app
        return Workspace.from_config().storage
    return app_storage()
