"""`PipelineRun` and `StepRun`: a submitted pipeline, watched from its record in the app (storage is the truth, the
objects only cache it)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fninfer import _waiting
from fninfer._datastore import Datastore
from fninfer._exceptions import ActivityFailedException, UserErrorException
from fninfer._pipeline import PortDataReference
from fninfer._run import Run, _ApiHistory
from fninfer._workspace import Workspace
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import storage_errors

if TYPE_CHECKING:
    from fninfer._experiment import Experiment
    from fninfer._published import PublishedPipeline

TERMINAL = ("Finished", "Failed", "Canceled")


def _read_run(workspace: Workspace, run_id: str) -> dict[str, Any]:
    """A pipeline run's or step run's record from the app (read again after a reset connection)."""
    return _waiting.read(workspace.client, f"pipelines/runs/{run_id}")[0]


def _wait(
    workspace: Workspace,
    run_id: str,
    printer: _ProgressPrinter | None,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Follow the run until it ends (a long poll on the app: see fninfer/_waiting.py) or `timeout_seconds` pass,
    printing as it goes with a printer; returns the last record. As Azure ML's: a timeout returns the status it
    had (printing that it timed out); `_raise_if_failed` raises for a failure."""
    started = time.monotonic()
    record, timed_out = _waiting.watch(
        workspace.client,
        f"pipelines/runs/{run_id}",
        settled=lambda document: document["status"] in TERMINAL,
        timeout=None if timeout_seconds >= sys.maxsize else timeout_seconds,
        on_document=None if printer is None else printer.show,
        any_change=printer is not None,
    )
    if printer is not None:
        if timed_out:
            print("Timed out of waiting. Elapsed time:", time.monotonic() - started, flush=True)
        printer.summary(record)
    return record


def _raise_if_failed(record: dict[str, Any], run_id: str, raise_on_error: bool) -> None:
    if record["status"] == "Failed" and raise_on_error:
        raise ActivityFailedException(_failure_text(record), run=run_id)


def _matches(details: dict[str, Any], tags: Any, properties: Any, type: str | None, status: str | None) -> bool:
    """Azure ML's run filters: a tag (or property) name, or {name: value}; the run type; the status."""

    def has(found: dict[str, Any], wanted: Any) -> bool:
        if wanted is None:
            return True
        if isinstance(wanted, str):
            return wanted in found
        return all(key in found and (value is None or found[key] == value) for key, value in dict(wanted).items())

    run_type = (details.get("properties") or {}).get("azureml.runsource")
    return (
        has(details.get("tags") or {}, tags)
        and has(details.get("properties") or {}, properties)
        and (type is None or type == run_type)
        and (status is None or status == details.get("status"))
    )


def _prs_properties(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The ParallelRunSteps' figures, summed over them (one step: its own), as get_details() shows them."""
    parallel = [step for step in steps if step.get("type") == "ParallelRunStep" and step.get("status")]
    if not parallel:
        return {}
    totals: dict[str, Any] = {"reused_from": parallel[0].get("reused_from")}
    for key in ("total_mini_batches", "total_items", "batches_done", "batches_failed", "items_failed"):
        values = [step.get(key) for step in parallel]
        totals[key] = None if any(v is None for v in values) else sum(values)
    return totals


class PipelineGraph:
    """The steps of a pipeline as it ran or was published (Azure ML's `Graph`, read-only): `nodes` in the
    pipeline's order, each {name, type, inputs, outputs}, and `params`, its parameters with their defaults."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self._definition = definition

    @property
    def nodes(self) -> list[dict[str, Any]]:
        found = []
        for step in self._definition.get("steps") or []:
            outputs = [step["output"]] if "output" in step else list(step.get("outputs") or [])
            found.append(
                {
                    "name": step.get("name"),
                    "type": step.get("type"),
                    "inputs": [source.get("name") for source in step.get("inputs") or []],
                    "outputs": [output.get("name") for output in outputs],
                }
            )
        return found

    @property
    def params(self) -> dict[str, Any]:
        return {name: p.get("default") for name, p in (self._definition.get("parameters") or {}).items()}

    def _serialize_to_dict(self) -> dict[str, Any]:
        return {"pipeline": {"parameters": self.params, "steps": {node["name"]: node for node in self.nodes}}}

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """The graph as YAML at `path` (a folder: its pipeline.yml; default: ./pipeline.yml)."""
        target = Path(path) if path else Path.cwd()
        if target.is_dir():
            target = target / "pipeline.yml"
        target.write_text(yaml.safe_dump(self._serialize_to_dict(), sort_keys=False))
        return str(target)

    def __repr__(self) -> str:
        return f"PipelineGraph(nodes={[node['name'] for node in self.nodes]})"


class StepRunOutput:
    """One output of a step run (Azure ML's `StepRunOutput`): its data as a PortDataReference."""

    def __init__(self, step_run: StepRun, name: str, output: dict[str, Any]) -> None:
        self.step_run = step_run
        self.name = name
        self._output = output

    def get_port_data_reference(self) -> PortDataReference:
        return PortDataReference(self.step_run.pipeline_run.workspace, self._output)

    def __repr__(self) -> str:
        return f"StepRunOutput(name={self.name!r}, step={self.step_run.name!r})"


class PipelineRun(Run):
    """Mirrors `azureml.pipeline.core.PipelineRun`: a run of a pipeline, whose children are its step runs. It is a
    Run too (metrics, tags, files of the pipeline run)."""

    def __init__(self, experiment: Experiment, run_id: str, _record: dict[str, Any] | None = None) -> None:
        self._experiment = experiment
        self._experiment_name = experiment.name
        self._run_id = run_id
        self.workspace: Workspace = experiment.workspace
        self._history = _ApiHistory(self.workspace)
        self._parent_run_id = None
        self._record: dict[str, Any] = _record or {}
        if _record is None:
            self._refresh()

    @property
    def id(self) -> str:
        return self._run_id

    def _refresh(self) -> dict[str, Any]:
        self._record = _read_run(self.workspace, self._run_id)
        return self._record

    @property
    def _details(self) -> dict[str, Any]:  # what Run's properties (name, tags, ...) read
        return self.get_details()

    @_details.setter
    def _details(self, value: dict[str, Any]) -> None:
        pass  # a pipeline run's details are always read afresh

    @property
    def status(self) -> str:
        return str(self._record["status"])

    def get_status(self) -> str:
        return str(self._refresh()["status"])

    def get_details(self) -> dict[str, Any]:
        """The run's history (properties added, description, snapshot) with its record's status, times, error,
        tags (those it was submitted with and set since, from anywhere) and its ParallelRunSteps' figures."""
        record = self._refresh()
        history = self._history.details(self._run_id)
        steps = list((record.get("steps") or {}).values())
        return {
            **history,
            "runId": record["id"],
            "status": record["status"],
            "startTimeUtc": record["start_time"],
            "endTimeUtc": record["end_time"],
            "error": record["error"],
            "warnings": _warnings(record),
            "tags": dict(record.get("tags") or {}),
            "properties": {
                **(history.get("properties") or {}),
                "azureml.runsource": "azureml.PipelineRun",
                "experiment": record["experiment"],
                **_prs_properties(steps),
            },
        }

    def get_tags(self) -> dict[str, str | None]:
        return self._history.tags(self._run_id)

    def complete(self, _set_status: bool = True) -> None:
        """Not supported for pipelines, as in Azure ML: the engine ends a pipeline run."""
        raise NotImplementedError("Complete is unsupported for Pipeline run.")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Not supported for pipelines, as in Azure ML: the engine ends a pipeline run (cancel() stops it)."""
        raise NotImplementedError("Fail is unsupported for Pipeline run.")

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> Run:
        raise NotImplementedError("Child run is unsupported for Pipeline run.")

    def get_graph(self) -> PipelineGraph:
        """The pipeline this run ran: its steps and parameters."""
        return PipelineGraph(self._refresh().get("definition") or {})

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Save the pipeline's graph as YAML (a folder: its pipeline.yml; default: the current folder)."""
        self.get_graph().save(path)

    def get_pipeline_output(self, pipeline_output_name: str) -> PortDataReference:
        """The data of the output of that name, from the step that wrote it."""
        names = []
        for step in self.get_children():
            for output in step._outputs():
                if output["name"] == pipeline_output_name:
                    return PortDataReference(self.workspace, output)
                names.append(output["name"])
        raise UserErrorException(f"pipeline run {self.id!r} has the outputs {names}, not {pipeline_output_name!r}")

    @staticmethod
    def get_pipeline_runs(workspace: Workspace, pipeline_id: str, _service_endpoint: Any = None) -> list[PipelineRun]:
        """The runs started from a published pipeline (its endpoint, submit, a schedule, a pipeline endpoint)."""
        from fninfer._experiment import Experiment

        found = workspace.client.request("GET", "pipelines/runs")
        return [
            PipelineRun(Experiment(workspace, record["experiment"]), record["id"])
            for record in found
            if (record.get("tags") or {}).get("azureml.pipelineid") == pipeline_id
        ]

    @staticmethod
    def get(workspace: Workspace, run_id: str, _service_endpoint: Any = None) -> PipelineRun:  # type: ignore[override]
        """The pipeline run with this id, whichever experiment it is in."""
        from fninfer._experiment import Experiment

        record = _read_run(workspace, run_id)
        return PipelineRun(Experiment(workspace, record["experiment"]), run_id, _record=record)

    def get_children(
        self,
        recursive: bool = False,
        tags: Any = None,
        properties: Any = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[StepRun]:
        """The pipeline's step runs that have started, in the pipeline's order (a step that never started because
        an upstream step failed has no run, as in Azure ML)."""
        record = self._refresh()
        children = [
            StepRun(self, state["id"])
            for state in (record.get("steps") or {}).values()
            if state.get("status") is not None
        ]
        return iter([child for child in children if _matches(child.get_details(), tags, properties, type, status)])

    def get_steps(self) -> Iterator[StepRun]:
        return self.get_children()

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: each step's logs under its name (see StepRun.get_details_with_logs)."""
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
        self,
        name: str,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
        **_: Any,
    ) -> PublishedPipeline:
        """Publish the pipeline this run ran (its definition and parameters) as a REST endpoint."""
        from fninfer._published import PublishedPipeline

        body = {
            "name": name,
            "description": description,
            "version": version,
            "continue_on_step_failure": continue_on_step_failure,
        }
        record = self.workspace.client.request("POST", f"pipelines/runs/{self.id}/publish", json=body)
        return PublishedPipeline(self.workspace, record)

    def cancel(self) -> None:
        self._record = self.workspace.client.request("POST", f"pipelines/runs/{self.id}/cancel")

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait until the run is Finished, Failed or Canceled, printing each step's progress; returns the status. On
        failure the failing step's error is printed (for a ParallelRunStep the failing mini-batch's error, traceback
        and log; for a script step the end of its log), and raised with raise_on_error. Returns within a moment of
        the run's end (the app answers a waiting request as soon as the run's record changes)."""
        print("PipelineRunId:", self.id)
        print("Link to Azure Machine Learning Portal:", self.get_portal_url(), flush=True)
        printer = _ProgressPrinter(self.workspace, pipeline=True) if show_output else None
        self._record = _wait(self.workspace, self.id, printer, timeout_seconds)
        _raise_if_failed(self._record, self.id, raise_on_error)  # after the record is kept: status says Failed
        return self.status

    def __repr__(self) -> str:
        return f"PipelineRun(experiment={self.experiment.name!r}, id={self.id!r}, status={self._record['status']!r})"


class StepRun(Run):
    """Mirrors `azureml.pipeline.core.StepRun`: one step's run inside a pipeline run. It is a Run: metrics and files
    the step's script gave it (what it wrote to ./outputs is there too), and `register_model` from them."""

    def __init__(self, pipeline_run: PipelineRun, step_run_id: str) -> None:
        self.pipeline_run = pipeline_run
        self._experiment = pipeline_run.experiment
        self._experiment_name = pipeline_run.experiment.name
        self._run_id = step_run_id
        self._history = _ApiHistory(pipeline_run.workspace)
        self._parent_run_id = pipeline_run.id
        self._record = _read_run(pipeline_run.workspace, step_run_id)

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def pipeline_run_id(self) -> str:
        return self.pipeline_run.id

    def complete(self, _set_status: bool = True) -> None:
        """Not supported for step runs, as in Azure ML: the step's script ending decides its status."""
        raise NotImplementedError("Complete is unsupported for Step run.")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        raise NotImplementedError("Fail is unsupported for Step run.")

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: Any = None) -> Run:
        raise NotImplementedError("Child run is unsupported for Step run.")

    def get_environment(self) -> Any:
        """The environment the step declared: the registered one of that name, else one with its requirements."""
        from fninfer._environment import Environment

        declared = self._step.get("environment") or (self._step.get("config") or {}).get("environment")
        if not declared:
            raise UserErrorException("There is no run definition or environment specified for the run.")
        try:
            return Environment.get(self.pipeline_run.workspace, declared["name"])
        except NotFound:
            environment = Environment(declared["name"])
            environment.python.conda_dependencies.set_pip_requirements(list(declared.get("requirements") or []))
            return environment

    def get_outputs(self) -> dict[str, StepRunOutput]:
        """The step's outputs, by name."""
        return {output["name"]: StepRunOutput(self, output["name"], output) for output in self._outputs()}

    def get_job_log(self) -> str:
        """The step's log: a script step's output (stdout and stderr as written), a ParallelRunStep's mini-batch
        logs one after the other."""
        return "".join(self._log_files().values())

    def get_stdout_log(self) -> str:
        """What the step printed. A script's stdout and stderr go to one log, in the order written, so this and
        get_stderr_log are the same text."""
        return self.get_job_log()

    def get_stderr_log(self) -> str:
        """See get_stdout_log: the step's one log, stdout and stderr interleaved as written."""
        return self.get_job_log()

    @property
    def _step(self) -> dict[str, Any]:
        return dict(self._record["step"])

    @property
    def _details(self) -> dict[str, Any]:
        return self.get_details()

    @_details.setter
    def _details(self, value: dict[str, Any]) -> None:
        pass

    def _refresh(self) -> dict[str, Any]:
        self._record = _read_run(self.pipeline_run.workspace, self._run_id)
        return self._record

    @property
    def status(self) -> str:
        return str(self._record["status"])

    def get_status(self) -> str:
        return str(self._refresh()["status"])

    def get_details(self) -> dict[str, Any]:
        record = self._refresh()
        plan, step = record.get("plan") or {}, record["step"]
        properties: dict[str, Any] = {
            "azureml.runsource": "azureml.StepRun",
            "StepType": record["type"],
            "reused_from": step.get("reused_from"),
        }
        if step.get("reused_from"):
            properties["azureml.reusedrunid"] = step["reused_from"]
        if record["type"] == "ParallelRunStep":
            properties.update(
                total_mini_batches=plan.get("total_batches"),
                total_items=plan.get("total_items"),
                **(record.get("counts") or {}),
            )
        history = self._history.details(self._run_id)
        return {
            **history,
            "runId": self._run_id,
            "name": self.name,
            "parentRunId": self.pipeline_run.id,
            "status": record["status"],
            "startTimeUtc": record["start_time"],
            "endTimeUtc": record["end_time"],
            "error": record["error"] or history.get("error"),
            "warnings": _warnings(record),
            "tags": history.get("tags") or {},
            "properties": {**(history.get("properties") or {}), **properties},
        }

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait until the step run ends, as PipelineRun.wait_for_completion does; returns the status."""
        workspace = self.pipeline_run.workspace
        print("StepRunId:", self._run_id)
        print("Link to Azure Machine Learning Portal:", f"{workspace.config.api_url}/pipelines/runs/{self._run_id}")
        printer = _ProgressPrinter(workspace, pipeline=False) if show_output else None
        self._record = _wait(workspace, self._run_id, printer, timeout_seconds)
        _raise_if_failed(self._record, self._run_id, raise_on_error)  # after the record is kept: status says Failed
        return self.status

    def _outputs(self) -> list[dict[str, Any]]:
        step = self._step
        return [step["output"]] if "output" in step else list(step.get("outputs") or [])

    def get_output_data(self, name: str) -> PortDataReference:
        for output in self._outputs():
            if output["name"] == name:
                return PortDataReference(self.pipeline_run.workspace, output)
        names = [output["name"] for output in self._outputs()]
        raise InvalidInput(f"step {self.name!r} has the outputs {names}, not {name!r}", field="name")

    def get_output(self, name: str) -> PortDataReference:
        return self.get_output_data(name)

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: a script step's stdout and stderr (`azureml-logs/70_driver_log.txt`, one
        per try); a ParallelRunStep's, per mini-batch that ran, a text of its tries: what run() printed or logged
        (EntryScript().logger included), and each failed try's error and traceback."""
        return {**self.get_details(), "logFiles": self._log_files()}

    def _log_files(self) -> dict[str, str]:
        files = {}
        report = _job_error(self._refresh())
        if report:  # as ParallelRunStep's logs/job_error.txt in Azure ML: what failed, and what the engine repaired
            files["logs/job_error.txt"] = report
        if self._record["type"] == "PythonScriptStep":
            tries = self.pipeline_run.workspace.client.request("GET", f"pipelines/runs/{self._run_id}/script-logs")
            for entry in tries:
                suffix = "" if entry is tries[-1] else f"_try{entry['try']}"
                files[f"azureml-logs/70_driver_log{suffix}.txt"] = entry["log"]
            return files
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

    def _output_names(self) -> list[str]:
        workspace = self.pipeline_run.workspace
        names = []
        for output in self._outputs():
            container = Datastore(workspace, output["datastore"], container_name=output["container"])._container()
            with storage_errors(f"{output['datastore']}/{output['prefix']}*"):
                blobs = [blob.name for blob in container.list_blobs(name_starts_with=output["prefix"])]
            names += [f"{output['name']}/{name[len(output['prefix']) :]}" for name in blobs]
        return names

    def get_file_names(self) -> list[str]:
        """The step's files: those the step run has (a script's ./outputs, what it uploaded), its outputs'
        (`<output name>/...`) and its logs."""
        return sorted(set(super().get_file_names()) | set(self._output_names())) + sorted(self._log_files())

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False) -> str:
        """Download one of get_file_names() to `output_file_path` (default: its base name, here)."""
        destination = Path(output_file_path or Path(name).name)
        if destination.is_dir():
            destination = destination / Path(name).name
        logs = self._log_files()
        if name in logs:
            destination.write_text(logs[name])
            return str(destination)
        if name in super().get_file_names():
            return super().download_file(name, str(destination))
        if name not in self._output_names():
            raise NotFound(f"step {self.name!r} has no file {name!r}; files: {self.get_file_names()}")
        output_name, relative = name.split("/", 1)
        output = next(output for output in self._outputs() if output["name"] == output_name)
        workspace = self.pipeline_run.workspace
        container = Datastore(workspace, output["datastore"], container_name=output["container"])._container()
        with storage_errors(f"{output['datastore']}/{name}"), destination.open("wb") as handle:
            container.download_blob(output["prefix"] + relative).readinto(handle)
        return str(destination)

    def get_logs(self) -> list[dict[str, Any]]:
        """A ParallelRunStep's mini-batches that ran: its index, items, failed items, tries, and per try the error,
        the traceback and what run() printed or logged. (A script step's log: get_details_with_logs.)"""
        if self._record["type"] != "ParallelRunStep":
            return []
        found: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:
            page = self.pipeline_run.workspace.client.request(
                "GET", f"pipelines/runs/{self._run_id}/logs", params={"start": start}
            )
            found.extend(page["items"])
            start = page["next"]
        return found

    def __repr__(self) -> str:
        return f"StepRun(name={self.name!r}, id={self._run_id!r})"


def _warnings(record: dict[str, Any]) -> list[dict[str, str]]:
    """The run's warnings as Azure ML's run details list them: what the engine repaired, and when."""
    return [
        {"source": f"fninfer.{w['kind']}", "message": w["message"], "time": w["time"]}
        for w in record.get("warnings") or ()
    ]


def _job_error(record: dict[str, Any]) -> str:
    """The run's error and warnings as lines of text ("" when it has neither)."""
    lines = [f"{w['time']} warning: {w['message']}" for w in record.get("warnings") or ()]
    if record.get("error"):
        lines.append(f"{record.get('end_time') or ''} error: {record['error'].get('message')}".strip())
    return "".join(f"{line}\n" for line in lines)


def _failure_text(record: dict[str, Any]) -> str:
    error = record["error"] or {}
    lines = [str(error.get("message") or "the run failed")]
    if error.get("error"):
        lines.append(f"mini-batch {error.get('mini_batch')}: {error['error']}")
    if error.get("traceback"):
        lines.append(str(error["traceback"]).rstrip())
    if error.get("log") and "mini_batch" in error:
        lines.append(f"what mini-batch {error.get('mini_batch')} printed and logged:\n{str(error['log']).rstrip()}")
    elif error.get("log"):
        lines.append(f"the end of step {error.get('step')!r}'s log:\n{str(error['log']).rstrip()}")
    return "\n".join(lines)


class _ProgressPrinter:
    """What wait_for_completion(show_output=True) prints, in the shape of Azure ML's: the pipeline run's status as it
    changes; for each step, once it starts, its run id and its status as it changes, with a ParallelRunStep's
    progress (mini-batches done of total, items failed, rate, time left: where Azure ML streams the step's driver
    log), then once it ends a script step's log (kept when the script ends) and the step's execution summary; last
    the run's execution summary, with the failing step's error."""

    def __init__(self, workspace: Workspace, pipeline: bool) -> None:
        self.workspace = workspace
        self.pipeline = pipeline
        self.started = time.monotonic()
        self.status: str | None = None
        self.last: dict[str, str] = {}  # step run id -> its last line
        self.announced: set[str] = set()
        self.ended: set[str] = set()

    def show(self, record: dict[str, Any]) -> None:
        if not self.pipeline:
            self.step(record, several=False)
            return
        if record["status"] != self.status and record["status"] not in TERMINAL:  # the summary says how it ended
            print("PipelineRun Status:", record["status"], flush=True)
            self.status = record["status"]
        steps = [step for step in (record.get("steps") or {}).values() if step.get("status")]
        for step in steps:
            self.step(step, several=len(record.get("steps") or {}) > 1)

    def step(self, step: dict[str, Any], several: bool) -> None:
        run_id, name = str(step.get("id")), step.get("name")
        if self.pipeline and run_id not in self.announced:
            self.announced.add(run_id)
            print(f"\n\nStepRunId: {run_id}", flush=True)
            print(f"Link to Azure Machine Learning Portal: {self.workspace.config.api_url}/pipelines/runs/{run_id}")
        line = f"StepRun( {name} ) Status: {step['status']}"
        if step.get("type") == "ParallelRunStep" or step.get("reused_from"):
            line = self.line(step)
            line = f"StepRun( {name} ) {line}" if several else line
        if line != self.last.get(run_id):
            print(line, flush=True)
            self.last[run_id] = line
        if step["status"] in TERMINAL and run_id not in self.ended:
            self.ended.add(run_id)
            if step.get("type") == "PythonScriptStep" and not step.get("reused_from"):
                self.stream_log(run_id)
            title = f"StepRun({name}) Execution Summary"
            print(f"\n{title}\n{'=' * len(title)}\nStepRun( {name} ) Status: {step['status']}", flush=True)

    def stream_log(self, step_run_id: str) -> None:
        tries = self.workspace.client.request("GET", f"pipelines/runs/{step_run_id}/script-logs")
        if tries:
            name = "azureml-logs/70_driver_log.txt"
            print(f"\nStreaming {name}\n{'=' * (len(name) + 10)}\n\n{str(tries[-1]['log']).rstrip()}", flush=True)

    def line(self, step: dict[str, Any]) -> str:
        status = step["status"]
        if step.get("reused_from"):
            return f"{status}: reused the output of run {step['reused_from']} (allow_reuse)"
        if step.get("total_mini_batches") is None:
            return f"{status}: planning mini-batches"
        done, total = int(step.get("batches_done") or 0), int(step["total_mini_batches"])
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        left = f", about {(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
        of = f" of {step['total_items']}" if step.get("total_items") is not None else ""
        return (
            f"{status}: {done}/{total} mini-batches, {step.get('items_failed') or 0}{of} items "
            f"failed, {rate:.1f} mini-batches/s{left}"
        )

    def summary(self, record: dict[str, Any]) -> None:
        if self.pipeline:
            title = "PipelineRun Execution Summary"
            print(f"\n{title}\n{'=' * len(title)}\nPipelineRun Status: {record['status']}", flush=True)
        if record["status"] == "Failed":
            print(_failure_text(record), flush=True)
        print("", flush=True)
