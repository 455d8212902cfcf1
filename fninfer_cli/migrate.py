"""`fninfer migrate`: rewrite `azureml.*` / `azureml_user.*` imports to fninfer's, and nothing else.

libcst rewrites only the module names of import statements, so formatting and comments stay as they were. The
name mapping is the app's import alias's (`azureml.core.model` -> `fninfer.core.model`, `azureml_user.parallel_run`
-> `fninfer_user.parallel_run`, `azureml.contrib.services...` -> `fninfer.contrib.services...`). A plain
`import azureml.core` binds the name `azureml`, which the code then uses (`azureml.core.Model`): it becomes
`import fninfer.core, fninfer as azureml`, which binds the same name to the same modules, so no other line changes.
An import of a module fninfer does not provide is left as it is and named in the notes (`fninfer check` says what to
use instead). Rewritten code is rewritten again to itself: running it twice changes nothing.

Notebooks: each code cell is rewritten (IPython lines masked meanwhile), and only the changed lines' JSON strings
are replaced in the file's text, so the notebook's own JSON layout, outputs and metadata stay byte for byte.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.helpers import get_full_name_for_node

from fninfer_cli.sources import cell_text, load_notebook, mask, unmask, walk
from shared.core.azureml_alias import ROOTS, target_name


def provided(module: str) -> str | None:
    """fninfer's module for an azureml module name, when fninfer has it."""
    target = target_name(module)
    if target is None:
        return None
    try:
        return target if importlib.util.find_spec(target) is not None else None
    except (ImportError, ValueError):
        return None


def _dotted(name: str) -> cst.Attribute | cst.Name:
    node = cst.parse_expression(name)
    assert isinstance(node, (cst.Attribute, cst.Name))
    return node


class _ImportRewriter(cst.CSTTransformer):
    def __init__(self) -> None:
        self.left: list[str] = []  # azureml modules fninfer does not provide, left as imported

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if updated.relative or updated.module is None:
            return updated
        module = get_full_name_for_node(updated.module)
        if module is None or module.partition(".")[0] not in ROOTS:
            return updated
        target = provided(module)
        if target is None:
            self.left.append(module)
            return updated
        return updated.with_changes(module=_dotted(target))

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names: list[cst.ImportAlias] = []
        bound_roots: list[str] = []
        changed = False
        for alias in updated.names:
            module = get_full_name_for_node(alias.name)
            root = (module or "").partition(".")[0]
            if module is None or root not in ROOTS:
                names.append(alias)
                continue
            target = provided(module)
            if target is None:
                self.left.append(module)
                names.append(alias)
                continue
            changed = True
            if alias.asname is not None:
                names.append(alias.with_changes(name=_dotted(target)))
            elif module == root:
                names.append(alias.with_changes(name=_dotted(target), asname=cst.AsName(cst.Name(root))))
            else:
                names.append(alias.with_changes(name=_dotted(target)))
                if root not in bound_roots:
                    bound_roots.append(root)
        if not changed:
            return updated
        for root in bound_roots:  # `import azureml.core` bound `azureml`: bind it to fninfer's package
            if not any(a.asname is not None and get_full_name_for_node(a.asname.name) == root for a in names):
                names.append(cst.ImportAlias(name=_dotted(ROOTS[root]), asname=cst.AsName(cst.Name(root))))
        names = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in names[:-1]] + [
            names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        ]
        return updated.with_changes(names=names)


def rewrite_source(source: str) -> tuple[str, list[str]]:
    """The Python text with its azureml imports rewritten, and the azureml modules left as they were. Raises
    libcst's ParserSyntaxError for text that is not Python."""
    module = cst.parse_module(source)
    rewriter = _ImportRewriter()
    return module.visit(rewriter).code, rewriter.left


@dataclass
class FileChange:
    path: Path
    before: str  # the Python text (a notebook: its cells' text, one after another) before
    after: str
    left: list[str] = field(default_factory=list)
    new_text: str | None = None  # what the file is to hold (None: unchanged)
    error: str | None = None

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


def migrate_python(path: Path) -> FileChange:
    text = path.read_text(encoding="utf-8")
    try:
        new, left = rewrite_source(text)
    except cst.ParserSyntaxError as exc:
        return FileChange(path, text, text, error=f"not rewritten: it does not parse ({exc.message})")
    return FileChange(path, text, new, left, new_text=new if new != text else None)


def _json_string_forms(value: str) -> list[str]:
    return list(dict.fromkeys([json.dumps(value), json.dumps(value, ensure_ascii=False)]))


def migrate_notebook(path: Path) -> FileChange | None:
    notebook = load_notebook(path)
    if notebook is None:
        return None
    raw = path.read_text(encoding="utf-8")
    before_parts, after_parts, left = [], [], []
    replacements: dict[str, str] = {}
    for index, cell in enumerate(notebook["cells"], start=1):
        if cell.get("cell_type") != "code":
            continue
        text = cell_text(cell)
        first, newline, rest = text.partition("\n")
        try:
            if first.startswith("%%writefile"):
                new_rest, cell_left = rewrite_source(rest) if first.split()[-1].endswith(".py") else (rest, [])
                new = first + newline + new_rest
            elif first.startswith("%%"):
                continue
            else:
                masked, lines = mask(text)
                new_masked, cell_left = rewrite_source(masked)
                new = unmask(new_masked, lines)
        except cst.ParserSyntaxError:
            continue  # a cell that is not Python (a syntax error left in a notebook): not rewritten
        left += cell_left
        if new == text:
            continue
        before_parts.append(f"# [cell {index}]\n{text}\n")
        after_parts.append(f"# [cell {index}]\n{new}\n")
        source = cell.get("source", "")
        old_items = source if isinstance(source, list) else [source]
        new_items = new.splitlines(keepends=True) if isinstance(source, list) else [new]
        if len(old_items) != len(new_items):
            return FileChange(path, text, new, error="not rewritten: a cell's lines changed in number")
        for old_item, new_item in zip(old_items, new_items, strict=True):
            if old_item != new_item:
                replacements[old_item] = new_item
    new_raw = raw
    for old_item, new_item in replacements.items():
        for form in _json_string_forms(old_item):
            if form in new_raw:
                new_raw = new_raw.replace(form, json.dumps(new_item, ensure_ascii="\\u" in form))
                break
        else:
            return FileChange(path, raw, raw, error="not rewritten: its JSON strings are laid out unusually")
    return FileChange(
        path, "".join(before_parts), "".join(after_parts), left, new_text=new_raw if new_raw != raw else None
    )


def migrate(paths: list[Path]) -> list[FileChange]:
    """What migrating `paths` changes (nothing is written here)."""
    changes = []
    for path in walk(paths):
        if path.suffix == ".py":
            changes.append(migrate_python(path))
        elif path.suffix == ".ipynb":
            change = migrate_notebook(path)
            if change is not None:
                changes.append(change)
    return changes
