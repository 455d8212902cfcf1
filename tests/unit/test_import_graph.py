"""The app's import graph: no cycle among its modules, and no import inside a function but those listed here with why.

import-linter checks the layers (pyproject.toml, [tool.importlinter]); this test sees what it cannot: function_app.py
(a module, which grimp cannot root a graph at), imports of `azure.functions` (import-linter sees only `azure`), and
imports placed inside functions, which hide a cycle as easily as they defer a heavy module. `make lint` runs both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions")
APP_MODULE = "function_app"

#: The imports placed inside a function in shared/ and functions/, by file and module imported, with why each is not
#: at the top of its module. Never to dodge a cycle: a cycle is fixed where it is (see the layers in pyproject.toml).
DEFERRED = {
    ("shared/core/storage.py", "azure.identity"): (
        "needed only where the app connects with an identity (in Azure), not with a connection string (Azurite, "
        "tests); importing it costs ~40 ms of every start"
    ),
    ("shared/registry/tabular.py", "pyarrow"): (
        "an optional extra (fninfer[parquet], ~55 MB of the zip): importing it is the check that it is installed, "
        "when a Parquet file is read"
    ),
}


def source_files() -> Iterator[Path]:
    yield ROOT / f"{APP_MODULE}.py"
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names (for `from m import n`: `m.n` and `m`; the graph knows which is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        raise AssertionError(f"relative import at line {node.lineno}: the app's imports are absolute")
    return [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]


def imports_in_functions(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import placed inside a function (or lambda) of the file."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if inside and isinstance(child, ast.Import | ast.ImportFrom):
                module = child.module if isinstance(child, ast.ImportFrom) else child.names[0].name
                found.append((child.lineno, str(module)))
            visit(child, inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def app_graph() -> grimp.ImportGraph:
    """shared/, functions/ and function_app.py, every import counted (inside functions and under TYPE_CHECKING too:
    a cycle the type checker or a later call walks is a cycle)."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph.add_module(APP_MODULE)
    for path in source_files():
        importer = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = imported_names(node)
            if APP_MODULE in names:
                graph.add_import(importer=importer, imported=APP_MODULE)
            elif importer == APP_MODULE:  # grimp did not read function_app.py: its imports of the packages
                for name in names:
                    if name in graph.modules:
                        graph.add_import(importer=importer, imported=name)
    return graph


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (strongly connected components, Tarjan's)."""
    modules = sorted(graph.modules)
    edges = {module: sorted(graph.find_modules_directly_imported_by(module) & set(modules)) for module in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in edges[module]:
            if imported not in index:
                connect(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1 or module in edges[module]:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            connect(module)
    return found


def test_the_app_has_no_import_cycle() -> None:
    graph = app_graph()
    assert graph.find_modules_directly_imported_by(APP_MODULE)  # function_app.py was read
    found = cycles(graph)
    assert not found, "import cycles (fix the dependency, do not hide it in a function):\n" + "\n".join(
        " <-> ".join(group) for group in found
    )


def test_only_the_listed_imports_are_placed_inside_functions() -> None:
    found = {
        (str(path.relative_to(ROOT)), module): line
        for path in source_files()
        for line, module in imports_in_functions(path)
    }
    unlisted = sorted(
        f"{path}:{line}: {module}" for (path, module), line in found.items() if (path, module) not in DEFERRED
    )
    assert not unlisted, "imports inside functions: move them to the top of the module, or list them in DEFERRED " + (
        f"with why they must wait: {unlisted}"
    )
    assert sorted(set(DEFERRED) - set(found)) == [], "DEFERRED lists imports that are no longer inside a function"
    assert all(reason.strip() for reason in DEFERRED.values())


def test_shared_does_not_import_the_functions_runtime() -> None:
    """shared/ knows storage, not HTTP or triggers (import-linter sees `azure.functions` only as `azure`)."""
    offending = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "shared").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(name == "azure.functions" or name.startswith("azure.functions.") for name in imported_names(node))
    ]
    assert offending == []


def test_the_checks_see_a_cycle_and_an_import_inside_a_function(tmp_path: Path) -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")]:
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph) == [["a.x", "a.y", "a.z"]]
    source = tmp_path / "m.py"
    source.write_text(
        "import os\n\n\ndef f():\n    from json import dumps\n    return dumps, lambda: __import__('x')\n"
    )
    assert imports_in_functions(source) == [(5, "json")]
