"""`PipelineRun` and `StepRun`: a submitted pipeline, watched from its record in the app (storage is the truth, the
objects only cache it)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fninfer._datastore import Datastore
from fninfer._exceptions import ActivityFailedException
from fninfer._pipeline import PortDataReference
from fninfer._workspace import Workspace
from shared.errors import FninferError, InvalidInput, NotFound
from shared.storage import storage_errors

if TYPE_CHECKING:
    from fninfer._experiment import Experiment
    from fninfer._published import PublishedPipeline

TERMINAL = ("Finished", "Failed", "Canceled")
POLL_SECONDS = 0.5
#: wait_for_completion polls quickly at first, then every 2 s: each poll reads the run's progress shards, and a long
#: run should not spend storage requests on being watched.
MAX_POLL_SECONDS = 2.0
READ_TRIES = 3


class PipelineRun:
    """Mirrors `azureml.pipeline.core.PipelineRun`."""

    def __init__(self, experiment: Experiment, run_id: str) -> None:
        self.experiment = experiment
        self.workspace: Workspace = experiment.workspace
        self.id = run_id
        self._record: dict[str, Any] = {}
        self._refresh()

    def _refresh(self) -> dict[str, Any]:
        for _ in range(READ_TRIES - 1):
            try:
                return self._read()
            except FninferError as exc:
                # A pooled connection to a host instance that went away is reset; reading again is safe.
                if not isinstance(exc.__cause__, httpx.TransportError):
                    raise
                time.sleep(POLL_SECONDS)
        return self._read()

    def _read(self) -> dict[str, Any]:
        self._record = self.workspace.client.request("GET", f"pipelines/runs/{self.id}")
        return self._record

    @property
    def status(self) -> str:
        return str(self._record["status"])

    def get_status(self) -> str:
        return str(self._refresh()["status"])

    def get_details(self) -> dict[str, Any]:
        record = self._refresh()
        return {
            "runId": record["id"],
            "status": record["status"],
            "startTimeUtc": record["start_time"],
            "endTimeUtc": record["end_time"],
            "error": record["error"],
            "properties": {
                "experiment": record["experiment"],
                "reused_from": record["step"]["reused_from"],
                "total_mini_batches": (record["plan"] or {}).get("total_batches"),
                "total_items": (record["plan"] or {}).get("total_items"),
                **(record["counts"] or {}),
            },
        }

    def get_children(
        self,
        recursive: bool = False,
        tags: Any = None,
        properties: Any = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[StepRun]:
        """The pipeline's step runs (one: its ParallelRunStep)."""
        children = [StepRun(self, self._refresh())]
        return iter([child for child in children if status is None or child.get_status() == status])

    def get_steps(self) -> Iterator[StepRun]:
        return self.get_children()

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: each step's mini-batch logs (see StepRun.get_details_with_logs)."""
        logs: dict[str, str] = {}
        for step in self.get_children():
            logs.update({f"{step.name}/{name}": text for name, text in step._log_files().items()})
        return {**self.get_details(), "logFiles": logs}

    def find_step_run(self, name: str) -> list[StepRun]:
        return [step for step in self.get_children() if step.name == name]

    def get_portal_url(self) -> str:
        """There is no portal: the app's URL of this run's record (what `GET` with the admin key returns)."""
        return f"{self.workspace.config.api_url}/pipelines/runs/{self.id}"

    def publish_pipeline(
        self, name: str, description: str | None = None, version: str | None = None, **_: Any
    ) -> PublishedPipeline:
        """Publish the pipeline this run ran (its definition and parameters) as a REST endpoint."""
        from fninfer._published import PublishedPipeline

        body = {"name": name, "description": description, "version": version}
        record = self.workspace.client.request("POST", f"pipelines/runs/{self.id}/publish", json=body)
        return PublishedPipeline(self.workspace, record)

    def cancel(self) -> None:
        self._record = self.workspace.client.request("POST", f"pipelines/runs/{self.id}/cancel")

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait until the run is Finished, Failed or Canceled, printing its progress; returns the status. On failure
        the failing mini-batch's error and traceback are printed (and raised, with raise_on_error)."""
        started = time.monotonic()
        watcher = _ProgressPrinter(self.id) if show_output else None
        pause = 0.1
        while True:
            record = self._refresh()
            if watcher is not None:
                watcher.show(record)
            if record["status"] in TERMINAL or time.monotonic() - started > timeout_seconds:
                break
            time.sleep(pause)
            pause = min(pause * 1.5, MAX_POLL_SECONDS)
        if watcher is not None:
            watcher.summary(record)
        if record["status"] == "Failed" and raise_on_error:
            raise ActivityFailedException(_failure_text(record), run=self.id)
        return str(record["status"])

    def __repr__(self) -> str:
        return f"PipelineRun(experiment={self.experiment.name!r}, id={self.id!r}, status={self._record['status']!r})"


class StepRun:
    """Mirrors `azureml.pipeline.core.StepRun`: the ParallelRunStep's run inside a pipeline run."""

    def __init__(self, pipeline_run: PipelineRun, record: dict[str, Any]) -> None:
        self.pipeline_run = pipeline_run
        self._step = record["step"]
        self.id: str = self._step["id"]
        self.name: str = self._step["name"]

    def get_status(self) -> str:
        return self.pipeline_run.get_status()

    def get_details(self) -> dict[str, Any]:
        return {**self.pipeline_run.get_details(), "runId": self.id, "name": self.name}

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        return self.pipeline_run.wait_for_completion(show_output, timeout_seconds, raise_on_error=raise_on_error)

    def get_output_data(self, name: str) -> PortDataReference:
        output = self._step["output"]
        if output["name"] != name:
            raise InvalidInput(f"step {self.name!r} has the output {output['name']!r}, not {name!r}", field="name")
        return PortDataReference(self.pipeline_run.workspace, output)

    def get_output(self, name: str) -> PortDataReference:
        return self.get_output_data(name)

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: per mini-batch that ran, a text of its tries: what run() printed or logged
        (EntryScript().logger included), and each failed try's error and traceback."""
        return {**self.get_details(), "logFiles": self._log_files()}

    def _log_files(self) -> dict[str, str]:
        files = {}
        for entry in self.get_logs():
            lines = [f"mini-batch {entry['index']}: {entry['items']} items, {entry['failed_items']} failed"]
            for number, attempt in enumerate(entry["attempts"], start=1):
                lines.append(f"-- try {number}")
                if attempt.get("log"):
                    lines.append(str(attempt["log"]).rstrip())
                if attempt.get("error"):
                    lines.append(f"error: {attempt['error']}")
                if attempt.get("traceback"):
                    lines.append(str(attempt["traceback"]).rstrip())
            files[f"logs/user/mini_batch_{entry['index']:06d}.txt"] = "\n".join(lines) + "\n"
        return files

    def get_file_names(self) -> list[str]:
        """The step's files: its output folder's (`<output name>/...`) and its mini-batch logs (`logs/...`)."""
        output = self._step["output"]
        workspace = self.pipeline_run.workspace
        container = Datastore(workspace, output["datastore"], container_name=output["container"])._container()
        with storage_errors(f"{output['datastore']}/{output['prefix']}*"):
            names = [blob.name for blob in container.list_blobs(name_starts_with=output["prefix"])]
        outputs = [f"{output['name']}/{name[len(output['prefix']) :]}" for name in names]
        return sorted(outputs) + sorted(self._log_files())

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False) -> str:
        """Download one of get_file_names() to `output_file_path` (default: its base name, here)."""
        destination = Path(output_file_path or Path(name).name)
        if destination.is_dir():
            destination = destination / Path(name).name
        logs = self._log_files()
        if name in logs:
            destination.write_text(logs[name])
            return str(destination)
        output = self._step["output"]
        relative = name.removeprefix(f"{output['name']}/")
        if relative == name or name not in self.get_file_names():
            raise NotFound(f"step {self.name!r} has no file {name!r}; files: {self.get_file_names()}")
        workspace = self.pipeline_run.workspace
        container = Datastore(workspace, output["datastore"], container_name=output["container"])._container()
        with storage_errors(f"{output['datastore']}/{name}"), destination.open("wb") as handle:
            container.download_blob(output["prefix"] + relative).readinto(handle)
        return str(destination)

    def get_logs(self) -> list[dict[str, Any]]:
        """Every mini-batch that ran: its index, items, failed items, tries, and per try the error, the traceback and
        what run() printed or logged."""
        found: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:
            page = self.pipeline_run.workspace.client.request(
                "GET", f"pipelines/runs/{self.pipeline_run.id}/logs", params={"start": start}
            )
            found.extend(page["items"])
            start = page["next"]
        return found

    def __repr__(self) -> str:
        return f"StepRun(name={self.name!r}, id={self.id!r})"


def _failure_text(record: dict[str, Any]) -> str:
    error = record["error"] or {}
    lines = [str(error.get("message") or "the run failed")]
    if error.get("error"):
        lines.append(f"mini-batch {error.get('mini_batch')}: {error['error']}")
    if error.get("traceback"):
        lines.append(str(error["traceback"]).rstrip())
    if error.get("log"):
        lines.append(f"what mini-batch {error.get('mini_batch')} printed and logged:\n{str(error['log']).rstrip()}")
    return "\n".join(lines)


class _ProgressPrinter:
    """Live progress: mini-batches done of total, items failed, rate, time left; one line per change."""

    def __init__(self, run_id: str) -> None:
        self.started = time.monotonic()
        self.last = ""
        print(f"RunId: {run_id}", flush=True)

    def show(self, record: dict[str, Any]) -> None:
        line = self.line(record)
        if line != self.last:
            print(line, flush=True)
            self.last = line

    def line(self, record: dict[str, Any]) -> str:
        status, plan, counts = record["status"], record["plan"], record["counts"] or {}
        if record["step"]["reused_from"]:
            return f"{status}: reused the output of run {record['step']['reused_from']} (allow_reuse)"
        if plan is None:
            return f"{status}: planning mini-batches"
        done, total = int(counts.get("batches_done", 0)), int(plan["total_batches"])
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        left = f", about {(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
        of = f" of {plan['total_items']}" if plan.get("total_items") is not None else ""
        return (
            f"{status}: {done}/{total} mini-batches, {counts.get('items_failed', 0)}{of} items "
            f"failed, {rate:.1f} mini-batches/s{left}"
        )

    def summary(self, record: dict[str, Any]) -> None:
        print(f"\nPipelineRun Execution Summary\n{'=' * 29}\nPipelineRun Status: {record['status']}", flush=True)
        if record["status"] == "Failed":
            print(_failure_text(record), flush=True)
