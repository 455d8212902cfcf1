"""`ScriptRun`: the run `Experiment.submit(ScriptRunConfig(...))` returns, as `azureml.core.ScriptRun`.

The app runs the script as a script run of its own (shared/pipelines/scripts/script_run.py): the script step's engine,
with
no pipeline around it, so the run has no parent. What the script logged, tagged and uploaded (its ./outputs) is the
run's, read through the run history as for any Run; its status, times, error and log come from the engine's record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer import _waiting
from fninfer._environment import Environment
from fninfer._exceptions import ActivityFailedException
from fninfer._pipeline_run import _read_run, _warnings
from fninfer._run import Run, _run_ended
from shared.core.errors import NotFound
from shared.pipelines.scripts.script_run import run_definition
from shared.runs.run_history import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from fninfer._experiment import Experiment
    from fninfer._runconfig import RunConfiguration

#: The name Azure ML gives a script's stdout and stderr among the run's files (one per try; the last try's has this).
DRIVER_LOG = "azureml-logs/70_driver_log.txt"
TRACEBACK = "Traceback (most recent call last):"


class ScriptRun(Run):
    """Mirrors `azureml.core.ScriptRun`: a script submitted with a ScriptRunConfig. A Run (metrics, tags, files,
    `register_model` from its ./outputs) whose `get_details()` also has its `runDefinition` (script, arguments,
    target, environment), whose error carries the script's traceback, and whose files include its log
    (`azureml-logs/70_driver_log.txt`). `parent` is None: no pipeline runs it."""

    RUN_TYPE = SCRIPT_RUN_TYPE

    def __init__(
        self,
        experiment: Experiment,
        run_id: str,
        directory: str | None = None,
        _run_config: RunConfiguration | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(experiment, run_id, **kwargs)
        self._directory = directory
        self._run_config_object = _run_config

    def _engine(self) -> dict[str, Any] | None:
        """The engine's record of the run (None for a run that has none: one only activated around a script)."""
        try:
            return _read_run(self.experiment.workspace, self._run_id)
        except NotFound:
            return None

    @property
    def _run_config(self) -> RunConfiguration | None:
        """The RunConfiguration it was submitted with (in this process)."""
        return self._run_config_object

    def get_details(self) -> dict[str, Any]:
        """As Run.get_details(), with the run's `runDefinition` and `warnings`; a failed run's `error` names why it
        failed, with the script's traceback in its message (the whole log: get_details_with_logs)."""
        details = super().get_details()
        record = self._engine()
        if record is None:
            return details
        details["runDefinition"] = run_definition(record)
        details["warnings"] = _warnings(record)
        details["error"] = _error(record)
        self._details = details
        return dict(details)

    def get_environment(self) -> Any:
        """The environment the run declared: the registered one of that name, else one with its requirements (the
        default environment when it was given none)."""
        declared = (self.get_details().get("runDefinition") or {}).get("environment")
        if not declared:
            return Environment("default-environment")
        try:
            return Environment.get(self.experiment.workspace, declared["name"])
        except NotFound:
            environment = Environment(declared["name"])
            environment.python.conda_dependencies.set_pip_requirements(list(declared.get("requirements") or []))
            return environment

    def cancel(self) -> None:
        """Cancel the run: the script is stopped within seconds and the run is Canceled (a run that is over stays
        as it is)."""
        record = self._engine()
        if record is None:
            super().cancel()
            return
        self.experiment.workspace.client.request("POST", f"pipelines/runs/{self._run_id}/cancel")
        self.get_details()

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        """Wait until the run is Finished, Failed or Canceled and return its details; with show_output, print its
        log and summary as Azure ML streams them. A Failed run raises ActivityFailedException with its error (the
        script's traceback) with raise_on_error."""
        client = self.experiment.workspace.client
        web_view = f"{self.experiment.workspace.config.api_url}/runs/{self._run_id}"
        if show_output:
            print(f"RunId: {self._run_id}\nWeb View: {web_view}", flush=True)
        _waiting.watch(client, f"runs/{self._run_id}", _run_ended)
        details = self.get_details()
        if show_output:
            log = self._log_files().get(DRIVER_LOG)
            if log:
                print(f"\nStreaming {DRIVER_LOG}\n{'=' * (len(DRIVER_LOG) + 10)}\n\n{log.rstrip()}", flush=True)
            print(f"\nExecution Summary\n=================\nRunId: {self._run_id}\nWeb View: {web_view}\n", flush=True)
        if details["status"] == "Failed":
            error = details.get("error") or {"message": "Detailed error not set on the Run. Please check the logs."}
            if raise_on_error:
                raise ActivityFailedException(json.dumps(error, indent=4), run=self._run_id)
            if show_output:
                print(f"Error:\n{error['message']}", file=sys.stderr, flush=True)
        return details

    # -- logs and files -------------------------------------------------------------------------------------------

    def _log_files(self) -> dict[str, str]:
        """The script's log, one per try: the last under DRIVER_LOG, earlier ones with `_try<n>`."""
        if self._engine() is None:
            return {}
        tries = self.experiment.workspace.client.request("GET", f"pipelines/runs/{self._run_id}/script-logs")
        files = {}
        for entry in tries:
            suffix = "" if entry is tries[-1] else f"_try{entry['try']}"
            files[DRIVER_LOG.replace(".txt", f"{suffix}.txt")] = str(entry["log"])
        return files

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with `logFiles`: the script's stdout and stderr, as written, per try."""
        return {**self.get_details(), "logFiles": self._log_files()}

    def get_file_names(self) -> list[str]:
        """The run's files (what the script wrote to ./outputs or uploaded) and its logs."""
        return sorted(super().get_file_names()) + sorted(self._log_files())

    def download_file(self, name: str, output_file_path: Any = None, _validate_checksum: bool = False) -> str:
        """Download one of get_file_names() to `output_file_path` (a file, or a folder to put it in; by default its
        base name in the current folder)."""
        logs = self._log_files()
        if name not in logs:
            return super().download_file(name, output_file_path, _validate_checksum)
        target = Path(output_file_path) if output_file_path is not None else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        target.write_text(logs[name])
        return str(target)

    def __repr__(self) -> str:
        return (
            f"Run(Experiment: {self._experiment_name},\nId: {self._run_id},\nType: {self.RUN_TYPE},\n"
            f"Status: {self.status})"
        )


def _error(record: dict[str, Any]) -> dict[str, Any] | None:
    """The engine's error as Azure ML's run details give it: a code and a message that ends with the script's
    traceback (and the end of its log, `log`)."""
    error = record.get("error")
    if not error:
        return None
    log = str(error.get("log") or "")
    message = str(error.get("message") or record["status"])
    if TRACEBACK in log:
        message += f"\n{log[log.rindex(TRACEBACK) :].rstrip()}"
    code = "UserError" if record.get("exit_code") is not None else "SystemError"
    return {"code": code, "message": message, "log": log}


def _from_details(experiment: Experiment, details: dict[str, Any]) -> ScriptRun:
    return ScriptRun(experiment, details["runId"], _details=details)


# Runs of this type that listings (Experiment.get_runs, Run.get, get_children) return are ScriptRuns, as in Azure ML.
Run._run_source_initializers.setdefault(SCRIPT_RUN_TYPE, _from_details)
