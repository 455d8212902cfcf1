"""Data in and out of a script step: inputs downloaded to local folders before the script starts, outputs uploaded
from local folders when it has exited 0, exactly once.

Inputs: a file dataset's files (below the dataset's root, under `path_on_compute` or the input's name) or another
step's output folder. On Functions there is no FUSE mount, so "mount" and "download" both mean local files. A tabular
dataset is not downloaded: the script reads it with `Run.get_context().input_datasets[name]`.

Outputs are published exactly once although a try can die half-way (a killed instance): before uploading, a try
writes what it is about to write (`publishing.json`: its blobs and run files); a later try of the same step first
deletes whatever that record names, then writes its own. The step is Finished only after its try has published
everything, so a Finished step's outputs are those of one try, each file once. What the script wrote to `./outputs`
becomes the step run's files (`outputs/...`), as Azure ML uploads a run's outputs folder.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from azure.core.exceptions import ResourceNotFoundError

from shared.core import layout, validators
from shared.core.errors import Conflict
from shared.core.storage import Record, Storage, storage_errors
from shared.registry import datasets, datastores
from shared.runs import run_history
from shared.runs.run_records import RunRecord

#: The folder (under the script's working directory) whose files become the step run's files, as in Azure ML.
RUN_OUTPUTS_FOLDER = "outputs"


def _container(storage: Storage, datastore: str) -> Any:
    return datastores.container_client(storage, datastores.find_datastore(storage, datastore))


def _download(container: Any, blob_name: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with storage_errors(blob_name), destination.open("wb") as handle:
        container.get_blob_client(blob_name).download_blob(max_concurrency=1).readinto(handle)


def download_inputs(storage: Storage, step: Mapping[str, Any], folder: Path) -> dict[str, str]:
    """Each file input's local folder, by input name (tabular inputs are read from the dataset instead); for a
    dataset that is one file, the file's local path, as Azure ML mounts or downloads it."""
    local: dict[str, str] = {}
    for source in step["inputs"]:
        if source["kind"] == "tabular":
            continue
        target = folder / validators.validate_relative_path(source.get("path_on_compute") or source["name"])
        target.mkdir(parents=True, exist_ok=True)
        if source.get("data_reference_mode") == "upload":  # an empty folder, uploaded at the end
            local[source["name"]] = str(target)
            continue
        files = datasets.resolve_files(storage, source["paths"])
        root = datasets.dataset_root(source["paths"], files)
        for item in files:
            relative = validators.validate_relative_path(posixpath.relpath(item["path"], root or "."))
            _download(_container(storage, item["datastore"]), item["path"], target / relative)
        local[source["name"]] = str(target)
        if source.get("data") is None and datasets.single_file(source["paths"], files):
            local[source["name"]] = str(target / posixpath.basename(files[0]["path"]))
    return local


@dataclass
class WriteBack:
    """A DataReference input mounted ("mount") or uploaded ("upload"): what the script writes in its folder goes
    back to its path on the datastore when the script exits 0, as writes to an Azure ML blob mount do."""

    datastore: str
    prefix: str  # the blob name prefix of the reference's folder ('' for the datastore's root)
    folder: Path
    before: dict[str, tuple[int, int]]  # the downloaded files (relative path: size, mtime): unchanged ones stay


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    return {relative: (path.stat().st_size, path.stat().st_mtime_ns) for relative, path in _files(folder)}


def write_backs(step: Mapping[str, Any], local: dict[str, str]) -> list[WriteBack]:
    """The write-back data reference inputs, with the state of their folders now (after the download)."""
    found = []
    for source in step["inputs"]:
        if source.get("data_reference_mode") not in ("mount", "upload"):
            continue
        pattern = source["paths"][0]["path"]
        folder = Path(local[source["name"]])
        if folder.is_file():  # a reference to one file: the script may rewrite it
            prefix, folder = posixpath.dirname(pattern), folder.parent
        else:
            prefix = datasets.literal_prefix(pattern).rstrip("/")
        prefix = f"{prefix}/" if prefix else ""
        found.append(WriteBack(source["paths"][0]["datastore"], prefix, folder, _state(folder)))
    return found


def output_folders(step: Mapping[str, Any], folder: Path) -> dict[str, str]:
    """An empty local folder per output, by output name."""
    local = {}
    for output in step["outputs"]:
        target = folder / output["name"]
        target.mkdir(parents=True, exist_ok=True)
        local[output["name"]] = str(target)
    return local


def _files(folder: Path) -> list[tuple[str, Path]]:
    return [
        (validators.validate_relative_path(path.relative_to(folder).as_posix()), path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


class PublishedBlob(TypedDict):
    datastore: str
    name: str  # the blob's, in the datastore's container


class Publishing(TypedDict):
    """What a try of a script step is publishing (`layout.script_step_publishing`), written before it uploads
    anything: a later try deletes it all first, so a step's outputs are one try's."""

    attempt: int
    blobs: list[PublishedBlob]
    run_files: list[str]  # names of the files it gives the step run (its ./outputs)


def clear_unfinished(storage: Storage, record: RunRecord) -> None:
    """Delete what an earlier try of this step published before it died, and the files it gave the step run."""
    path = layout.script_step_publishing(record["id"])
    earlier: Publishing | None
    earlier, _ = storage.try_read_json(layout.RUNS_CONTAINER, path)
    for blob in earlier["blobs"] if earlier is not None else []:
        with storage_errors(f"{blob['datastore']}/{blob['name']}"), contextlib.suppress(ResourceNotFoundError):
            _container(storage, blob["datastore"]).delete_blob(blob["name"])
    run_history.delete_files(storage, record["id"])
    storage.delete_blob(layout.RUNS_CONTAINER, path)


def publish(
    storage: Storage,
    record: RunRecord,
    outputs: dict[str, str],
    run_outputs: Path,
    attempt: int,
    written_back: list[WriteBack] | None = None,
) -> None:
    """Upload the try's output folders to their places, what it wrote in its write-back data references (new or
    changed files), and its ./outputs to the step run's files, once."""
    step = record["step"]
    uploads = []
    for output in step["outputs"]:
        for relative, path in _files(Path(outputs[output["name"]])):
            uploads.append((output["datastore"], output["prefix"] + relative, path))
    for reference in written_back or []:
        for relative, path in _files(reference.folder):
            if reference.before.get(relative) != (path.stat().st_size, path.stat().st_mtime_ns):
                uploads.append((reference.datastore, reference.prefix + relative, path))
    run_files = [(f"{RUN_OUTPUTS_FOLDER}/{relative}", path) for relative, path in _files(run_outputs)]
    intent: Publishing = {
        "attempt": attempt,
        "blobs": [{"datastore": datastore, "name": name} for datastore, name, _ in uploads],
        "run_files": [name for name, _ in run_files],
    }
    storage.put_json(layout.RUNS_CONTAINER, layout.script_step_publishing(record["id"]), intent)
    for datastore, name, path in uploads:
        with path.open("rb") as handle, storage_errors(f"{datastore}/{name}"):
            _container(storage, datastore).upload_blob(name, handle, overwrite=True)
    existing = set(run_history.file_names(storage, record["id"]))
    for name, path in run_files:
        if name not in existing:  # the script uploaded it itself (run.upload_file), as Azure ML allows
            with contextlib.suppress(Conflict):  # uploaded meanwhile by the script
                run_history.upload_file(storage, record["id"], name, str(path))
    for output in step["outputs"]:
        if output.get("register"):
            register_output(storage, output)


def register_output(storage: Storage, output: dict[str, Any]) -> Record:
    """`register_on_complete(name)`: the output folder as a file dataset, a new version unless the latest version
    already names this folder (so a retried step does not register twice)."""
    register = output["register"]
    request = {
        "kind": "file",
        "paths": [{"datastore": output["datastore"], "path": output["prefix"].rstrip("/")}],
        "description": register.get("description"),
        "tags": register.get("tags") or {},
        "create_new_version": True,
    }
    return datasets.register_dataset(storage, register["name"], request)


def forget(storage: Storage, record: RunRecord) -> None:
    """The step is Finished: its publishing record has done its job."""
    storage.delete_blob(layout.RUNS_CONTAINER, layout.script_step_publishing(record["id"]))
