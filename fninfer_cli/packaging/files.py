"""The app's own files, as Core Tools publishes them: everything under the app folder except what `.funcignore`
(gitignore syntax) names, and what is never part of a deployment."""

from __future__ import annotations

import os
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


def app_files(app_dir: Path) -> list[str]:
    """The app's files to package, as sorted POSIX paths relative to `app_dir` (a symbolic link to a file is taken;
    one to a folder is not entered)."""
    ignore_file = app_dir / FUNCIGNORE
    ignored = ignore_file.read_text().splitlines() if ignore_file.is_file() else []
    spec = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_LEFT_OUT, *ignored])
    # A folder left out is not walked (.venv and node_modules hold most files), unless a negation in .funcignore may
    # take back a file inside it: then only what is never packaged is skipped whole.
    negated = any(line.strip().startswith("!") for line in ignored)
    skipped = pathspec.GitIgnoreSpec.from_lines(ALWAYS_LEFT_OUT) if negated else spec
    found = []
    for folder, folders, files in os.walk(app_dir):
        base = Path(folder).relative_to(app_dir)
        folders[:] = [name for name in folders if not skipped.match_file(f"{(base / name).as_posix()}/")]
        found += [relative for name in files if not spec.match_file(relative := (base / name).as_posix())]
    return sorted(found)
