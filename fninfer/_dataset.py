"""Datasets: `Dataset.File.from_files(...)` and `Dataset.Tabular.from_delimited_files(...)` (also Parquet and JSON
lines), registered and versioned; how a pipeline step consumes them (`as_named_input`, `as_mount`, `as_download`)."""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._dataset_expression import ColumnExpression, expression_tree
from fninfer._datastore import DataPath, DataReference, Datastore
from fninfer._exceptions import DatasetTimestampMissingError, UserErrorException
from shared.core import layout, validators
from shared.core.errors import InvalidInput
from shared.core.lazy_modules import lazy
from shared.core.storage import Storage, storage_errors
from shared.registry import tabular, tabular_files
from shared.registry.datasets import (
    dataset_root,
    definition_of,
    literal_prefix,
    partitioned,
    relative_paths,
    resolve_files,
)
from shared.registry.datastores import by_name, container_client

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fninfer._pipeline import PipelineParameter
    from fninfer._workspace import Workspace
else:  # imported when a dataset is read, not by `import fninfer.core`
    np, pd = lazy("numpy"), lazy("pandas")

PathSpec = tuple[Datastore, str] | DataPath | DataReference


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
        self.name = validators.validate_name("input", name)
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute
        self._reference_mode: str | None = None  # set for a DataReference's input (see fninfer/_step_data.py)

    @property
    def arg_val(self) -> str:
        """How Azure ML refers to the input in a step's arguments (replaced by its local path when the step runs)."""
        return f"DatasetConsumptionConfig:{self.name}"

    def as_hdfs(self) -> DatasetConsumptionConfig:
        raise _no_hdfs()

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def _input(self) -> dict[str, Any]:
        found = {"name": self.name, "mode": self.mode, "path_on_compute": self.path_on_compute}
        if self._reference_mode is not None:
            found["data_reference_mode"] = self._reference_mode
        return found

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
    """What file and tabular datasets share (`azureml.data.abstract_dataset.AbstractDataset`): a definition
    (datastore paths with globs), optionally registered."""

    _kind = "file"

    def __init__(self, workspace: Workspace | _AppWorkspace, definition: dict[str, Any], record: dict[str, Any]):
        self.workspace = workspace
        self._definition = definition
        self._record = dict(record)

    @classmethod
    def _from_record(cls, workspace: Workspace | _AppWorkspace, record: dict[str, Any]) -> AbstractDataset:
        definition = definition_of(record)
        kind = TabularDataset if definition["kind"] == "tabular" else FileDataset
        return kind(workspace, definition, record)

    @property
    def name(self) -> str | None:
        """The registration's name (None for a dataset that is not registered)."""
        return self._record.get("name")

    @property
    def version(self) -> int | None:
        return self._record.get("version")

    @property
    def description(self) -> str | None:
        return self._record.get("description")

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.get("tags") or {})

    @property
    def _paths(self) -> list[dict[str, Any]]:
        return list(self._definition["paths"])

    @property
    def id(self) -> str | None:
        return f"{self.name}:{self.version}" if self.name else None

    @property
    def partition_keys(self) -> list[str]:
        """The columns `partition_format` finds in the files' paths."""
        partition_format = self._definition.get("partition_format")
        return tabular.partition_pattern(partition_format)[1] if partition_format else []

    @property
    def data_changed_time(self) -> datetime | None:
        """When the dataset's files last changed: the latest last-modified time among them (None: no files)."""
        times = [blob.last_modified for blob in self._blobs()]
        return max(times) if times else None

    def __getitem__(self, key: str) -> ColumnExpression:
        """A column, to build a filter expression: `dataset.filter(dataset['age'] > 30)`."""
        if not isinstance(key, str):
            raise TypeError(f"a dataset's columns are indexed by name, not {key!r}")
        return ColumnExpression({"column": key})

    __iter__ = None  # indexing builds expressions; it does not make a dataset a sequence

    def _files(self) -> list[dict[str, Any]]:
        return resolve_files(self.workspace.storage, self._paths)

    def _blobs(self) -> list[Any]:
        """The files with their properties (size, times, ...), as the storage lists them, in the files' order."""
        files = self._files()
        wanted = {(item["datastore"], item["path"]) for item in files}
        stores, found = by_name(self.workspace.storage), {}
        for entry in self._paths:
            container = container_client(self.workspace.storage, stores[entry["datastore"]])
            prefix = literal_prefix(entry["path"])
            with storage_errors(f"{entry['datastore']}/{prefix}*"):
                for blob in container.list_blobs(name_starts_with=prefix or None):
                    if (entry["datastore"], blob.name) in wanted:
                        found[(entry["datastore"], blob.name)] = blob
        return [
            found[(item["datastore"], item["path"])] for item in files if (item["datastore"], item["path"]) in found
        ]

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
    ) -> AbstractDataset:
        validators.validate_name("dataset", name)  # names are URL segments
        body = {
            **self._definition,
            "description": description,
            "tags": tags or {},
            "create_new_version": create_new_version,
        }
        record = workspace.client.request("POST", f"datasets/{name}", json=body)
        return AbstractDataset._from_record(workspace, record)

    def _registered(self, what: str) -> Workspace:
        if not self.name or isinstance(self.workspace, _AppWorkspace):
            raise UserErrorException(f"To {what} this dataset it must be registered.")
        return self.workspace

    def _patch(self, **changes: Any) -> AbstractDataset:
        workspace = self._registered("update")
        record = workspace.client.request("PATCH", f"datasets/{self.name}/{self.version}", json=changes)
        self._record = record  # as Azure ML updates the object's registration too
        return AbstractDataset._from_record(workspace, record)

    def update(self, description: str | None = None, tags: dict[str, str] | None = None) -> AbstractDataset:
        """Change this registered version's description and tags in place (None keeps them), as Azure ML does."""
        self._registered("update")
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        if tags is not None:
            changes["tags"] = dict(tags)
        return self._patch(**changes)

    def add_tags(self, tags: dict[str, str] | None = None) -> AbstractDataset:
        """Add tags to this registered version; a key it already has with another value is refused."""
        self._registered("add tags to")
        tags = dict(tags or {})
        clashes = [key for key in tags if key in self.tags and self.tags[key] != tags[key]]
        if clashes:
            raise UserErrorException(
                f"Dataset already contains different values for tags with the following keys {clashes}"
            )
        return self._patch(tags={**self.tags, **tags})

    def remove_tags(self, tags: list[str] | None = None) -> AbstractDataset:
        """Remove these tag keys from this registered version."""
        self._registered("remove tags from")
        return self._patch(tags={key: value for key, value in self.tags.items() if key not in set(tags or [])})

    def unregister_all_versions(self) -> None:
        """Remove every version of this dataset's registration (its files stay); nothing for an unregistered one."""
        if not self.name or isinstance(self.workspace, _AppWorkspace):
            return
        self.workspace.client.request("DELETE", f"datasets/{self.name}")
        self._record = {}

    def get_partition_key_values(self, partition_keys: list[str] | None = None) -> list[dict[str, Any]]:
        """The distinct values of the partition keys (all of them by default) among the dataset's files, in the
        order the files are listed: [{'key': value, ...}, ...]."""
        partition_format = self._definition.get("partition_format")
        if not partition_format:
            raise UserErrorException("get_partition_key_values needs a partitioned dataset (partition_format)")
        keys = list(partition_keys or self.partition_keys)
        unknown = [key for key in keys if key not in self.partition_keys]
        if unknown:
            raise UserErrorException(f"{unknown} are not partition keys of the dataset: {self.partition_keys}")
        return [group["values"] for group in partitioned(self._files(), partition_format, keys)]

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self)

    def _step_input(self) -> dict[str, Any]:
        """What a pipeline step records of this dataset."""
        reference = {"name": self.name, "version": self.version} if self.name else None
        return {"dataset": reference, **self._definition}

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
        return Dataset.get_by_name(workspace, name, version)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> AbstractDataset:
        return Dataset.get_by_id(workspace, id)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        return Dataset.get_all(workspace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version}, paths={self._paths})"


class FileDataset(AbstractDataset):
    """Mirrors `azureml.data.FileDataset`. Its subsets (`take`, `skip`, `random_split`, `take_sample`, `filter`)
    are the files chosen now, among those the dataset's patterns match (Azure ML chooses them when the data is
    read: files added later are not in a fninfer subset)."""

    def to_path(self) -> list[str]:
        """The matched files, relative to the dataset's root, each with a leading '/', as Azure ML lists them."""
        return relative_paths(self._paths, self._files())

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> list[str]:
        """Download the matched files under `target_path` (keeping their layout; without one, a new temporary
        folder, as in Azure ML); returns the local paths."""
        target = Path(target_path) if target_path is not None else Path(tempfile.mkdtemp(prefix="fninfer-dataset-"))
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

    def as_hdfs(self) -> DatasetConsumptionConfig:
        raise _no_hdfs()

    def as_cache(self, datacache_store: Any) -> Any:
        raise _no_datacache("as_cache")

    def hydrate(self, datacache_store: Any, replica_count: int | None = None) -> Any:
        raise _no_datacache("hydrate")

    def file_metadata(self, col: str) -> ColumnExpression:
        """A file's metadata for `filter`: Size, LastModifiedTime, CreationTime, Extension or CanSeek."""
        if col not in FILE_METADATA:
            raise UserErrorException(f"file metadata columns are {list(FILE_METADATA)}, not {col!r}")
        return ColumnExpression({"metadata": col})

    def _choose(self, chosen: list[dict[str, Any]]) -> FileDataset:
        """A new, unregistered dataset of these files (among the ones this one matches)."""
        names = {(item["datastore"], item["path"]) for item in chosen}
        paths = []
        for entry in self._paths:
            entry = {"datastore": entry["datastore"], "path": entry["path"]}
            entry["only"] = sorted(path for datastore, path in names if datastore == entry["datastore"])
            paths.append(entry)
        return FileDataset(self.workspace, {**self._definition, "paths": paths}, {})

    def take(self, count: int) -> FileDataset:
        """The first `count` files."""
        return self._choose(self._files()[: int(count)])

    def skip(self, count: int) -> FileDataset:
        """All files but the first `count`."""
        return self._choose(self._files()[int(count) :])

    def take_sample(self, probability: float, seed: int | None = None) -> FileDataset:
        """Each file with `probability`, at random (reproducibly: `seed`)."""
        files = self._files()
        draws = np.random.default_rng(_seed(seed)).random(len(files))
        return self._choose([item for item, draw in zip(files, draws, strict=True) if draw < probability])

    def random_split(self, percentage: float, seed: int | None = None) -> tuple[FileDataset, FileDataset]:
        """About `percentage` of the files, chosen at random (reproducibly: `seed`), and the rest."""
        _check_percentage(percentage)
        files = self._files()
        chosen = np.random.default_rng(_seed(seed)).random(len(files)) < percentage
        first = [item for item, pick in zip(files, chosen, strict=True) if pick]
        return self._choose(first), self._choose([item for item, pick in zip(files, chosen, strict=True) if not pick])

    def filter(self, expression: ColumnExpression) -> FileDataset:
        """The files whose metadata (`file_metadata(...)`) or partition columns match `expression`."""
        tree = expression_tree(expression)
        blobs = self._blobs()
        frame = pd.DataFrame(
            {
                "Size": [blob.size for blob in blobs],
                "LastModifiedTime": [pd.Timestamp(blob.last_modified) for blob in blobs],
                "CreationTime": [pd.Timestamp(blob.creation_time or blob.last_modified) for blob in blobs],
                "Extension": [posixpath.splitext(blob.name)[1].lstrip(".") for blob in blobs],
                "CanSeek": [True for _ in blobs],
            }
        )
        partition_format = self._definition.get("partition_format")
        for key in self.partition_keys:
            frame[key] = [(tabular.partition_values(partition_format, blob.name) or {}).get(key) for blob in blobs]
        keep = tabular.transform_frame(frame, {"op": "filter", "expression": tree}).index
        names = {blobs[position].name for position in keep}
        return self._choose([item for item in self._files() if item["path"] in names])


#: The metadata `FileDataset.file_metadata` gives, as Azure ML names it.
FILE_METADATA = ("Size", "LastModifiedTime", "CreationTime", "Extension", "CanSeek")


def _seed(seed: int | None) -> int:
    return int(seed if seed is not None else np.random.default_rng().integers(2**31))


def _check_percentage(percentage: float) -> None:
    if not 0 < percentage < 1:
        raise InvalidInput("percentage must be between 0 and 1", field="percentage")


def _no_hdfs() -> UserErrorException:
    return UserErrorException(
        "as_hdfs is for Azure Synapse Spark runs, which fninfer does not have: a step gets local files "
        "(as_mount / as_download) or, for a TabularDataset, its rows"
    )


def _no_datacache(method: str) -> UserErrorException:
    return UserErrorException(
        f"FileDataset.{method} needs an Azure ML datacache store (disks of a compute cluster); fninfer has no "
        "compute cluster: a step downloads the files it needs (as_mount / as_download)"
    )


def _no_profile(method: str) -> UserErrorException:
    return UserErrorException(
        f"TabularDataset.{method}: dataset profiles are computed by an Azure ML profiling run, which fninfer does "
        "not have; use to_pandas_dataframe().describe() for the same statistics"
    )


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
    transformations (`take`, `keep_columns`, `filter`, time filters, ...) return new, unregistered datasets, read
    when the data is read, as in Azure ML."""

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
            transformed=False,
        )
        return tabular.transform(frame, spec)

    def take(self, count: int) -> TabularDataset:
        return self._with(op="take", count=int(count))

    def skip(self, count: int) -> TabularDataset:
        return self._with(op="skip", count=int(count))

    def take_sample(self, probability: float, seed: int | None = None) -> TabularDataset:
        """Each row with `probability`, at random (reproducibly: `seed`)."""
        if not 0 <= probability <= 1:
            raise InvalidInput("probability must be between 0 and 1", field="probability")
        return self._with(op="take_sample", probability=float(probability), seed=_seed(seed))

    def keep_columns(self, columns: str | list[str], validate: bool = False) -> TabularDataset:
        kept = self._with(op="keep_columns", columns=_names(columns), validate=bool(validate))
        timestamp, partition_timestamp = self.timestamp_columns
        if timestamp is not None and timestamp not in _names(columns):
            return kept.with_timestamp_columns(None)
        if partition_timestamp is not None and partition_timestamp not in _names(columns):
            return kept.with_timestamp_columns(timestamp)
        return kept

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        dropped = self._with(op="drop_columns", columns=_names(columns))
        timestamp, partition_timestamp = self.timestamp_columns
        if timestamp is not None and timestamp in _names(columns):
            return dropped.with_timestamp_columns(None)
        if partition_timestamp is not None and partition_timestamp in _names(columns):
            return dropped.with_timestamp_columns(timestamp)
        return dropped

    def random_split(self, percentage: float, seed: int | None = None) -> tuple[TabularDataset, TabularDataset]:
        """Two datasets: about `percentage` of the rows, chosen at random (reproducibly: `seed`), and the rest."""
        _check_percentage(percentage)
        seed = _seed(seed)
        first = self._with(op="random_split", percentage=float(percentage), seed=seed, part=0)
        return first, self._with(op="random_split", percentage=float(percentage), seed=seed, part=1)

    def filter(self, expression: ColumnExpression) -> TabularDataset:
        """The rows that match `expression` (`dataset['col'] > 5`, `.starts_with('a')`, combined with & | ~)."""
        return self._with(op="filter", expression=expression_tree(expression))

    # -- time series ---------------------------------------------------------------------------------------------

    @property
    def timestamp_columns(self) -> tuple[str | None, str | None]:
        """(timestamp, partition_timestamp), as `with_timestamp_columns` set them."""
        timestamp, partition_timestamp = self._spec.get("timestamp_columns") or (None, None)
        return timestamp, partition_timestamp

    def with_timestamp_columns(
        self, timestamp: str | None = None, partition_timestamp: str | None = None, validate: bool = False, **_: Any
    ) -> TabularDataset:
        """The same dataset with its timestamp columns set (None clears them), which the time filters use."""
        if not timestamp and partition_timestamp:
            raise UserErrorException("partition_timestamp can be assigned only if timestamp is assigned.")
        if timestamp and timestamp == partition_timestamp:
            raise UserErrorException("partition_timestamp cannot be the same as timestamp.")
        if validate:
            columns = self.take(1).to_pandas_dataframe()
            for column in filter(None, (timestamp, partition_timestamp)):
                if column not in columns or not pd.api.types.is_datetime64_any_dtype(columns[column]):
                    raise UserErrorException(f"timestamp column {column!r} is not a datetime column of the dataset")
        spec = {**self._spec, "timestamp_columns": [timestamp or None, partition_timestamp or None]}
        return TabularDataset(self.workspace, {**self._definition, "tabular": spec}, {})

    def _time_filter(
        self, method: str, lower: Any = None, upper: Any = None, include_boundary: bool = True, validate: bool = True
    ) -> TabularDataset:
        timestamp, partition_timestamp = self.timestamp_columns
        if timestamp is None:
            raise DatasetTimestampMissingError(
                f"Cannot perform time-series filter `{method}` on dataset without timestamp columns defined.\n"
                "Please use `with_timestamp_columns` to enable time-series capabilities"
            )
        if validate:
            self.with_timestamp_columns(timestamp, partition_timestamp, validate=True)
        expression: ColumnExpression | None = None
        for column in filter(None, (partition_timestamp, timestamp)):
            test = ~self[column].is_null()
            if lower is not None:
                test = test & (self[column] >= _second(lower) if include_boundary else self[column] > _second(lower))
            if upper is not None:
                bound = _second(upper, rounded=True)
                test = test & (self[column] <= bound if include_boundary else self[column] < bound)
            expression = test if expression is None else expression & test
        assert expression is not None
        return self.filter(expression)

    def time_before(self, end_time: datetime, include_boundary: bool = True, validate: bool = True) -> TabularDataset:
        return self._time_filter("time_before", upper=end_time, include_boundary=include_boundary, validate=validate)

    def time_after(self, start_time: datetime, include_boundary: bool = True, validate: bool = True) -> TabularDataset:
        return self._time_filter("time_after", lower=start_time, include_boundary=include_boundary, validate=validate)

    def time_between(
        self, start_time: datetime, end_time: datetime, include_boundary: bool = True, validate: bool = True
    ) -> TabularDataset:
        return self._time_filter(
            "time_between", start_time, end_time, include_boundary=include_boundary, validate=validate
        )

    def time_recent(
        self, time_delta: timedelta, include_boundary: bool = True, validate: bool = True
    ) -> TabularDataset:
        """The rows of the last `time_delta` (from now, as the call sees it, as in Azure ML)."""
        start = datetime.now() - time_delta
        return self._time_filter("time_recent", lower=start, include_boundary=include_boundary, validate=validate)

    # -- other shapes of the same rows -----------------------------------------------------------------------------

    def _written(self, write: Any, extension: str) -> FileDataset:
        """The rows written now as one file on the dataset's (first) datastore, as a FileDataset."""
        if isinstance(self.workspace, _AppWorkspace):
            raise UserErrorException("convert datasets from the SDK, not inside an entry script")
        datastore = Datastore(self.workspace, self._paths[0]["datastore"])
        folder = layout.converted_dataset_folder(uuid.uuid4().hex)
        name = f"{folder}/part-00000.{extension}"
        with storage_errors(f"{datastore.name}/{name}"):
            datastore._container().upload_blob(name, write(self.to_pandas_dataframe()), overwrite=True)
        return FileDataset(
            self.workspace,
            {"kind": "file", "paths": [{"datastore": datastore.name, "path": folder}], "partition_format": None},
            {},
        )

    def to_csv_files(self, separator: str = ",") -> FileDataset:
        """A FileDataset of the rows as CSV (written now, on the dataset's datastore; Azure ML writes them when the
        files are first read)."""
        return self._written(lambda frame: frame.to_csv(index=False, sep=separator).encode(), "csv")

    def to_parquet_files(self) -> FileDataset:
        """A FileDataset of the rows as Parquet (written now, on the dataset's datastore)."""
        return self._written(lambda frame: frame.to_parquet(index=False), "parquet")

    def to_dask_dataframe(
        self,
        sample_size: int = 10000,
        dtypes: Any = None,
        on_error: str = "null",
        out_of_range_datetime: str = "null",
    ) -> Any:
        """A dask DataFrame of the rows (needs dask, as in Azure ML: pip install 'dask[dataframe]')."""
        try:
            import dask.dataframe as dd
        except ImportError as exc:
            raise UserErrorException("to_dask_dataframe needs dask: pip install 'dask[dataframe]'") from exc
        frame = self.to_pandas_dataframe(on_error, out_of_range_datetime)
        return dd.from_pandas(frame, chunksize=max(1, sample_size))

    def to_spark_dataframe(self) -> Any:
        """A Spark DataFrame of the rows (needs pyspark and a Spark session, as in Azure ML)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise UserErrorException("to_spark_dataframe needs pyspark and a Spark session") from exc
        return SparkSession.builder.getOrCreate().createDataFrame(self.to_pandas_dataframe())

    def download(
        self, stream_column: str, target_path: str | None = None, overwrite: bool = False, ignore_not_found: bool = True
    ) -> list[str]:
        raise _no_stream_column("download")

    def mount(self, stream_column: str, mount_point: str | None = None) -> Any:
        raise _no_stream_column("mount")

    def get_profile(self, workspace: Workspace | None = None) -> Any:
        raise _no_profile("get_profile")

    def get_profile_runs(self, workspace: Workspace | None = None) -> Any:
        raise _no_profile("get_profile_runs")

    def submit_profile_run(self, compute_target: Any, experiment: Any, cache_datastore_name: str | None = None) -> Any:
        raise _no_profile("submit_profile_run")

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
        if len(set(keys)) != len(keys):
            raise UserErrorException("partition_keys cannot have duplicates")
        datastore, folder = _path_specs(target)[0]
        folder = validators.validate_datastore_path(folder, "target", allow_empty=True)
        frame = self.to_pandas_dataframe()
        missing = [key for key in keys if key not in frame.columns]
        if missing:
            raise UserErrorException(f"{missing} are invalid partition keys; columns: {list(frame.columns)}")
        dates = [key for key in keys if pd.api.types.is_datetime64_any_dtype(frame[key])]
        # As Azure ML writes them: the keys live in the folders only (read back last, after the file's columns),
        # a datetime key as yyyyMMddHHmmss; the other keys keep their types.
        key_types = {
            key: DataType._of(frame[key]) for key in keys if key not in dates and DataType._of(frame[key]) is not None
        }
        base = layout.partitioned_upload_folder(folder, uuid.uuid4().hex)
        container = container_client(datastore.workspace.storage, by_name(datastore.workspace.storage)[datastore.name])
        for values, group in frame.groupby(keys, sort=False, dropna=False):
            row = dict(zip(keys, values if isinstance(values, tuple) else (values,), strict=True))
            folders = [row[key].strftime("%Y%m%d%H%M%S") if key in dates else str(row[key]) for key in keys]
            path = layout.partition_file(base, folders)
            with storage_errors(f"{datastore.name}/{path}"):
                container.upload_blob(path, group.drop(columns=keys).to_parquet(index=False), overwrite=True)
        partition_format = (
            "/".join(f"{{{key}:yyyyMMddHHmmss}}" if key in dates else f"{{{key}}}" for key in keys) + "/*.parquet"
        )
        if partition_as_file_dataset:
            dataset: AbstractDataset = Dataset.File.from_files(
                (datastore, f"{base}/**"), partition_format=partition_format
            )
        else:
            dataset = Dataset.Tabular.from_parquet_files(
                (datastore, f"{base}/**"), partition_format=partition_format, set_column_types=key_types
            )
        if name is not None:
            return dataset.register(datastore.workspace, name, create_new_version=True)  # type: ignore[arg-type]
        return dataset


def _second(moment: Any, rounded: bool = False) -> pd.Timestamp:
    """A time filter's bound to the second, as Azure ML's (an upper bound rounded to the nearest second)."""
    stamp = pd.Timestamp(moment)
    if rounded and stamp.microsecond > 500_000:
        stamp += pd.Timedelta(seconds=1)
    return stamp.replace(microsecond=0, nanosecond=0)


def _no_stream_column(method: str) -> UserErrorException:
    return UserErrorException(
        f"TabularDataset.{method}(stream_column) reads a column of file streams (DataType.to_stream), which fninfer's "
        "tabular datasets do not have: keep the files in a FileDataset (Dataset.File.from_files) and download that"
    )


def _names(columns: str | list[str]) -> list[str]:
    names = [columns] if isinstance(columns, str) else list(columns)
    if not names or not all(isinstance(c, str) for c in names):
        raise InvalidInput("columns must be a column name or a list of them", field="columns")
    return names


def _path_specs(path: PathSpec | list[PathSpec]) -> list[tuple[Datastore, str]]:
    specs = path if isinstance(path, list) else [path]
    found = []
    for spec in specs:
        if isinstance(spec, DataReference):
            spec = (spec.datastore, spec._pattern())
        elif isinstance(spec, DataPath):
            spec = (spec.datastore, spec.path_on_datastore or "**")
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str) and not spec[1].strip("/"):
            spec = (spec[0], "**")  # the datastore's root: every file on it
        if not (
            isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Datastore) and isinstance(spec[1], str)
        ):
            raise InvalidInput(
                "path must be (datastore, 'path/with/*.globs'), datastore.path('...') (a DataReference), a DataPath, "
                "or a list of them; fninfer "
                "reads datasets from registered datastores, not from URLs",
                field="path",
            )
        found.append((spec[0], validators.validate_datastore_path(spec[1])))
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

    def __init__(self, kind: str = "string", formats: list[str] | None = None) -> None:
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

    @staticmethod
    def to_stream(workspace: Any, escaped: bool = False) -> DataType:
        """Azure ML's stream type (a column of file references) has no counterpart: fninfer's tabular datasets hold
        values, and file references are a FileDataset."""
        raise UserErrorException(
            "DataType.to_stream is not supported: fninfer's tabular columns hold values (string, long, float, bool, "
            "datetime); read files through a FileDataset (Dataset.File.from_files) instead"
        )

    @staticmethod
    def _of(values: pd.Series) -> DataType | None:
        """The type a pandas column keeps when it is written and read back (None: a string column)."""
        if pd.api.types.is_bool_dtype(values):
            return DataType.to_bool()
        if pd.api.types.is_integer_dtype(values):
            return DataType.to_long()
        if pd.api.types.is_float_dtype(values):
            return DataType.to_float()
        if pd.api.types.is_datetime64_any_dtype(values):
            return DataType.to_datetime()
        return None

    def __repr__(self) -> str:
        return f"DataType({self._type['type']!r})"


class Dataset:
    """Mirrors `azureml.core.Dataset`: `Dataset.File` and `Dataset.Tabular` make datasets, `get_by_name`,
    `get_by_id` and `get_all` find registered ones. The rest is the deprecated `Dataset` class of azureml-core's first
    releases (dataset definitions, snapshots, profiles, ...); its static factories map to Dataset.File /
    Dataset.Tabular, and its instances cannot be made in fninfer (each method says so)."""

    File = _FileDatasetFactory
    Tabular = _TabularDatasetFactory

    def __init__(
        self, definition: Any = None, workspace: Workspace | None = None, name: str | None = None, id: Any = None
    ):
        raise _deprecated("Dataset(definition, ...)")

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> AbstractDataset:
        validators.validate_name("dataset", name)  # a '/' would otherwise read as a version segment of the URL
        path = f"datasets/{name}" if version == "latest" else f"datasets/{name}/{int(version)}"
        return AbstractDataset._from_record(workspace, workspace.client.request("GET", path))

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> AbstractDataset:
        """A registered dataset by its id, `name:version` (what `dataset.id` gives)."""
        name, _, version = str(id).partition(":")
        if not version.isdigit():
            raise InvalidInput(f"dataset id {id!r} is not 'name:version'", field="id")
        return Dataset.get_by_name(workspace, name, int(version))

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        """The latest version of every registered dataset, by name."""
        records = workspace.client.request("GET", "datasets")
        return {record["name"]: AbstractDataset._from_record(workspace, record) for record in records}

    # -- the deprecated Dataset class's statics, on today's datasets ---------------------------------------------

    @staticmethod
    def get(workspace: Workspace, name: str | None = None, id: str | None = None) -> AbstractDataset:
        """Deprecated in Azure ML for get_by_name / get_by_id, which it calls."""
        if name is None and id is None:
            raise UserErrorException("Dataset.get needs a name or an id")
        found = Dataset.get_by_name(workspace, name) if name is not None else Dataset.get_by_id(workspace, str(id))
        if name is not None and id is not None and found.id != id:
            raise UserErrorException(f"dataset {name!r} has the id {found.id}, not {id!r}")
        return found

    @staticmethod
    def list(workspace: Workspace) -> list[AbstractDataset]:
        """Deprecated in Azure ML for get_all: the registered datasets (their latest versions)."""
        return list(Dataset.get_all(workspace).values())

    @staticmethod
    def auto_read_files(path: Any, include_path: bool = False, partition_format: str | None = None) -> TabularDataset:
        """A tabular dataset read as the files' extension says: Parquet, JSON lines, else delimited."""
        paths = _path_specs(path)
        extension = posixpath.splitext(paths[0][1])[1].lower()
        if extension == ".parquet":
            return Dataset.Tabular.from_parquet_files(
                path, include_path=include_path, partition_format=partition_format
            )
        if extension in (".jsonl", ".json"):
            return Dataset.Tabular.from_json_lines_files(
                path, include_path=include_path, partition_format=partition_format
            )
        return Dataset.Tabular.from_delimited_files(path, include_path=include_path, partition_format=partition_format)

    @staticmethod
    def from_binary_files(path: Any) -> FileDataset:
        return Dataset.File.from_files(path)

    @staticmethod
    def from_delimited_files(
        path: Any,
        separator: str = ",",
        header: Any = True,
        encoding: Any = "utf8",
        quoting: bool = False,
        infer_column_types: bool = True,
        skip_rows: int = 0,
        skip_mode: Any = None,
        comment: str | None = None,
        include_path: bool = False,
        archive_options: Any = None,
        partition_format: str | None = None,
    ) -> TabularDataset:
        if skip_rows or comment is not None or archive_options is not None:
            raise UserErrorException(
                "skip_rows, comment and archive_options of the deprecated Dataset.from_delimited_files are not "
                "supported: Dataset.Tabular.from_delimited_files reads every row of plain files"
            )
        return Dataset.Tabular.from_delimited_files(
            path,
            separator=separator,
            header=header,
            encoding=getattr(encoding, "name", encoding) if not isinstance(encoding, str) else encoding,
            infer_column_types=infer_column_types,
            include_path=include_path,
            partition_format=partition_format,
        )

    @staticmethod
    def from_parquet_files(
        path: Any, include_path: bool = False, partition_format: str | None = None
    ) -> TabularDataset:
        return Dataset.Tabular.from_parquet_files(path, include_path=include_path, partition_format=partition_format)

    @staticmethod
    def from_json_files(
        path: Any,
        encoding: Any = "utf8",
        flatten_nested_arrays: bool = False,
        include_path: bool = False,
        partition_format: str | None = None,
    ) -> TabularDataset:
        raise UserErrorException(
            "Dataset.from_json_files (files of one JSON document each) is not supported: fninfer reads JSON lines "
            "files, one record per line, with Dataset.Tabular.from_json_lines_files"
        )

    @staticmethod
    def from_excel_files(
        path: Any,
        sheet_name: str | None = None,
        use_column_headers: bool = False,
        skip_rows: int = 0,
        include_path: bool = False,
        infer_column_types: bool = True,
        partition_format: str | None = None,
    ) -> TabularDataset:
        raise UserErrorException(
            "Dataset.from_excel_files is not supported: fninfer's tabular datasets are delimited, Parquet or JSON "
            "lines files; save the sheets as CSV"
        )

    @staticmethod
    def from_sql_query(data_source: Any, query: str) -> TabularDataset:
        raise UserErrorException(
            "Dataset.from_sql_query is not supported: fninfer's datastores are blob containers, not databases; "
            "export the query's rows to files"
        )

    @staticmethod
    def from_pandas_dataframe(dataframe: pd.DataFrame, path: Any = None, in_memory: bool = False) -> TabularDataset:
        """The rows written as Parquet at `path` (a datastore path), as a TabularDataset. fninfer keeps no
        in-memory datasets: a dataset is files on a datastore."""
        if path is None or in_memory:
            raise UserErrorException(
                "Dataset.from_pandas_dataframe needs path=(datastore, 'folder') in fninfer: a dataset is files on a "
                "datastore, not rows in memory"
            )
        datastore, folder = _path_specs(path)[0]
        name = f"{folder.strip('/')}/{uuid.uuid4().hex}.parquet".lstrip("/")
        with storage_errors(f"{datastore.name}/{name}"):
            datastore._container().upload_blob(name, dataframe.to_parquet(index=False), overwrite=True)
        return Dataset.Tabular.from_parquet_files((datastore, name))

    # -- the deprecated Dataset class's instance members: no instance exists in fninfer ---------------------------

    class Scenario:
        """The deprecated Dataset class's scenarios (for `deprecate`)."""

        TRAINING = "training"
        INFERENCE = "inference"

    definition = property(lambda self: _raise(_deprecated("definition")))
    definition_version = property(lambda self: _raise(_deprecated("definition_version")))
    description = property(lambda self: _raise(_deprecated("description")))
    id = property(lambda self: _raise(_deprecated("id")))
    is_visible = property(lambda self: _raise(_deprecated("is_visible")))
    name = property(lambda self: _raise(_deprecated("name")))
    state = property(lambda self: _raise(_deprecated("state")))
    tags = property(lambda self: _raise(_deprecated("tags")))
    workspace = property(lambda self: _raise(_deprecated("workspace")))

    def archive(self) -> None:
        raise _deprecated("archive")

    def compare_profiles(
        self,
        rhs_dataset: Any,
        profile_arguments: Any = None,
        include_columns: Any = None,
        exclude_columns: Any = None,
        histogram_compare_method: Any = None,
    ) -> Any:
        raise _deprecated("compare_profiles")

    def create_snapshot(
        self,
        snapshot_name: str,
        compute_target: Any = None,
        create_data_snapshot: bool = False,
        target_datastore: Any = None,
    ) -> Any:
        raise _deprecated("create_snapshot")

    def delete_snapshot(self, snapshot_name: str) -> None:
        raise _deprecated("delete_snapshot")

    def deprecate(self, deprecate_by_dataset_id: str) -> None:
        raise _deprecated("deprecate")

    def diff(self, rhs_dataset: Any, compute_target: Any = None, columns: Any = None) -> Any:
        raise _deprecated("diff")

    def generate_profile(self, compute_target: Any = None, workspace: Any = None, arguments: Any = None) -> Any:
        raise _deprecated("generate_profile")

    def get_all_snapshots(self) -> Any:
        raise _deprecated("get_all_snapshots")

    def get_definition(self, version_id: str | None = None) -> Any:
        raise _deprecated("get_definition")

    def get_definitions(self) -> Any:
        raise _deprecated("get_definitions")

    def get_profile(
        self,
        arguments: Any = None,
        generate_if_not_exist: bool = True,
        workspace: Any = None,
        compute_target: Any = None,
    ) -> Any:
        raise _deprecated("get_profile")

    def get_snapshot(self, snapshot_name: str) -> Any:
        raise _deprecated("get_snapshot")

    def head(self, count: int) -> Any:
        raise _deprecated("head", "dataset.take(count).to_pandas_dataframe()")

    def reactivate(self) -> None:
        raise _deprecated("reactivate")

    def register(
        self,
        workspace: Any,
        name: str,
        description: str | None = None,
        tags: Any = None,
        visible: bool = True,
        exist_ok: bool = False,
        update_if_exist: bool = False,
    ) -> Any:
        raise _deprecated("register", "dataset.register(workspace, name, create_new_version=...)")

    def sample(self, sample_strategy: str, arguments: Any) -> Any:
        raise _deprecated("sample", "dataset.take_sample(probability, seed)")

    def to_pandas_dataframe(self) -> Any:
        raise _deprecated("to_pandas_dataframe", "TabularDataset.to_pandas_dataframe()")

    def to_spark_dataframe(self) -> Any:
        raise _deprecated("to_spark_dataframe", "TabularDataset.to_spark_dataframe()")

    def update(
        self, name: str | None = None, description: str | None = None, tags: Any = None, visible: Any = None
    ) -> Any:
        raise _deprecated("update", "dataset.update(description, tags)")

    def update_definition(self, definition: Any, definition_update_message: str) -> Any:
        raise _deprecated("update_definition")


def _raise(error: Exception) -> Any:
    raise error


def _deprecated(member: str, instead: str | None = None) -> UserErrorException:
    use = instead or "Dataset.Tabular / Dataset.File datasets (TabularDataset, FileDataset)"
    return UserErrorException(
        f"Dataset.{member} belongs to the Dataset class Azure ML deprecated (https://aka.ms/dataset-deprecation), "
        f"whose definitions, snapshots and profiles fninfer does not keep; use {use}"
    )


AbstractDataset.File = _FileDatasetFactory  # type: ignore[attr-defined]
AbstractDataset.Tabular = _TabularDatasetFactory  # type: ignore[attr-defined]


def script_dataset(storage: Storage, record: dict[str, Any]) -> AbstractDataset:
    """A dataset as the app hands it to an entry script (a mini-batch's `mini_batch_context.dataset`): the SDK's own
    class, as Azure ML hands azureml.core's, reading the app's storage (registering from it is refused)."""
    return AbstractDataset._from_record(_AppWorkspace(storage), record)
