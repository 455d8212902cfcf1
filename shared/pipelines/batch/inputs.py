"""What run() receives for a mini-batch: local file paths (a FileDataset) or a DataFrame (a TabularDataset), and its
`mini_batch_context` (the partition's key values and dataset).

File inputs are downloaded to a scratch folder; there is no FUSE mount on Functions. "direct" (a ParallelRunStep's
own way) puts each file in a folder of its own under its file name; "mount" and "download" keep the files' folders
below the dataset's root, under `path_on_compute` (or the input's name), as a mounted or downloaded dataset shows
them.
"""

from __future__ import annotations

import concurrent.futures
import posixpath
from pathlib import Path
from typing import Any

from fninfer._dataset import script_dataset
from shared.core import blob_reads, validators
from shared.core.storage import Storage
from shared.registry import datastores, tabular_files
from shared.runs.run_records import RunRecord, plan_of

#: Input files downloading at once, shared by the mini-batches of this process (threads are kept, not started per
#: mini-batch: starting threads under a busy GIL costs milliseconds each). The storage client pools 10 connections.
DOWNLOAD_THREADS = 16
_downloads = concurrent.futures.ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="minibatch-download")


def local_names(source: dict[str, Any], root: str, paths: list[str]) -> list[str]:
    """Where each of a mini-batch's files goes under its scratch folder. "direct": the file's name, in the folder
    itself (creating and removing a folder per file is CPU a batch run would spend per file), unless two files of
    the mini-batch share a name: then each goes in a folder of its position."""
    if source.get("mode", "direct") == "direct":
        names = [path.rsplit("/", 1)[-1] for path in paths]
        if len(set(names)) == len(names):
            return names
        return [f"{position}/{name}" for position, name in enumerate(names)]
    folder = (source.get("path_on_compute") or source["name"]).strip("/")
    return [validators.validate_relative_path(f"{folder}/{posixpath.relpath(path, root or '.')}") for path in paths]


def download(storage: Storage, run: RunRecord, items: list[dict[str, Any]], folder: Path) -> list[str]:
    source, root = run["step"]["input"], str(plan_of(run).get("root") or "")
    stores = plan_of(run)["datastores"]
    names = local_names(source, root, [item["path"] for item in items])
    for parent in {posixpath.dirname(name) for name in names} - {""}:
        (folder / parent).mkdir(parents=True, exist_ok=True)

    def fetch(position: int, item: dict[str, Any]) -> str:
        destination = folder / names[position]
        container = datastores.container_client(storage, stores[item["datastore"]])
        with destination.open("wb") as handle:
            blob_reads.read_into(
                container, storage.requests, item["path"], handle, f"{item['datastore']}/{item['path']}"
            )
        return str(destination)

    return list(_downloads.map(fetch, range(len(items)), items))


def read_table(storage: Storage, run: RunRecord, items: list[dict[str, Any]]) -> Any:
    """A tabular mini-batch's rows, as one DataFrame."""
    source, plan = run["step"]["input"], plan_of(run)
    if plan["shape"] is None:
        raise RuntimeError(f"run {run['id']}: a tabular input's plan has its shape")
    return tabular_files.read_frame(
        storage,
        source["tabular"],
        items,
        plan["shape"],
        source.get("partition_format"),
        str(plan.get("root") or ""),
        stores=plan["datastores"],
    )


class MiniBatchContext:
    """Mirrors the `mini_batch_context` Azure ML passes as run()'s second argument: `partition_key_value` (the
    partition's values of `partition_keys`, {} when the input is not partitioned) and `dataset` (the mini-batch's
    part of the input, as the SDK's own FileDataset or TabularDataset: the one import of the SDK in shared/)."""

    def __init__(self, storage: Storage, run: RunRecord, batch: dict[str, Any]) -> None:
        values = batch.get("partition") or {}
        keys = run["step"]["config"].get("partition_keys") or sorted(values)  # records keep keys sorted
        self.partition_key_value: dict[str, Any] = {key: values[key] for key in keys if key in values}
        self.minibatch_index: int | None = batch.get("index")
        self._storage = storage
        self._source = run["step"]["input"]
        self._items = batch["items"]
        self._dataset: Any = None

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            reference = self._source.get("dataset") or {}
            record = {
                **self._source,
                "name": reference.get("name"),
                "version": reference.get("version"),
                "paths": [{"datastore": i["datastore"], "path": i["path"]} for i in self._items]
                or self._source["paths"],
            }
            self._dataset = script_dataset(self._storage, record)
        return self._dataset

    def __repr__(self) -> str:
        return f"MiniBatchContext(partition_key_value={self.partition_key_value})"
