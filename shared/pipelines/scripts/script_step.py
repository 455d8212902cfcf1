"""Running a PythonScriptStep: one queue-triggered invocation runs the script, with Azure ML's contract.

The script runs in a child process of the host instance, with the app's own interpreter, not inside the worker:
a script that calls sys.exit(), crashes the interpreter, leaks globals, changes the working directory or sys.argv,
or runs past its time cannot take the host (or the other invocations running in it) down, and it can be stopped.
A subprocess is also how Azure ML runs it (`python <script> <arguments>` on a node), so module-level code,
`if __name__ == "__main__":` and argparse behave the same. The run context travels in Azure ML's environment
variables (`AZUREML_RUN_ID`, ...), so `Run.get_context()` in the script is the step run.

    1. claim the step's `script` lease (work_leases.py: renewed while the script runs; a killed instance's step is
       re-enqueued by the sweeper and run again, at most MAX_TRIES times in all)
    2. a fresh working folder with the source_directory's files; inputs downloaded, an empty folder per output
       (data_flow.py); arguments naming an input or output become its folder; params become AML_PARAMETER_<name>
       and every input and output folder AZUREML_DATAREFERENCE_<name>, as in Azure ML
    3. run it: stdout and stderr go to the step's log (`logs/<try>.txt`, get_details_with_logs), the exit status is
       the step's status; past `timeout` (RunConfiguration.max_run_duration_seconds, at most MAX_TIMEOUT) or on
       cancel the process is killed
    4. exit 0: publish the outputs exactly once (data_flow.py), then Finished; else Failed with the end of the log

A step that had Finished is never run again (a redelivered message finds it terminal), so its outputs are committed
once; a step whose try died before Finished is run again from the start, after what that try published is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import layout
from shared.core.errors import InvalidInput, NotFound
from shared.core.storage import Storage
from shared.pipelines.engine import dag
from shared.pipelines.engine.step_parts import environment_log
from shared.pipelines.engine.step_start import SCRIPT_ITEM
from shared.pipelines.scripts import data_flow
from shared.pipelines.scripts.script_host import PARENT_PID_VARIABLE
from shared.registry.installed_packages import missing_module_hint
from shared.registry.snapshots import COMPLETE, materialize
from shared.runs import run_context, work_leases
from shared.runs.reuse import remember
from shared.runs.run_records import TERMINAL, RunError, RunRecord, RunStatus, get_run, transition

#: Tries in all, counting those that ended with their instance (a script that exits non-zero is not tried again).
MAX_TRIES = 3
#: Without a timeout the script may run this long: host.json's functionTimeout is 30 minutes, and the invocation
#: that runs the script must end inside it.
MAX_TIMEOUT = 25 * 60
#: How often a running script's step run is read, to notice a cancel.
CANCEL_CHECK_SECONDS = 2.0
#: What Python prints when an import finds no module (the last such line of a failed script's log).
MISSING_MODULE = re.compile(r"^ModuleNotFoundError: No module named '([^']+)'", re.MULTILINE)
#: How much of the log's end a failed step's error keeps.
ERROR_LOG_TAIL = 8192


@dataclass
class Outcome:
    exit_code: int | None
    error: str | None
    log: str


def run_step(storage: Storage, step_run_id: str, owner: str) -> None:
    """The script queue function's work (a redelivered or duplicated message does no harm)."""
    record = get_run(storage, step_run_id)
    if RunStatus(record["status"]) in TERMINAL:
        work_leases.release(storage, step_run_id, SCRIPT_ITEM)
        return
    lease = work_leases.claim(storage, step_run_id, SCRIPT_ITEM, owner)
    if lease is None:
        return  # another live instance runs it, or it is done
    tries = int(lease["tries"])
    with work_leases.heartbeat(storage, step_run_id, SCRIPT_ITEM, owner):
        if tries > MAX_TRIES:
            message = f"the instance running this step stopped {tries - 1} times"
            outcome = Outcome(None, message, "")
        else:
            transition(storage, step_run_id, RunStatus.RUNNING, only_from=RunStatus.NOT_STARTED)
            try:
                outcome = _attempt(storage, get_run(storage, step_run_id), tries, owner)
            except work_leases.LeaseLost:
                return  # the step was taken over (this instance looked dead): its new owner finishes it
    if outcome.exit_code == 0:
        moved = transition(storage, step_run_id, RunStatus.FINISHED, exit_code=0)
        dag.advance_parent(storage, moved)
        if moved and record["step"].get("fingerprint"):
            remember(storage, get_run(storage, step_run_id))  # a script run (script_run.py) has none: not reused
        data_flow.forget(storage, record)
    elif outcome.error is not None:
        error: RunError = {"message": outcome.error, "log": outcome.log[-ERROR_LOG_TAIL:]}
        dag.advance_parent(
            storage, transition(storage, step_run_id, RunStatus.FAILED, error=error, exit_code=outcome.exit_code)
        )
    work_leases.release(storage, step_run_id, SCRIPT_ITEM)


def _arguments(step: Mapping[str, Any], folders: dict[str, str]) -> list[str]:
    """The script's arguments, each input or output reference as its local folder (a tabular input: its name)."""
    resolved = []
    for value in step["arguments"]:
        if isinstance(value, dict):
            name = value["$data"]
            resolved.append(folders.get(name, name))
        else:
            resolved.append(value)
    return resolved


def _environment(record: RunRecord, folders: dict[str, str], context: run_context.RunContext) -> dict[str, str]:
    step = record["step"]
    tabular = [source for source in step["inputs"] if source["kind"] == "tabular"]
    variables = {
        **os.environ,
        **run_context.environment(context),
        **step["environment_variables"],
        **{f"AML_PARAMETER_{name}": value for name, value in step["params"].items()},
        **{f"AZUREML_DATAREFERENCE_{name}": folder for name, folder in folders.items()},
        run_context.INPUT_DATASETS_VARIABLE: json.dumps(tabular),
        PARENT_PID_VARIABLE: str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }
    root = str(layout.app_root())
    variables["PYTHONPATH"] = os.pathsep.join(p for p in (root, variables.get("PYTHONPATH")) if p)  # shared/
    return variables


def _attempt(storage: Storage, record: RunRecord, tries: int, owner: str) -> Outcome:
    step = record["step"]
    with tempfile.TemporaryDirectory(prefix="fninfer-step-") as scratch:
        root = Path(scratch)
        code = root / "code"
        shutil.copytree(materialize(storage, step["snapshot"]), code, ignore=shutil.ignore_patterns(COMPLETE))
        data_flow.clear_unfinished(storage, record)
        try:
            folders = data_flow.download_inputs(storage, step, root / "inputs")
        except (InvalidInput, NotFound) as exc:  # an input that is not there will not be there on another try
            return Outcome(None, f"cannot download the step's inputs: {exc.message}", "")
        written_back = data_flow.write_backs(step, folders)
        outputs = data_flow.output_folders(step, root / "outputs")
        folders.update(outputs)
        command = [sys.executable, "-m", "shared.pipelines.scripts.script_host", step["script_name"]]
        command += _arguments(step, folders)
        timeout = min(int(step["timeout"] or MAX_TIMEOUT), MAX_TIMEOUT)
        log_path = root / "driver.log"
        log_path.write_text("".join(f"{line}\n" for line in environment_log(step["environment"])))
        with run_context.activate(
            storage, record["id"], record["experiment"], record["parent"], record["name"]
        ) as context:
            environment = _environment(record, folders, context)
            exit_code, stopped = _run(storage, record, command, code, environment, log_path, timeout)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        storage.container(layout.RUNS_CONTAINER).upload_blob(
            layout.script_step_log(record["id"], tries), log.encode(), overwrite=True
        )
        if stopped == "canceled":
            return Outcome(exit_code, None, log)
        if stopped == "timeout":
            return Outcome(exit_code, f"the script ran past timeout={timeout} s and was stopped", log)
        if exit_code != 0:
            error = f"the script {step['script_name']!r} exited with status {exit_code}"
            missing = MISSING_MODULE.findall(log)
            if missing:  # as in a service's init(): say which package the app lacks and how to add it
                requirements = (step["environment"] or {}).get("requirements")
                error += f": {missing_module_hint(missing[-1], requirements)}"
            return Outcome(exit_code, error, log)
        work_leases.update(storage, record["id"], SCRIPT_ITEM, owner)  # LeaseLost: another instance has the step now
        data_flow.publish(storage, record, outputs, code / data_flow.RUN_OUTPUTS_FOLDER, tries, written_back)
        return Outcome(0, None, log)


def _run(
    storage: Storage,
    record: RunRecord,
    command: list[str],
    cwd: Path,
    environment: dict[str, str],
    log_path: Path,
    timeout: int,
) -> tuple[int, str | None]:
    """Run the script to its end, its timeout or a cancel: (exit status, None | "timeout" | "canceled")."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",  # its own process group, so a stop ends what it started too
        )
        deadline = time.monotonic() + timeout
        checked = time.monotonic()
        while True:
            try:
                return process.wait(timeout=0.5), None
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                return _stop(process), "timeout"
            if time.monotonic() - checked > CANCEL_CHECK_SECONDS:
                checked = time.monotonic()
                if RunStatus(get_run(storage, record["id"])["status"]) in TERMINAL:
                    return _stop(process), "canceled"


def _stop(process: subprocess.Popen[bytes]) -> int:
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    return process.wait()


def step_logs(storage: Storage, step_run_id: str) -> list[dict[str, Any]]:
    """A script step's logs, one per try: [{"try": n, "log": text}]."""
    get_run(storage, step_run_id)  # NotFound names the run
    found = []
    for name in storage.list_names(layout.RUNS_CONTAINER, layout.script_step_logs_prefix(step_run_id)):
        text = storage.container(layout.RUNS_CONTAINER).download_blob(name).readall().decode(errors="replace")
        found.append({"try": int(name.rsplit("/", 1)[1].removesuffix(".txt")), "log": text})
    return found
