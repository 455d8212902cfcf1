"""Datasets: `Dataset.File.from_files(...)` and `Dataset.Tabular.from_delimited_files(...)` (also Parquet and JSON
lines), registered and versioned; how a pipeline step consumes them (`as_named_input`, `as_mount`, `as_download`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._datastore import DataPath, Datastore
from shared import layout, tabular, tabular_files
from shared.datasets import dataset_root, definition_of, relative_paths, resolve_files
from shared.datastores import by_name, container_client
from shared.errors import InvalidInput
from shared.lazy_modules import lazy
from shared.storage import Storage, storage_errors

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fninfer._pipeline import PipelineParameter
    from fninfer._workspace import Workspace
else:  # imported when a dataset is read, not by `import fninfer.core`
    np, pd = lazy("numpy"), lazy("pandas")

PathSpec = tuple[Datastore, str] | DataPath


class DatasetConsumptionConfig:
    """Mirrors `azureml.data.dataset_consumption_config.DatasetConsumptionConfig`: how a step receives a dataset.

    On Functions every mode gives the entry script local files: "direct" (a ParallelRunStep's mini-batch: its files
    downloaded for run()), "mount" and "download" (the files under `path_on_compute`, keeping their folders, as a
    mount or a download would show them). Nothing is mounted with FUSE: files are downloaded as they are needed."""

    def __init__(
        self,
        name: str,
        dataset: AbstractDataset | PipelineParameter,
        mode: str = "direct",
        path_on_compute: str | None = None,
    ) -> None:
        self.name = layout.validate_name("input", name)
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def _input(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "path_on_compute": self.path_on_compute}

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r}, dataset={self.dataset!r})"


class _AppWorkspace:
    """Where a dataset lives when an entry script gets one inside the app (a mini-batch's context): the app's own
    storage. Registering from there is not possible: there is no client."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @property
    def client(self) -> Any:
        raise InvalidInput("this dataset was handed to an entry script; register datasets from the SDK")


class AbstractDataset:
    """What file and tabular datasets share: a definition (datastore paths with globs), optionally registered."""

    _kind = "file"

    def __init__(self, workspace: Workspace | _AppWorkspace, definition: dict[str, Any], record: dict[str, Any]):
        self.workspace = workspace
        self._definition = definition
        self.name: str | None = record.get("name")
        self.version: int | None = record.get("version")
        self.description: str | None = record.get("description")
        self.tags: dict[str, str] = dict(record.get("tags") or {})

    @classmethod
    def _from_record(cls, workspace: Workspace | _AppWorkspace, record: dict[str, Any]) -> AbstractDataset:
        definition = definition_of(record)
        kind = TabularDataset if definition["kind"] == "tabular" else FileDataset
        return kind(workspace, definition, record)

    @property
    def _paths(self) -> list[dict[str, str]]:
        return list(self._definition["paths"])

    @property
    def id(self) -> str | None:
        return f"{self.name}:{self.version}" if self.name else None

    @property
    def partition_keys(self) -> list[str]:
        """The columns `partition_format` finds in the files' paths."""
        partition_format = self._definition.get("partition_format")
        return tabular.partition_pattern(partition_format)[1] if partition_format else []

    def _files(self) -> list[dict[str, Any]]:
        return resolve_files(self.workspace.storage, self._paths)

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
    ) -> AbstractDataset:
        layout.validate_name("dataset", name)  # names are URL segments
        body = {
            **self._definition,
            "description": description,
            "tags": tags or {},
            "create_new_version": create_new_version,
        }
        record = workspace.client.request("POST", f"datasets/{name}", json=body)
        return AbstractDataset._from_record(workspace, record)

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self)

    def _step_input(self) -> dict[str, Any]:
        """What a pipeline step records of this dataset."""
        reference = {"name": self.name, "version": self.version} if self.name else None
        return {"dataset": reference, **self._definition}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version}, paths={self._paths})"


class FileDataset(AbstractDataset):
    """Mirrors `azureml.data.FileDataset`."""

    def to_path(self) -> list[str]:
        """The matched files, relative to the dataset's root, each with a leading '/', as Azure ML lists them."""
        return relative_paths(self._paths, self._files())

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> list[str]:
        """Download the matched files under `target_path` (keeping their layout); returns the local paths."""
        target = Path(target_path or ".")
        storage = self.workspace.storage
        files = self._files()  # listed once, so the paths and the content describe the same files
        stores = by_name(storage)
        local_paths = []
        for item, relative in zip(files, relative_paths(self._paths, files), strict=True):
            destination = target / relative.lstrip("/")
            if destination.exists() and not overwrite:
                raise InvalidInput(f"{destination} already exists; pass overwrite=True", field="target_path")
            destination.parent.mkdir(parents=True, exist_ok=True)
            container = container_client(storage, stores[item["datastore"]])
            with storage_errors(f"{item['datastore']}/{item['path']}"), destination.open("wb") as handle:
                container.download_blob(item["path"]).readinto(handle)
            local_paths.append(str(destination))
        return local_paths

    def mount(self, mount_point: str | os.PathLike[str] | None = None, **_: Any) -> MountContext:
        """A context manager giving the files under a local folder. On Functions there is no FUSE: entering it
        downloads the files (into `mount_point`, or a new temporary folder), leaving it removes what it created."""
        return MountContext(self, mount_point)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name or "input", self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name or "input", self, "download", path_on_compute)


class MountContext:
    """Mirrors the object `FileDataset.mount()` returns: `start()`/`stop()` or `with ... as context`."""

    def __init__(self, dataset: FileDataset, mount_point: str | os.PathLike[str] | None) -> None:
        self.dataset = dataset
        self._created = mount_point is None
        self.mount_point = str(mount_point or Path(tempfile.gettempdir()) / f"fninfer-mount-{uuid.uuid4().hex}")

    def start(self) -> None:
        self.dataset.download(self.mount_point, overwrite=True)

    def stop(self) -> None:
        if self._created:
            shutil.rmtree(self.mount_point, ignore_errors=True)

    def __enter__(self) -> MountContext:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class TabularDataset(AbstractDataset):
    """Mirrors `azureml.data.TabularDataset`: delimited, Parquet or JSON-lines files read as one table. The
    transformations (`take`, `keep_columns`, ...) return new, unregistered datasets, as in Azure ML."""

    _kind = "tabular"

    @property
    def _spec(self) -> tabular.Spec:
        return dict(self._definition["tabular"])

    def _with(self, **transform: Any) -> TabularDataset:
        spec = self._spec
        spec["transforms"] = [*spec["transforms"], transform]
        return TabularDataset(self.workspace, {**self._definition, "tabular": spec}, {})

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> pd.DataFrame:
        """The whole dataset as a DataFrame. A value that does not convert to its column's type is null, or with
        on_error='fail' an error naming the file and the row; a file that does not parse names its line."""
        if on_error not in ("null", "fail"):
            raise InvalidInput("on_error must be 'null' or 'fail'", field="on_error")
        storage, spec = self.workspace.storage, self._spec
        files = self._files()
        shape = tabular_files.shape(storage, spec, files)
        root = dataset_root(self._paths, files)
        frame = tabular_files.read_frame(
            storage,
            spec,
            tabular_files.whole_files(files),
            shape,
            self._definition.get("partition_format"),
            root,
            on_error,
        )
        return _row_transforms(frame, spec)

    def take(self, count: int) -> TabularDataset:
        return self._with(op="take", count=int(count))

    def skip(self, count: int) -> TabularDataset:
        return self._with(op="skip", count=int(count))

    def keep_columns(self, columns: str | list[str], validate: bool = False) -> TabularDataset:
        return self._with(op="keep_columns", columns=_names(columns), validate=bool(validate))

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        return self._with(op="drop_columns", columns=_names(columns))

    def random_split(self, percentage: float, seed: int | None = None) -> tuple[TabularDataset, TabularDataset]:
        """Two datasets: about `percentage` of the rows, chosen at random (reproducibly: `seed`), and the rest."""
        if not 0 < percentage < 1:
            raise InvalidInput("percentage must be between 0 and 1", field="percentage")
        seed = int(seed if seed is not None else np.random.default_rng().integers(2**31))
        first = self._with(op="random_split", percentage=float(percentage), seed=seed, part=0)
        return first, self._with(op="random_split", percentage=float(percentage), seed=seed, part=1)

    def partition_by(
        self,
        partition_keys: list[str],
        target: DataPath | tuple[Datastore, str],
        name: str | None = None,
        show_progress: bool = True,
        partition_as_file_dataset: bool = False,
    ) -> AbstractDataset:
        """Write the rows as Parquet files, one folder per value of `partition_keys` under `target`, and return (and
        with `name`, register) the partitioned dataset over them, as Azure ML does."""
        keys = _names(partition_keys)
        datastore, folder = _path_specs(target)[0]
        folder = layout.validate_datastore_path(folder, "target", allow_empty=True)
        frame = self.to_pandas_dataframe()
        missing = [key for key in keys if key not in frame.columns]
        if missing:
            raise InvalidInput(f"partition_keys {missing} are not columns; columns: {list(frame.columns)}")
        base = layout.partitioned_upload_folder(folder, uuid.uuid4().hex)
        container = container_client(datastore.workspace.storage, by_name(datastore.workspace.storage)[datastore.name])
        for values, group in frame.groupby(keys, sort=False, dropna=False):
            path = layout.partition_file(base, [str(v) for v in (values if isinstance(values, tuple) else (values,))])
            with storage_errors(f"{datastore.name}/{path}"):
                container.upload_blob(path, group.to_parquet(index=False), overwrite=True)
        partition_format = "/".join(f"{{{key}}}" for key in keys) + "/*.parquet"
        if partition_as_file_dataset:
            dataset: AbstractDataset = Dataset.File.from_files(
                (datastore, f"{base}/**"), partition_format=partition_format
            )
        else:
            dataset = Dataset.Tabular.from_parquet_files((datastore, f"{base}/**"), partition_format=partition_format)
        if name is not None:
            return dataset.register(datastore.workspace, name, create_new_version=True)  # type: ignore[arg-type]
        return dataset


def _names(columns: str | list[str]) -> list[str]:
    names = [columns] if isinstance(columns, str) else list(columns)
    if not names or not all(isinstance(c, str) for c in names):
        raise InvalidInput("columns must be a column name or a list of them", field="columns")
    return names


def _row_transforms(frame: pd.DataFrame, spec: tabular.Spec) -> pd.DataFrame:
    for transform in spec["transforms"]:
        if transform["op"] == "take":
            frame = frame.head(transform["count"])
        elif transform["op"] == "skip":
            frame = frame.iloc[transform["count"] :]
        elif transform["op"] == "random_split":
            chosen = np.random.default_rng(transform["seed"]).random(len(frame)) < transform["percentage"]
            frame = frame[chosen if transform["part"] == 0 else ~chosen]
    return frame.reset_index(drop=True)


def _path_specs(path: PathSpec | list[PathSpec]) -> list[tuple[Datastore, str]]:
    specs = path if isinstance(path, list) else [path]
    found = []
    for spec in specs:
        if isinstance(spec, DataPath):
            spec = (spec.datastore, spec.path_on_datastore)
        if not (
            isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Datastore) and isinstance(spec[1], str)
        ):
            raise InvalidInput(
                "path must be (datastore, 'path/with/*.globs'), datastore.path('...'), or a list of them; fninfer "
                "reads datasets from registered datastores, not from URLs",
                field="path",
            )
        found.append((spec[0], layout.validate_datastore_path(spec[1])))
    if not found:
        raise InvalidInput("path names no files", field="path")
    return found


def _definition(path: PathSpec | list[PathSpec], kind: str, partition_format: str | None, **spec: Any) -> Any:
    specs = _path_specs(path)
    if partition_format is not None:
        tabular.partition_pattern(partition_format)  # InvalidInput names the problem
    definition: dict[str, Any] = {
        "kind": kind,
        "paths": [{"datastore": ds.name, "path": p} for ds, p in specs],
        "partition_format": partition_format,
    }
    if kind == "tabular":
        definition["tabular"] = tabular.parse_spec(spec)
    return specs[0][0].workspace, definition


class _FileDatasetFactory:
    @staticmethod
    def from_files(
        path: PathSpec | list[PathSpec],
        validate: bool = True,
        partition_format: str | None = None,
        is_file: bool = False,
    ) -> FileDataset:
        workspace, definition = _definition(path, "file", partition_format)
        dataset = FileDataset(workspace, definition, {})
        if validate and not dataset._files():
            raise InvalidInput(f"no files match {[p['path'] for p in definition['paths']]}", field="path")
        return dataset


def _tabular(workspace: Workspace, definition: dict[str, Any], validate: bool) -> TabularDataset:
    """A tabular dataset whose column types are fixed now, from its first file, when its files are there."""
    spec = definition["tabular"]
    dataset = TabularDataset(workspace, definition, {})
    files = dataset._files()
    if validate and not files:
        raise InvalidInput(f"no files match {[p['path'] for p in definition['paths']]}", field="path")
    if not files:
        return dataset
    shape = tabular_files.shape(workspace.storage, spec, files)
    if spec["column_types"] is None:
        spec["column_types"] = shape["column_types"]
    if validate:  # the first rows that do not parse are named now, as in Azure ML
        first = files[0]
        sample = {**first, "start": 0, "end": min(int(first["size"]), tabular_files.SAMPLE_BYTES), "first_file": True}
        tabular_files.read_piece(workspace.storage, spec, sample, shape)
    return dataset


def _types(set_column_types: dict[str, Any] | None) -> dict[str, Any]:
    return {name: getattr(kind, "_type", kind) for name, kind in (set_column_types or {}).items()}


class _TabularDatasetFactory:
    @staticmethod
    def from_delimited_files(
        path: PathSpec | list[PathSpec],
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: dict[str, Any] | None = None,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        workspace, definition = _definition(
            path,
            "tabular",
            partition_format,
            format="delimited",
            include_path=include_path,
            infer_column_types=infer_column_types,
            set_column_types=_types(set_column_types),
            separator=separator,
            header=header,
            support_multi_line=support_multi_line,
            empty_as_string=empty_as_string,
            encoding=encoding,
        )
        return _tabular(workspace, definition, validate)

    @staticmethod
    def from_parquet_files(
        path: PathSpec | list[PathSpec],
        validate: bool = True,
        include_path: bool = False,
        set_column_types: dict[str, Any] | None = None,
        partition_format: str | None = None,
    ) -> TabularDataset:
        workspace, definition = _definition(
            path,
            "tabular",
            partition_format,
            format="parquet",
            include_path=include_path,
            set_column_types=_types(set_column_types),
            column_types={},
        )
        return _tabular(workspace, definition, validate)

    @staticmethod
    def from_json_lines_files(
        path: PathSpec | list[PathSpec],
        validate: bool = True,
        include_path: bool = False,
        set_column_types: dict[str, Any] | None = None,
        partition_format: str | None = None,
        invalid_lines: str = "error",
        encoding: str = "utf8",
    ) -> TabularDataset:
        if invalid_lines not in ("error", "drop"):
            raise InvalidInput("invalid_lines must be 'error' or 'drop'", field="invalid_lines")
        workspace, definition = _definition(
            path,
            "tabular",
            partition_format,
            format="json_lines",
            include_path=include_path,
            set_column_types=_types(set_column_types),
            column_types={},
            invalid_lines=invalid_lines,
            encoding=encoding,
        )
        return _tabular(workspace, definition, validate)


class DataType:
    """Mirrors `azureml.data.dataset_factory.DataType`: a column type for `set_column_types`."""

    def __init__(self, kind: str, formats: list[str] | None = None) -> None:
        self._type = {"type": kind, "formats": list(formats or [])}

    @staticmethod
    def to_string() -> DataType:
        return DataType("string")

    @staticmethod
    def to_long() -> DataType:
        return DataType("int")

    @staticmethod
    def to_float(decimal_mark: str = ".") -> DataType:
        if decimal_mark != ".":
            raise InvalidInput("fninfer reads numbers with '.' as the decimal mark", field="decimal_mark")
        return DataType("float")

    @staticmethod
    def to_bool() -> DataType:
        return DataType("bool")

    @staticmethod
    def to_datetime(formats: str | list[str] | None = None) -> DataType:
        return DataType("datetime", [formats] if isinstance(formats, str) else formats)

    def __repr__(self) -> str:
        return f"DataType({self._type['type']!r})"


class Dataset:
    """Mirrors `azureml.core.Dataset`."""

    File = _FileDatasetFactory
    Tabular = _TabularDatasetFactory

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
        layout.validate_name("dataset", name)  # a '/' would otherwise read as a version segment of the URL
        path = f"datasets/{name}" if version == "latest" else f"datasets/{name}/{int(version)}"
        return AbstractDataset._from_record(workspace, workspace.client.request("GET", path))

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> AbstractDataset:
        """A registered dataset by its id, `name:version` (what `dataset.id` gives)."""
        name, _, version = str(id).partition(":")
        if not version.isdigit():
            raise InvalidInput(f"dataset id {id!r} is not 'name:version'", field="id")
        return Dataset.get_by_name(workspace, name, int(version))
