"""The files `fninfer check` and `fninfer migrate` read: Python files, notebooks' code cells (a `%%writefile` cell as
the file it writes), environment files and Azure ML's configuration files, found under the paths given.

Notebook cells may hold IPython syntax libcst cannot parse (`%pip install ...`, `!ls`, `%%time`): such lines are
masked as comments while the cell is read or rewritten, then put back as they were.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Folders never looked into.
SKIPPED_DIRS = frozenset(
    {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".fninfer", ".ipynb_checkpoints", ".tox", "build"}
)
_MAGIC = re.compile(r"^\s*(%|!|\?)")
_MASK = "# fninfer-masked-line {index}"
_MASKED = re.compile(r"^# fninfer-masked-line (\d+)$")


def walk(paths: list[Path]) -> Iterator[Path]:
    """Every file under `paths` (files as given), in a stable order, skipping virtualenvs (the folders named so, and
    any holding a pyvenv.cfg), VCS and cache folders, which are not even walked: a project's .venv alone holds tens
    of thousands of files."""
    for path in paths:
        if path.is_file():
            yield path
            continue
        found: list[Path] = []
        for folder, folders, files in os.walk(path):
            folders[:] = [
                name
                for name in folders
                if name not in SKIPPED_DIRS and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
            ]
            found.extend(file for name in files if (file := Path(folder, name)).is_file())
        yield from sorted(found)


@dataclass
class Cell:
    """One notebook code cell's Python text."""

    index: int  # the cell's number among all cells, from 1
    source: str  # the Python text (a %%writefile cell: the file's text)
    masked: dict[int, str]  # masked line number (0-based) -> the original IPython line
    writes: str | None = None  # the file a %%writefile cell writes
    line_offset: int = 0  # lines before `source` in the cell (the %%writefile line)

    def where(self, notebook: Path) -> str:
        return f"{notebook}[cell {self.index}" + (f": {self.writes}" if self.writes else "") + "]"


def mask(text: str) -> tuple[str, dict[int, str]]:
    """Text with IPython lines replaced by comment lines (libcst parses it), and what was replaced."""
    lines = text.splitlines(keepends=True)
    masked = {}
    for number, line in enumerate(lines):
        if _MAGIC.match(line):
            masked[number] = line
            ending = "\n" if line.endswith("\n") else ""
            indent = line[: len(line) - len(line.lstrip())]
            lines[number] = indent + _MASK.format(index=number) + ending
    return "".join(lines), masked


def unmask(text: str, masked: dict[int, str]) -> str:
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        found = _MASKED.match(line.strip())
        if found and int(found.group(1)) in masked:
            lines[number] = masked[int(found.group(1))]
    return "".join(lines)


def cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(notebook: dict) -> Iterator[Cell]:
    """The notebook's code cells as Python text, each `%%writefile PATH` cell as the file it writes."""
    for index, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        text = cell_text(cell)
        first, _, rest = text.partition("\n")
        if first.startswith("%%writefile"):
            target = first.split()[-1] if len(first.split()) > 1 else None
            if target is None or not target.endswith(".py"):
                continue
            yield Cell(index, rest, {}, writes=target, line_offset=1)
        elif first.startswith("%%"):
            continue  # a cell magic other than writefile (%%bash, %%html ...): not Python
        else:
            source, masked = mask(text)
            yield Cell(index, source, masked)


def load_notebook(path: Path) -> dict | None:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return notebook if isinstance(notebook, dict) and isinstance(notebook.get("cells"), list) else None
