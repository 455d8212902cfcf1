"""User entry scripts in the host's process, for real-time services and batch steps alike: how one is loaded, how
what it prints is captured, and which of its exceptions are its own.

Loading (`load_script`). The script is imported from its materialized snapshot as a module of its own name (the
caller's: one per service version, one per batch run), then its `init()` runs. Every script shares the one Python
process of a host instance, so `sys.path` and `sys.modules` are shared: while the module body and `init()` run, the
script's own snapshot is first on `sys.path` and modules imported from other snapshots are forgotten, so
`import utils` finds this snapshot's `utils.py`, not another service's or another step's, and after a reload the
edited copy, not the old one. Modules already loaded keep the objects they imported. Loads are serialized by a lock
(they happen once per service version or batch run per process). The folder then stays at the end of `sys.path`
for imports a `run()` makes lazily.

Containing (`contained`). Whatever user code raises, `SystemExit` (argparse, sys.exit) and `KeyboardInterrupt`
included, is the script's failure, never the host's: only the host's own shutdown (a KeyboardInterrupt on the main
thread, where the host, never a script, runs) is not contained. A failed import or init() is `EntryScriptFailed`,
with the traceback and what the script printed.

Capturing (`capture`, `install`). While user code runs on a thread, `capture.buffer` names where its output goes: a
service's log (shared/services/service_logs.py), or a mini-batch's `CaptureBuffer`. `sys.stdout`/`sys.stderr` and a root
logging handler route that thread's `print` output and `logging` records there; a sink with `echo` also lets the
text through to the process's own stream (the host's console). Every other thread's output goes through untouched.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from shared.core import azureml_alias
from shared.core.errors import EntryScriptFailed, FninferError, InvalidInput

#: What a batch mini-batch's (or init()'s) log keeps of what the script printed.
MAX_CAPTURE = 64 * 1024


def contained(exc: BaseException) -> bool:
    """Whether an exception from user code is the script's failure (everything, `SystemExit` included), not the
    host's own shutdown (a KeyboardInterrupt on the main thread)."""
    return not (isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread())


# -- capturing what user code prints or logs, per thread ---------------------------------------------------------


class Sink(Protocol):
    """Where a thread running user code sends its output."""

    #: Also write stream output through to the process's own stdout/stderr.
    echo: bool
    #: How a logging record becomes text in this sink.
    formatter: logging.Formatter

    def write(self, text: str) -> Any: ...


class CaptureBuffer(io.StringIO):
    """A mini-batch's (or init()'s) captured output, kept up to MAX_CAPTURE characters."""

    echo = False
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def write(self, text: str) -> int:
        if self.tell() < MAX_CAPTURE:
            super().write(text)
        return len(text)


#: `capture.buffer`: the Sink of the user code running on this thread (None: output goes through untouched).
capture = threading.local()


@contextlib.contextmanager
def capturing(sink: Sink) -> Iterator[None]:
    """Send this thread's output to `sink` while the block runs (then to whatever it went to before)."""
    install()
    previous = getattr(capture, "buffer", None)
    capture.buffer = sink
    try:
        yield
    finally:
        capture.buffer = previous


class _Routed:
    """sys.stdout/stderr: a thread running user code writes into its sink, every other thread through."""

    def __init__(self, through: Any) -> None:
        self.through = through

    def write(self, text: str) -> int:
        sink: Sink | None = getattr(capture, "buffer", None)
        if sink is None:
            return int(self.through.write(text))
        sink.write(text)
        return int(self.through.write(text)) if sink.echo else len(text)

    def flush(self) -> None:
        self.through.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.through, name)


class _RoutedHandler(logging.Handler):
    """Logging records of a thread running user code, into its sink (the console has its own handler)."""

    def emit(self, record: logging.LogRecord) -> None:
        sink: Sink | None = getattr(capture, "buffer", None)
        if sink is not None:
            sink.write(sink.formatter.format(record) + "\n")


_install_lock = threading.Lock()
_handler = _RoutedHandler(logging.DEBUG)


def install() -> None:
    """Route sys.stdout/stderr and the root logger through the per-thread capture (again, if something replaced the
    streams since: pytest's capture, a script that set sys.stdout)."""
    if isinstance(sys.stdout, _Routed) and isinstance(sys.stderr, _Routed) and _handler in logging.root.handlers:
        return
    with _install_lock:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed(sys.stdout)
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed(sys.stderr)
        if _handler not in logging.root.handlers:
            logging.root.addHandler(_handler)


# -- loading -----------------------------------------------------------------------------------------------------

_imports_lock = threading.Lock()
#: The folders snapshots were loaded from in this process (the snapshot cache, the snapshots baked into the app;
#: the cache's place can change with its setting): a module whose file is below one came from a snapshot.
_snapshot_roots: set[str] = set()


@contextlib.contextmanager
def snapshot_imports(folder: Path) -> Iterator[None]:
    """Import from `folder` (a materialized snapshot: the snapshot cache's or a baked one) first while the block
    runs, with modules of every snapshot loaded so far forgotten (see the module's docstring)."""
    path = str(folder)
    with _imports_lock:
        _snapshot_roots.add(str(folder.parent) + "/")
        roots = tuple(_snapshot_roots)
        for name, module in list(sys.modules.items()):
            if (getattr(module, "__file__", None) or "").startswith(roots):
                del sys.modules[name]
        sys.path.insert(0, path)
        try:
            yield
        finally:
            sys.path.remove(path)
            if path not in sys.path:
                sys.path.append(path)


def load_script(
    folder: Path, entry_script: str, module_name: str, sink: Sink, required: tuple[str, ...] = ("run",)
) -> ModuleType:
    """Import `entry_script` (a path inside the materialized snapshot `folder`) as `module_name` and call its init()
    if it has one, isolated as the module's docstring says, with what it prints going to `sink`. Raises InvalidInput
    when it cannot be imported or lacks a `required` function, EntryScriptFailed when importing it or its init()
    raised (whatever it raised)."""
    spec = importlib.util.spec_from_file_location(module_name, folder / entry_script)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"entry script {entry_script!r} cannot be imported", field="entry_script")
    module = importlib.util.module_from_spec(spec)
    azureml_alias.activate()  # the script may keep its azureml imports
    stage = "importing it"
    with snapshot_imports(folder), capturing(sink):
        try:
            spec.loader.exec_module(module)
            for name in required:
                if not callable(getattr(module, name, None)):
                    raise InvalidInput(f"entry script {entry_script!r} has no {name}() function", field="entry_script")
            if callable(getattr(module, "init", None)):
                stage = "init()"
                module.init()
        except FninferError:
            raise
        except BaseException as exc:  # SystemExit from argparse or sys.exit() too
            if not contained(exc):
                raise
            reason = f"entry script {entry_script!r} failed to load: {stage} raised {type(exc).__name__}: {exc}"
            captured = sink.getvalue()[:MAX_CAPTURE] if isinstance(sink, io.StringIO) else ""
            logging.getLogger("fninfer.entry_script").error("%s", reason, exc_info=True)  # a service's log has it
            raise EntryScriptFailed(reason, traceback=traceback.format_exc(), log=captured) from exc
    return module
