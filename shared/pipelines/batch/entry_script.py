"""A ParallelRunStep entry script inside a Functions worker process, with Azure ML's contract.

- The script is imported as its own module per run (so two runs of different `score.py` files never share a module,
  and a rerun after registering a new model version inits afresh), from the run's source_directory snapshot, first on
  `sys.path` while it loads, with other snapshots' modules forgotten (shared/core/user_scripts.py, as for services): two
  steps that each ship a `utils.py` each import their own.
- While it is imported and `init()` runs, `sys.argv` is `[script, *arguments]` and `environment_variables` are set, as
  on an Azure ML node. Both are process-wide, so they stay set afterwards (the last run loaded in a process wins).
- `init()` runs once per worker process and run; the step's `models` are fetched into the model cache first, so
  `Model.get_model_path` finds them there, and `Model.get_model_path(name)` means the version the step names.
- `run(mini_batch)` gets local file paths (a FileDataset) or a pandas DataFrame (a TabularDataset), and
  `run(mini_batch, mini_batch_context)` also gets the mini-batch's partition and dataset when it takes two arguments;
  it runs on a thread of its own, so `run_invocation_timeout` can stop
  waiting for it; a process calls it for one mini-batch at a time, as each Azure ML worker process does. Python
  cannot kill a thread: a run() past its timeout is abandoned and finishes in the background.
- What run() prints or logs (`EntryScript().logger` included) is captured per mini-batch (up to MAX_LOG characters)
  for `step_run.get_logs()`; what init() printed goes with the first mini-batch the process ran.
- A script cannot take the host down: whatever init(), run() or shutdown() raise, `SystemExit` (argparse, sys.exit)
  and `KeyboardInterrupt` included, is a failed try with its reason in the logs. Only the host's own shutdown is not
  contained: a KeyboardInterrupt on the main thread, where the host, never a script, runs.
- `shutdown()`, if defined, runs once the run is over: right away in the process that finalizes the run, and in any
  other process when it next loads a script or exits.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import io
import logging
import os
import queue
import shutil
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.core.errors import EntryScriptFailed, NotFound
from shared.core.storage import Storage
from shared.core.user_scripts import MAX_CAPTURE, CaptureBuffer, contained, load_script
from shared.core.user_scripts import capture as _capture
from shared.core.user_scripts import install as _install_capture
from shared.pipelines.engine.step_parts import environment_log
from shared.registry.installed_packages import missing_module_hint
from shared.registry.model_cache import cached_model_path, deployed_models
from shared.registry.models import get_model
from shared.registry.snapshots import materialize
from shared.runs import run_context
from shared.runs.run_records import TERMINAL, RunRecord, RunStatus, get_run

MAX_LOG = MAX_CAPTURE

log = logging.getLogger("fninfer.batch")


#: The one error class of a script that cannot load (shared/core/errors.py), by the name minibatch.py imports.
EntryScriptError = EntryScriptFailed


@dataclass
class ScriptContext:
    """What `fninfer_user.parallel_run.EntryScript` shows the script that is running: Azure ML's attributes."""

    run_id: str
    step_name: str
    working_dir: Path
    output_dir: Path
    logger: logging.Logger
    node_id: str = field(default_factory=socket.gethostname)
    process_name: str = field(default_factory=lambda: f"process{os.getpid():03d}")
    run: run_context.RunContext | None = None  # what Run.get_context() is in init() and run(): the step run


_current = threading.local()


def current_context() -> ScriptContext | None:
    """The context of the entry script running on this thread (None outside a ParallelRunStep)."""
    return getattr(_current, "context", None)


def _script_context(run: RunRecord) -> ScriptContext:
    """Per run and process: local working and output folders (what the output folder holds is uploaded to the step's
    output after each mini-batch), and a logger at the step's logging_level."""
    base = Path(tempfile.gettempdir()) / "fninfer-runs" / run["id"] / str(os.getpid())
    working, output = base / "working", base / "output"
    working.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"fninfer.entry_script.{run['id']}")
    logger.setLevel(str(run["step"]["config"].get("logging_level") or "INFO").upper())
    return ScriptContext(run["id"], run["step"]["name"], working, output, logger)


@dataclass
class Outcome:
    """One call of run(): what it returned, or the error; and what it printed."""

    result: Any = None
    error: str | None = None
    traceback: str | None = None
    log: str = ""


@dataclass
class _Call:
    mini_batch: Any
    context: Any
    outcome: Outcome = field(default_factory=Outcome)
    buffer: io.StringIO = field(default_factory=CaptureBuffer)
    done: threading.Event = field(default_factory=threading.Event)


class _RunThread:
    """The thread that calls run(), kept between mini-batches (starting a thread under a busy GIL is slow). A call
    that passes its timeout abandons the thread: it finishes that call in the background and then ends."""

    def __init__(self, module: ModuleType, name: str, models: tuple[str, ...], context: ScriptContext) -> None:
        self.module = module
        self.models = models
        self.context = context
        self.with_context = _takes_two(module.run)
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.abandoned = False
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def stop(self) -> None:
        """The run is over: end the thread (with the module and context it holds) once its call, if any, returns."""
        self.abandoned = True
        self.calls.put(None)

    def _serve(self) -> None:
        run_context.bind(self.context.run)
        while not self.abandoned:
            call = self.calls.get()
            if call is None:
                return
            self._call(call)
            del call  # waiting for the next call, hold no mini-batch or result (they can be tens of MB)

    def _call(self, call: _Call) -> None:
        _capture.buffer, _current.context = call.buffer, self.context
        try:
            with deployed_models(self.models):
                arguments = (call.mini_batch, call.context) if self.with_context else (call.mini_batch,)
                call.outcome.result = self.module.run(*arguments)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a script cannot stop the host
            call.outcome.error = f"{type(exc).__name__}: {exc}"
            call.outcome.traceback = traceback.format_exc()
        finally:
            _capture.buffer, _current.context = None, None
            call.done.set()


def _takes_two(function: Callable[..., Any]) -> bool:
    """Whether run() takes (mini_batch, mini_batch_context), as Azure ML passes a partitioned job's context."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


@dataclass
class LoadedScript:
    run_id: str
    module: ModuleType
    context: ScriptContext
    models: tuple[str, ...] = ()  # the step's `models`: what get_model_path(name) resolves to in init() and run()
    init_log: str = ""  # what init() printed, until a mini-batch's log takes it
    lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: _RunThread | None = None

    def take_init_log(self) -> str:
        with self.lock:
            text, self.init_log = self.init_log, ""
        return text

    def call(self, mini_batch: Any, timeout: float, context: Any = None) -> Outcome:
        """run(mini_batch) (or run(mini_batch, context)), waiting at most `timeout` seconds for it."""
        _install_capture()
        call = _Call(mini_batch, context)
        # As on an Azure ML node, a worker process calls run() for one mini-batch at a time; other mini-batches of
        # this process meanwhile download their files. An abandoned (timed-out) call no longer holds the turn.
        with self.lock:
            if self._thread is None:
                self._thread = _RunThread(self.module, f"run-{self.run_id}", self.models, self.context)
            self._thread.calls.put(call)
            finished = call.done.wait(timeout)
            if not finished:
                self._thread.abandoned = True
                self._thread = None
        if not finished:  # a fresh outcome: the abandoned call may still write into its own
            error = f"run() did not return within run_invocation_timeout={timeout:g} s"
            return Outcome(error=error, log=call.buffer.getvalue()[:MAX_LOG])
        call.outcome.log = call.buffer.getvalue()[:MAX_LOG]
        return call.outcome


# -- loading, once per process and run -------------------------------------------------------------------------------

_loaded: dict[str, LoadedScript] = {}
_loaded_lock = threading.Lock()


def _import(storage: Storage, run: RunRecord, context: ScriptContext, init_log: io.StringIO) -> ModuleType:
    step = run["step"]
    folder = materialize(storage, step["snapshot"])
    for model_id in step["models"]:
        name, version = model_id.split(":")
        cached_model_path(storage, get_model(storage, name, int(version)))
    sys.argv = [str(folder / step["entry_script"]), *step["arguments"]]
    os.environ.update(step["config"]["environment_variables"])
    init_log.write("".join(f"{line}\n" for line in environment_log(step["environment"])))
    _current.context = context
    try:
        with (
            deployed_models(step["models"]),  # get_model_path(name) means the version the step names
            run_context.activate(storage, run["id"], run["experiment"], run.get("parent"), step["name"]) as active,
        ):
            context.run = active
            return load_script(folder, step["entry_script"], f"fninfer_entry_{run['id']}", init_log)
    except EntryScriptFailed as exc:
        if not isinstance(exc.__cause__, ModuleNotFoundError) or not exc.__cause__.name:
            raise
        requirements = (step["environment"] or {}).get("requirements")
        hint = missing_module_hint(exc.__cause__.name, requirements)
        raise EntryScriptFailed(f"{exc.message}: {hint}", **exc.details) from exc.__cause__
    finally:
        _current.context = None


def load(storage: Storage, run: RunRecord) -> LoadedScript:
    """The run's entry script in this process, imported and init()ed on first use."""
    with _loaded_lock:
        loaded = _loaded.get(run["id"])
        if loaded is None:
            shutdown_finished(storage, keep=run["id"])
            context, init_log = _script_context(run), CaptureBuffer()
            module = _import(storage, run, context, init_log)
            loaded = LoadedScript(
                run["id"], module, context, tuple(run["step"]["models"]), init_log.getvalue()[:MAX_LOG]
            )
            _loaded[run["id"]] = loaded
        return loaded


def _shutdown(loaded: LoadedScript) -> None:
    if loaded._thread is not None:
        loaded._thread.stop()
    shutdown: Callable[[], Any] | None = getattr(loaded.module, "shutdown", None)
    if callable(shutdown):
        _current.context = loaded.context
        try:
            shutdown()
        except BaseException as exc:  # a script's sys.exit() in shutdown() does not stop the host either
            if not contained(exc):
                raise
            log.exception("shutdown() of the entry script of run %s raised", loaded.run_id)
        finally:
            _current.context = None
    shutil.rmtree(loaded.context.working_dir, ignore_errors=True)  # the run's scratch in this process
    for folder in (loaded.context.output_dir, loaded.context.output_dir.parent):  # kept if shutdown() wrote there
        with contextlib.suppress(OSError):
            folder.rmdir()


def shutdown_run(run_id: str) -> None:
    """The run is over: call its script's shutdown() in this process (once) and forget the script."""
    with _loaded_lock:
        loaded = _loaded.pop(run_id, None)
    if loaded is not None:
        _shutdown(loaded)


def shutdown_finished(storage: Storage, keep: str) -> None:
    """Shut down the scripts of runs that ended since this process loaded them (called with the lock held)."""
    for run_id in [r for r in _loaded if r != keep]:
        try:
            over = RunStatus(get_run(storage, run_id)["status"]) in TERMINAL
        except NotFound:
            over = True  # its record is gone (deleted, or another storage account's run): nothing will use it again
        if over:
            _shutdown(_loaded.pop(run_id))


@atexit.register
def _shutdown_all() -> None:
    for run_id in list(_loaded):
        shutdown_run(run_id)
