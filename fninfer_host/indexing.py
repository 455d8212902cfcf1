"""Index `function_app.py` the way the Python worker does: import it, find the one FunctionApp, `get_functions()`.

The result is the same metadata the real host reads (each function's bindings as function.json would carry them),
plus the user callable, so the local host drives exactly what Azure would run.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.decorators.function_app import FunctionRegister

SCRIPT_FILE_NAME = "function_app.py"


class IndexingError(RuntimeError):
    """function_app.py could not be loaded or does not describe a valid set of functions."""


@dataclass(frozen=True)
class IndexedFunction:
    """One function as the host sees it: its name, its trigger binding and its callable."""

    name: str
    trigger: dict[str, Any]  # the trigger's binding, camelCase keys as in function.json
    bindings: tuple[dict[str, Any], ...]
    callable: Callable[..., Any]

    @property
    def trigger_type(self) -> str:
        """`httpTrigger`, `queueTrigger`, `timerTrigger`, `blobTrigger` or `warmupTrigger` (others are refused at
        indexing)."""
        return str(self.trigger["type"])

    @property
    def trigger_arg(self) -> str:
        """The Python parameter the trigger value is passed as."""
        return str(self.trigger["name"])

    @functools.cached_property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.callable)

    @functools.cached_property
    def wants_context(self) -> bool:
        """True when the function declares a `context` parameter (it then gets a `func.Context`)."""
        return "context" in inspect.signature(self.callable).parameters


SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger", "blobTrigger", "warmupTrigger")


def load_function_app(app_dir: Path) -> func.FunctionApp:
    """Import `<app_dir>/function_app.py` and return its single module-level FunctionApp."""
    script = app_dir / SCRIPT_FILE_NAME
    if not script.is_file():
        raise IndexingError(f"{script} does not exist: the app folder must contain {SCRIPT_FILE_NAME}")
    # The app folder is the import root in Azure too (functions/ and shared/ import from it).
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location("function_app", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise IndexingError(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if not apps:
        raise IndexingError(f"Could not find top level function app instances in {SCRIPT_FILE_NAME}")
    if len(apps) > 1:
        raise IndexingError(f"{SCRIPT_FILE_NAME} has {len(apps)} top level function app instances; it must have one")
    return apps[0]  # type: ignore[return-value]


def index_functions(app_dir: Path) -> list[IndexedFunction]:
    """Every function of the app in registration order; refuses unsupported triggers by name."""
    app = load_function_app(app_dir)
    try:
        functions = app.get_functions()
    except Exception as exc:  # the library's own validation: missing trigger, duplicate names, ...
        raise IndexingError(f"indexing {SCRIPT_FILE_NAME} failed: {exc}") from exc
    indexed: list[IndexedFunction] = []
    for function in functions:
        bindings = tuple(json.loads(function.get_function_json())["bindings"])
        trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
        if trigger["type"] not in SUPPORTED_TRIGGERS:
            raise IndexingError(
                f"function {function.get_function_name()!r} uses trigger {trigger['type']!r}; "
                f"the local host runs {', '.join(SUPPORTED_TRIGGERS)}"
            )
        indexed.append(
            IndexedFunction(
                name=function.get_function_name(),
                trigger=trigger,
                bindings=bindings,
                callable=function.get_user_function(),
            )
        )
    return indexed
