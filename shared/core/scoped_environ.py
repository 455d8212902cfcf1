"""Environment variables with a value per context: what a service's or a batch step's code sees in `os.environ`.

Every service runs in the one process of a host instance, but Azure ML gives each its own environment (its own
container): `AZUREML_MODEL_DIR` above all, which most v1 scoring scripts read as
`os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'model.pkl')`. `scoped({...})` sets such values for the code running in
the block, and only for it: the values live in a `ContextVar`, so two services called at once on two threads each
read their own. `install()` (once per process) swaps `os.environ` for a mapping that consults that variable first;
`os.getenv`, `os.environ[...]`, `in`, `.get`, iteration and `.copy()` all go through it. Writes go to the process
environment as before. Child processes see the process environment only (they read the C-level environment).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

_overrides: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "fninfer_scoped_environ", default=None
)
_install_lock = threading.Lock()


class _ScopedEnviron(os._Environ):  # type: ignore[type-arg]
    """`os.environ` sharing the process environment's storage, with the current context's values on top."""

    def __getitem__(self, key: str) -> str:
        scoped = _overrides.get()
        if scoped is not None and key in scoped:
            return scoped[key]
        return str(super().__getitem__(key))

    def __contains__(self, key: object) -> bool:
        scoped = _overrides.get()
        return (scoped is not None and key in scoped) or super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        scoped = _overrides.get()
        yield from scoped or ()
        for key in super().__iter__():
            if scoped is None or key not in scoped:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def process_value(self, key: str) -> str | None:
        """The process environment's own value, whatever the current context sets."""
        try:
            return str(super().__getitem__(key))
        except KeyError:
            return None


def install() -> None:
    """Replace `os.environ` with the scoped mapping (once per process; the data stays the same dict)."""
    with _install_lock:
        if isinstance(os.environ, _ScopedEnviron):
            return
        current: Any = os.environ
        os.environ = _ScopedEnviron(  # noqa: B003 - the same data, read through the scoped mapping
            current._data, current.encodekey, current.decodekey, current.encodevalue, current.decodevalue
        )


class _ProcessEnviron(Mapping[str, str]):
    """The process environment as it is, whatever the current context shows."""

    def __getitem__(self, key: str) -> str:
        environ = os.environ
        value = environ.process_value(key) if isinstance(environ, _ScopedEnviron) else environ.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        environ = os.environ
        return super(_ScopedEnviron, environ).__iter__() if isinstance(environ, _ScopedEnviron) else iter(environ)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def process_environ() -> Mapping[str, str]:
    """The process environment without scoped values: app settings, for code that must not see a service's own
    (`get_setting(name, environ=process_environ())`)."""
    return _ProcessEnviron()


@contextlib.contextmanager
def scoped(values: Mapping[str, str]) -> Iterator[None]:
    """Within the block (this thread, this task), `os.environ` shows `values` over the process environment."""
    install()
    token = _overrides.set(values)
    try:
        yield
    finally:
        _overrides.reset(token)
