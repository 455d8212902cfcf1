"""What a run wrote, for browsing and downloading: a step run's outputs (folders on their datastores: a
ParallelRunStep's `parallel_run_step.txt`, a script step's PipelineData and OutputFileDatasetConfig) and the files a
run uploaded to its history (`run.upload_file`, a script step's `outputs/`). Bounded: at most MAX_LISTED files are
listed per folder, and a download holds at most MAX_DOWNLOAD bytes (the SDK downloads anything larger)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core import layout, validators
from shared.core.errors import NotFound, PayloadTooLarge
from shared.core.storage import Storage, storage_errors
from shared.pipelines.engine.step_start import outputs_of
from shared.runs.run_records import RunRecord

MAX_LISTED = 100
MAX_DOWNLOAD = 50 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    path: str  # inside its output folder, or the run file's name
    size: int


@dataclass(frozen=True)
class StepOutput:
    name: str
    datastore: str
    folder: str
    files: list[StoredFile]
    more: bool  # more than MAX_LISTED files


def _listed(storage: Storage, container: str, prefix: str) -> tuple[list[StoredFile], bool]:
    with storage_errors(f"{container}/{prefix}*"):
        pages = storage.container(container).list_blobs(name_starts_with=prefix, results_per_page=MAX_LISTED).by_page()
        first = next(pages, [])
        files = [StoredFile(blob.name[len(prefix) :], int(blob.size)) for blob in first]
        return files, pages.continuation_token is not None


def step_outputs(storage: Storage, record: RunRecord) -> list[StepOutput]:
    """A step run's outputs with their files (none for a step that has not started writing, or for a pipeline
    run, whose steps have the outputs)."""
    if not record.get("parent") or not record.get("step"):
        return []
    found = []
    for output in outputs_of(record):
        if "container" not in output:
            continue
        files, more = _listed(storage, output["container"], output["prefix"])
        found.append(StepOutput(output["name"], output.get("datastore", ""), output["prefix"], files, more))
    return found


def _read(storage: Storage, container: str, name: str, what: str) -> bytes:
    with storage_errors(what):
        blob = storage.container(container).get_blob_client(name)
        size = int(blob.get_blob_properties().size)
        if size > MAX_DOWNLOAD:
            raise PayloadTooLarge(
                f"{what} has {size} bytes; download it with the SDK (the studio sends at most {MAX_DOWNLOAD})"
            )
        return bytes(blob.download_blob().readall())


def read_output(storage: Storage, record: RunRecord, output_name: str, path: str) -> bytes:
    """The file `path` of the step run's output `output_name`."""
    relative = validators.validate_relative_path(path)
    output: dict[str, Any] | None = next((o for o in outputs_of(record) if o.get("name") == output_name), None)
    if output is None or "container" not in output:
        raise NotFound(f"run {record['id']!r} has no output {output_name!r}", output=output_name)
    return _read(
        storage, output["container"], output["prefix"] + relative, f"file {relative!r} of output {output_name!r}"
    )


def run_files(storage: Storage, run_id: str) -> tuple[list[StoredFile], bool]:
    """The files the run uploaded to its history, by name."""
    return _listed(storage, layout.RUN_HISTORY_CONTAINER, layout.run_files_prefix(run_id))


def read_run_file(storage: Storage, run_id: str, name: str) -> bytes:
    return _read(
        storage, layout.RUN_HISTORY_CONTAINER, layout.run_file(run_id, name), f"file {name!r} of run {run_id!r}"
    )
