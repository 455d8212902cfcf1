"""File datasets: `Dataset.File.from_files(path=(datastore, 'folder/*.csv'))`, registered and versioned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._datastore import Datastore
from shared import layout
from shared.datasets import relative_paths, resolve_files
from shared.errors import InvalidInput
from shared.storage import storage_errors

if TYPE_CHECKING:
    from fninfer._pipeline import PipelineParameter
    from fninfer._workspace import Workspace

PathSpec = tuple[Datastore, str]


class DatasetConsumptionConfig:
    """What `dataset.as_named_input(name)` returns: how a pipeline step receives the dataset."""

    def __init__(self, name: str, dataset: FileDataset | PipelineParameter, mode: str = "direct") -> None:
        self.name = name
        self.dataset = dataset

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, dataset={self.dataset!r})"


class FileDataset:
    """Mirrors `azureml.data.FileDataset`: a definition (datastore paths with globs), optionally registered."""

    def __init__(self, workspace: Workspace, paths: list[dict[str, str]], record: dict[str, Any] | None = None):
        self.workspace = workspace
        self._paths = paths
        record = record or {}
        self.name: str | None = record.get("name")
        self.version: int | None = record.get("version")
        self.description: str | None = record.get("description")
        self.tags: dict[str, str] = dict(record.get("tags") or {})

    @classmethod
    def _from_record(cls, workspace: Workspace, record: dict[str, Any]) -> FileDataset:
        return cls(workspace, record["paths"], record)

    @property
    def id(self) -> str | None:
        return f"{self.name}:{self.version}" if self.name else None

    def __repr__(self) -> str:
        return f"FileDataset(name={self.name!r}, version={self.version}, paths={self._paths})"

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
    ) -> FileDataset:
        layout.validate_name("dataset", name)  # names are URL segments
        body = {
            "paths": self._paths,
            "description": description,
            "tags": tags or {},
            "create_new_version": create_new_version,
        }
        return FileDataset._from_record(workspace, workspace.client.request("POST", f"datasets/{name}", json=body))

    def _files(self) -> list[dict[str, str]]:
        return resolve_files(self.workspace.storage, self._paths)

    def to_path(self) -> list[str]:
        """The matched files, relative to the dataset's root, each with a leading '/', as Azure ML lists them."""
        return relative_paths(self._paths, self._files())

    def download(self, target_path: str | os.PathLike[str] | None = None, overwrite: bool = False) -> list[str]:
        """Download the matched files under `target_path` (keeping their layout); returns the local paths."""
        target = Path(target_path or ".")
        storage = self.workspace.storage
        files = self._files()  # listed once, so the paths and the content describe the same files
        local_paths = []
        for item, relative in zip(files, relative_paths(self._paths, files), strict=True):
            destination = target / relative.lstrip("/")
            if destination.exists() and not overwrite:
                raise InvalidInput(f"{destination} already exists; pass overwrite=True", field="target_path")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with storage_errors(f"{item['datastore']}/{item['path']}"), destination.open("wb") as handle:
                storage.container(item["container"]).download_blob(item["path"]).readinto(handle)
            local_paths.append(str(destination))
        return local_paths

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self)


def _path_specs(path: PathSpec | list[PathSpec]) -> list[PathSpec]:
    specs = path if isinstance(path, list) else [path]
    for spec in specs:
        if not (
            isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Datastore) and isinstance(spec[1], str)
        ):
            raise InvalidInput("path must be (datastore, 'path/with/*.globs') or a list of such tuples", field="path")
    return specs


class _FileDatasetFactory:
    @staticmethod
    def from_files(path: PathSpec | list[PathSpec], validate: bool = True) -> FileDataset:
        specs = _path_specs(path)
        workspace = specs[0][0].workspace
        dataset = FileDataset(workspace, [{"datastore": ds.name, "path": p.strip("/")} for ds, p in specs])
        if validate and not dataset._files():
            raise InvalidInput(f"no files match {[p for _, p in specs]}", field="path")
        return dataset


class Dataset:
    """Mirrors `azureml.core.Dataset`."""

    File = _FileDatasetFactory

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> FileDataset:
        layout.validate_name("dataset", name)  # a '/' would otherwise read as a version segment of the URL
        path = f"datasets/{name}" if version == "latest" else f"datasets/{name}/{int(version)}"
        return FileDataset._from_record(workspace, workspace.client.request("GET", path))
