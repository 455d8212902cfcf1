"""Wheel build step: the SDK's copy of the app's domain code, under `fninfer._shared`.

The SDK (`fninfer.*`) and the app (`function_app.py`, `functions/`) share one domain, `shared/` (errors, storage
layout, model cache, ...). In the project, and in the zip Azure runs, `shared` is the app's top-level package and the
SDK imports it from there: one copy per process, so state the app sets (the model versions a service was deployed
with) is what the SDK's `Model.get_model_path` reads.

A user who `pip install`s fninfer has no app folder, and a top-level `shared` (or `functions`) in site-packages would
collide with their own modules and entry scripts. So the wheel carries the domain as `fninfer._shared`, copied from
`shared/` at build time with its imports (and the SDK's) rewritten from `shared` to `fninfer._shared`. The source
stays in one place; the wheel's copy is generated, never edited.
"""

from __future__ import annotations

import re
from pathlib import Path

from setuptools.command.build_py import build_py

SOURCE = "shared"
VENDORED = "fninfer._shared"
#: `from shared import x`, `from shared.core.errors import X`: the only forms the code base uses.
_FROM_IMPORT = re.compile(r"^(\s*)from shared(\.[\w.]+)? import ", re.MULTILINE)
#: `import shared` / `import shared.x`: would bind the name `shared`, which rewriting cannot keep; refused.
_PLAIN_IMPORT = re.compile(r"^\s*import shared\b", re.MULTILINE)


def rewrite(source: str, where: str) -> str:
    if _PLAIN_IMPORT.search(source):
        raise RuntimeError(f"{where}: write `from shared... import ...`; `import shared` cannot be vendored")
    return _FROM_IMPORT.sub(lambda m: f"{m.group(1)}from {VENDORED}{m.group(2) or ''} import ", source)


class BuildPy(build_py):
    """setuptools' build_py, then the vendored copy of `shared/` and the rewritten imports (not in editable
    installs, which import the sources as they are, with the project folder on the path)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        build = Path(self.build_lib)
        target = build.joinpath(*VENDORED.split("."))
        for source in sorted(Path(SOURCE).rglob("*.py")):
            if "__pycache__" in source.parts:
                continue
            destination = target / source.relative_to(SOURCE)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(rewrite(source.read_text(), str(source)))
        for built in sorted(build.rglob("*.py")):  # fninfer and fninfer_user
            if target not in built.parents:
                built.write_text(rewrite(built.read_text(), str(built)))
