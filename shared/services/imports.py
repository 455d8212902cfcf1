"""Imports of an entry script and the helper modules its snapshot ships with.

Every service runs in the one Python process of a host instance, so `sys.path` and `sys.modules` are shared. While
an entry script's module body and its `init()` run, `snapshot_imports` puts the script's own snapshot first on
`sys.path` and forgets modules imported from other snapshots, so `import utils` finds this snapshot's `utils.py`:
not another service's, and after a reload the edited copy, not the old one. Modules already loaded keep the objects
they imported. Loads are serialized by a lock (they happen once per service version per instance). The folder then
stays at the end of `sys.path` for imports a `run()` makes lazily.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Lock()


def _from_snapshots(module: object, root: str) -> bool:
    return (getattr(module, "__file__", None) or "").startswith(root)


@contextlib.contextmanager
def snapshot_imports(folder: Path) -> Iterator[None]:
    """Import from `folder` (a materialized snapshot, under the snapshot cache) first while the block runs."""
    root, path = str(folder.parent) + "/", str(folder)
    with _lock:
        for name, module in list(sys.modules.items()):
            if _from_snapshots(module, root):
                del sys.modules[name]
        sys.path.insert(0, path)
        try:
            yield
        finally:
            sys.path.remove(path)
            if path not in sys.path:
                sys.path.append(path)
