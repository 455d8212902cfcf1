"""Modules imported when first used, not when the module naming them is imported.

A host instance imports the whole app when it starts (the Functions host indexes function_app.py), and an entry
script that imports `fninfer.core` imports the whole SDK; pandas (with pyarrow, which it imports when installed) and
numpy are most of that time and memory, and only tabular datasets, profiling and no-code models need them. So the
modules that use them name them with `lazy("pandas")`: an object that imports the real module on its first
attribute access and forwards every access to it.

It is not put in `sys.modules`: code elsewhere that checks whether pandas is loaded (scikit-learn does, to know
whether an input may be a DataFrame) still sees that it is not.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module `name` until an attribute is read from it (see the module's docstring)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            with self._lock:
                if self._module is None:
                    self._module = importlib.import_module(self.__name__)
        return self._module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({state})>"


def lazy(name: str) -> Any:
    """The module `name`, imported on first use (typed as Any: annotate with the real module under TYPE_CHECKING)."""
    return LazyModule(name)
