"""`Model`: register, find, download and delete model versions; `Model.get_model_path` for entry scripts."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from fninfer._progress import Progress
from fninfer._workspace import Workspace
from shared import layout
from shared.errors import Conflict, InvalidInput
from shared.hashing import sha256_file
from shared.model_cache import cached_model_path, download_verified
from shared.models import get_model
from shared.settings import STORAGE_CONNECTION, get_setting
from shared.storage import Storage, app_storage, storage_errors

#: Uploads smaller than this finish too fast for a progress bar to help.
PROGRESS_THRESHOLD = 8 * 1024 * 1024


def _local_files(model_path: Path) -> tuple[list[tuple[str, Path]], bool]:
    if model_path.is_file():
        return [(model_path.name, model_path)], True
    if not model_path.is_dir():
        raise InvalidInput(f"model_path {str(model_path)!r} does not exist", field="model_path")
    files = sorted((p.relative_to(model_path).as_posix(), p) for p in model_path.rglob("*") if p.is_file())
    if not files:
        raise InvalidInput(f"model_path {str(model_path)!r} is an empty folder", field="model_path")
    return files, False


class Model:
    """Mirrors `azureml.core.Model`: `Model(ws, name, version=None)` is a registered version (the latest by default)."""

    def __init__(
        self, workspace: Workspace, name: str | None = None, id: str | None = None, version: int | None = None
    ) -> None:
        if id is not None:
            name, _, raw_version = id.partition(":")
            version = int(raw_version) if raw_version else None
        if not name:
            raise InvalidInput("Model needs a name (or an id 'name:version')", field="name")
        path = f"models/{name}" + (f"/{int(version)}" if version is not None else "")
        self._load(workspace, workspace.client.request("GET", path))

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
        self.tags: dict[str, str] = dict(record.get("tags") or {})
        self.properties: dict[str, str] = dict(record.get("properties") or {})
        self.created_time: str = record["created_time"]
        self.sha256: str = record["sha256"]

    def __repr__(self) -> str:
        return f"Model(workspace={self.workspace!r}, name={self.name!r}, id={self.id!r}, version={self.version})"

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
    ) -> Model:
        """Upload a file or folder straight to blob storage, then register it as the next version of `model_name`."""
        layout.validate_name("model", model_name)
        files, single_file = _local_files(Path(model_path))
        upload_id = uuid.uuid4().hex
        prefix = layout.model_content_prefix(model_name, upload_id)
        container = workspace.storage.container(layout.MODELS_CONTAINER)
        total = sum(path.stat().st_size for _, path in files)
        progress = Progress(f"Uploading {model_name}", total, enabled=total >= PROGRESS_THRESHOLD)
        manifest, done = [], 0
        for relative, path in files:
            digest, size = sha256_file(path)
            with path.open("rb") as handle, storage_errors(f"upload of {relative!r}"):
                # Blocks of 4 MiB straight to storage: the app never sees the bytes.
                container.upload_blob(
                    prefix + relative, handle, length=size, max_concurrency=4, progress_hook=progress.hook(done)
                )
            done += size
            manifest.append({"path": relative, "size": size, "sha256": digest})
        progress.update(total, force=True)
        record = workspace.client.request(
            "POST",
            f"models/{model_name}",
            json={
                "upload_id": upload_id,
                "files": manifest,
                "single_file": single_file,
                "description": description,
                "tags": tags or {},
                "properties": properties or {},
            },
        )
        return Model._from_record(workspace, record)

    @staticmethod
    def list(
        workspace: Workspace, name: str | None = None, tags: list[Any] | None = None, latest: bool = False
    ) -> list[Model]:
        """Registered versions, newest first; `tags` items are keys or [key, value] pairs, as in Azure ML."""
        params: dict[str, str] = {"latest": str(latest).lower()}
        if name:
            params["name"] = name
        if tags:
            params["tags"] = json.dumps(tags)
        records = workspace.client.request("GET", "models", params=params)
        return [Model._from_record(workspace, record) for record in records]

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False) -> str:
        """Download this version into `target_dir`, verified; returns the file (one-file model) or the folder."""
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
        self.workspace.client.request("DELETE", f"models/{self.name}/{self.version}")

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: list[Model],
        inference_config: Any,
        deployment_config: Any = None,
        deployment_target: Any = None,
        overwrite: bool = False,
    ) -> Any:
        """Deploy `models` as a real-time service; see `fninfer._webservice.deploy`."""
        from fninfer._webservice import deploy

        return deploy(workspace, name, models, inference_config, deployment_config, deployment_target, overwrite)

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Workspace | None = None) -> str:
        """The local path of a registered model, for entry scripts: the file of a one-file model, else its folder.

        Inside the app the registry is read from the app's own storage (AzureWebJobsStorage); elsewhere from the
        workspace config. The content is downloaded once into the model cache and verified against the sha256
        recorded at registration: a blob changed since is refused with IntegrityError.
        """
        storage: Storage
        if _workspace is not None:
            storage = _workspace.storage
        elif get_setting(STORAGE_CONNECTION) is not None:
            storage = app_storage()
        else:
            storage = Workspace.from_config().storage
        return str(cached_model_path(storage, get_model(storage, model_name, version)))
