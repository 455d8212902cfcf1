"""A ParallelRunStep entry script inside a Functions worker process, with Azure ML's contract.

- The script is imported as its own module per run (so two runs of different `score.py` files never share a module,
  and a rerun after registering a new model version inits afresh), from the run's source_directory snapshot, which is
  also put on `sys.path` for the script's own imports.
- While it is imported and `init()` runs, `sys.argv` is `[script, *arguments]` and `environment_variables` are set, as
  on an Azure ML node. Both are process-wide, so they stay set afterwards (the last run loaded in a process wins).
- `init()` runs once per worker process and run; the step's `models` are fetched into the model cache first, so
  `Model.get_model_path` finds them there, and `Model.get_model_path(name)` means the version the step names.
- `run(mini_batch)` gets local file paths and runs on a thread of its own, so `run_invocation_timeout` can stop
  waiting for it; a process calls it for one mini-batch at a time, as each Azure ML worker process does. Python
  cannot kill a thread: a run() past its timeout is abandoned and finishes in the background.
- What run() prints or logs is captured per mini-batch (up to MAX_LOG characters) for `step_run.get_logs()`.
- `shutdown()`, if defined, runs once the run is over: right away in the process that finalizes the run, and in any
  other process when it next loads a script or exits.
"""

from __future__ import annotations

import atexit
import importlib.util
import io
import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from shared.errors import FninferError, InvalidInput, NotFound
from shared.model_cache import cached_model_path
from shared.models import deployed_models, get_model
from shared.pipelines.runs import TERMINAL, Record, RunStatus, get_run
from shared.services.snapshots import materialize
from shared.storage import Storage

MAX_LOG = 64 * 1024

log = logging.getLogger("fninfer.batch")


class EntryScriptError(FninferError):
    """The entry script could not be imported, or its init() raised."""


@dataclass
class Outcome:
    """One call of run(): what it returned, or the error; and what it printed."""

    result: Any = None
    error: str | None = None
    traceback: str | None = None
    log: str = ""


@dataclass
class _Call:
    mini_batch: list[str]
    outcome: Outcome = field(default_factory=Outcome)
    buffer: io.StringIO = field(default_factory=io.StringIO)
    done: threading.Event = field(default_factory=threading.Event)


class _RunThread:
    """The thread that calls run(), kept between mini-batches (starting a thread under a busy GIL is slow). A call
    that passes its timeout abandons the thread: it finishes that call in the background and then ends."""

    def __init__(self, module: ModuleType, name: str, models: tuple[str, ...]) -> None:
        self.module = module
        self.models = models
        self.calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self.abandoned = False
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while not self.abandoned:
            call = self.calls.get()
            _capture.buffer = call.buffer
            try:
                with deployed_models(self.models):
                    call.outcome.result = self.module.run(call.mini_batch)
            except BaseException as exc:
                call.outcome.error = f"{type(exc).__name__}: {exc}"
                call.outcome.traceback = traceback.format_exc()
            finally:
                _capture.buffer = None
                call.done.set()


@dataclass
class LoadedScript:
    run_id: str
    module: ModuleType
    models: tuple[str, ...] = ()  # the step's `models`: what get_model_path(name) resolves to in init() and run()
    lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: _RunThread | None = None

    def call(self, mini_batch: list[str], timeout: float) -> Outcome:
        """run(mini_batch), waiting at most `timeout` seconds for it."""
        _install_capture()
        call = _Call(list(mini_batch))
        # As on an Azure ML node, a worker process calls run() for one mini-batch at a time; other mini-batches of
        # this process meanwhile download their files. An abandoned (timed-out) call no longer holds the turn.
        with self.lock:
            if self._thread is None:
                self._thread = _RunThread(self.module, f"run-{self.run_id}", self.models)
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


# -- capturing what run() prints, per thread ----------------------------------------------------------------------

_capture = threading.local()


class _ThreadRouted:
    """sys.stdout/stderr: a thread running run() writes into its mini-batch's buffer, every other thread through."""

    def __init__(self, through: Any) -> None:
        self.through = through

    def write(self, text: str) -> int:
        buffer = getattr(_capture, "buffer", None)
        if buffer is not None and buffer.tell() < MAX_LOG:
            buffer.write(text)
        return self.through.write(text) if buffer is None else len(text)

    def flush(self) -> None:
        self.through.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.through, name)


class _BufferHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer = getattr(_capture, "buffer", None)
        if buffer is not None and buffer.tell() < MAX_LOG:
            buffer.write(self.format(record) + "\n")


_install_lock = threading.Lock()
_handler = _BufferHandler()
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def _install_capture() -> None:
    """Route sys.stdout/stderr through the per-thread capture (again, if something replaced them since)."""
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadRouted):
            sys.stdout = _ThreadRouted(sys.stdout)  # type: ignore[assignment]
        if not isinstance(sys.stderr, _ThreadRouted):
            sys.stderr = _ThreadRouted(sys.stderr)  # type: ignore[assignment]
        if _handler not in logging.getLogger().handlers:
            logging.getLogger().addHandler(_handler)


# -- loading, once per process and run -------------------------------------------------------------------------------

_loaded: dict[str, LoadedScript] = {}
_loaded_lock = threading.Lock()


def _import(storage: Storage, run: Record) -> ModuleType:
    step = run["step"]
    folder = materialize(storage, step["snapshot"])
    script = folder / step["entry_script"]
    for model_id in step["models"]:
        name, version = model_id.split(":")
        cached_model_path(storage, get_model(storage, name, int(version)))
    spec = importlib.util.spec_from_file_location(f"fninfer_entry_{run['id']}", script)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"entry script {step['entry_script']!r} cannot be imported", field="entry_script")
    module = importlib.util.module_from_spec(spec)
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    sys.argv = [str(script), *step["arguments"]]
    os.environ.update(step["config"]["environment_variables"])
    try:
        with deployed_models(step["models"]):  # get_model_path(name) means the version the step names
            spec.loader.exec_module(module)
            if not callable(getattr(module, "run", None)):
                raise InvalidInput(f"entry script {step['entry_script']!r} has no run(mini_batch) function")
            if callable(getattr(module, "init", None)):
                module.init()
    except FninferError:
        raise
    except BaseException as exc:
        raise EntryScriptError(
            f"entry script {step['entry_script']!r} failed to load: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        ) from exc
    return module


def load(storage: Storage, run: Record) -> LoadedScript:
    """The run's entry script in this process, imported and init()ed on first use."""
    with _loaded_lock:
        loaded = _loaded.get(run["id"])
        if loaded is None:
            shutdown_finished(storage, keep=run["id"])
            loaded = LoadedScript(run["id"], _import(storage, run), tuple(run["step"]["models"]))
            _loaded[run["id"]] = loaded
        return loaded


def _shutdown(loaded: LoadedScript) -> None:
    shutdown: Callable[[], Any] | None = getattr(loaded.module, "shutdown", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception:
            log.exception("shutdown() of the entry script of run %s raised", loaded.run_id)


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
