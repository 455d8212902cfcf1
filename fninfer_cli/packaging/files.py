"""The app's own files, as Core Tools publishes them: everything under the app folder except what `.funcignore`
(gitignore syntax) names, and what is never part of a deployment."""

from __future__ import annotations

from pathlib import Path

import pathspec

FUNCIGNORE = ".funcignore"
#: Never packaged, whatever .funcignore says: local state, caches, and what the package build writes itself.
ALWAYS_LEFT_OUT = [
    ".git/",
    ".venv/",
    "node_modules/",
    ".fninfer/",
    "__pycache__/",
    "*.pyc",
    "*.egg-info/",
    "local.settings.json",
    ".python_packages/",
    "requirements.txt",
]


def left_out(app_dir: Path) -> pathspec.GitIgnoreSpec:
    lines = list(ALWAYS_LEFT_OUT)
    ignore_file = app_dir / FUNCIGNORE
    if ignore_file.is_file():
        lines += ignore_file.read_text().splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def app_files(app_dir: Path) -> list[str]:
    """The app's files to package, as sorted POSIX paths relative to `app_dir` (symbolic links are followed)."""
    spec = left_out(app_dir)
    found = []
    for path in sorted(app_dir.rglob("*")):
        relative = path.relative_to(app_dir).as_posix()
        if path.is_dir():
            continue
        if not spec.match_file(relative):
            found.append(relative)
    return found
