"""`fninfer check`: what of a v1 project runs on fninfer, what runs differently, and what does not run.

Python files and notebooks' code cells are read with libcst (positions kept). Every `azureml.*` / `azureml_user.*`
import is resolved, and so are the calls and attributes used on what the imports bind, and on variables assigned
from them (`ws = Workspace.from_config()` makes `ws` a Workspace: fninfer's return annotations say what a call
returns). Each use gets a verdict:

- `runs`: fninfer has it, and a call's arguments bind to fninfer's signature;
- `differs`: it runs, and data/differences.toml (docs/differences.md's "What differs from Azure ML" table) says how
  it differs;
- `unsupported`: it fails on fninfer (fninfer lacks the name or a keyword, or the differences say so), with why and
  what to use instead.

The real SDK's side comes from data/azureml_surface.json (no azureml install needed), fninfer's from the installed
package. Environment files (conda YAML, pip requirements) are checked pin by pin as a deployment's environment
check would (`environment_check="warn"`: each pin the app does not meet `differs`); Azure ML's inference,
deployment and run configuration files by their keys; `.amlignore` is honoured as Azure ML honours it.

The analysis is static: a name bound in a way it cannot follow (a function's parameter, a loop variable, a
subscript) is not judged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import libcst as cst
import yaml
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from fninfer_cli.differences import Difference, by_target
from fninfer_cli.sources import code_cells, load_notebook, walk
from fninfer_cli.surface import canonical, fninfer_object, is_azureml, real_keywords, resolve, returns, signature
from shared.core.azureml_alias import ROOTS, target_name
from shared.registry.installed_packages import check_environment

VERDICTS = ("runs", "differs", "unsupported")
_INSTANCE = "instance:"


@dataclass
class Finding:
    """One use of Azure ML in the project, with its verdict."""

    path: str  # the file (a notebook cell: `nb.ipynb[cell 3]`, or `[cell 3: score.py]` for a %%writefile cell)
    line: int
    column: int
    name: str  # the azureml name used (or the package / configuration key)
    kind: str  # import, call, attribute, environment, configuration
    verdict: str
    message: str
    difference: str | None = None  # the id of the differences record it comes from

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.verdict}: {self.name} - {self.message}"


_SPELLED = {fninfer: azureml for azureml, fninfer in ROOTS.items()}


def azureml_module(module: str) -> str | None:
    """The azureml name of an imported module: itself, or the azureml module a fninfer module mirrors (a project
    already migrated is checked the same way)."""
    if is_azureml(module):
        return module
    root, dot, rest = module.partition(".")
    if root in _SPELLED:
        counterpart = _SPELLED[root] + dot + rest
        if target_name(counterpart) == module:
            return counterpart
    return None


def _with_difference(record: Difference) -> str:
    return f"{record.how}. What to do: {record.todo}"


class _Analyzer(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider)

    def __init__(self, where: str, bindings: dict[str, str], line_offset: int = 0) -> None:
        self.where = where
        self.bindings = bindings  # local name -> azureml name, or "instance:<azureml class name>"
        self.line_offset = line_offset
        self.findings: list[Finding] = []

    # -- reporting ---------------------------------------------------------------------------------------------

    def _report(self, node: cst.CSTNode, name: str, kind: str, verdict: str, message: str, record: str | None) -> None:
        position = self.get_metadata(PositionProvider, node).start
        self.findings.append(
            Finding(
                self.where, position.line + self.line_offset, position.column + 1, name, kind, verdict, message, record
            )
        )

    def _judge(self, node: cst.CSTNode, name: str, kind: str, call: cst.Call | None = None) -> None:
        verdict, message, record = judge(name, call)
        self._report(node, name, kind, verdict, message, record)

    # -- names -------------------------------------------------------------------------------------------------

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The azureml name an expression stands for ("instance:<class>" for an object of an azureml class)."""
        if isinstance(node, cst.Name):
            return self.bindings.get(node.value)
        if isinstance(node, cst.Attribute):
            base = _as_base(self.qualify(node.value))
            if base is None:
                return None
            return f"{base.removeprefix(_INSTANCE)}.{node.attr.value}"
        if isinstance(node, cst.Call):
            called = self.qualify(node.func)
            if called is None:
                return None
            resolved = resolve(called.removeprefix(_INSTANCE))
            if not resolved.has_fninfer:
                return None
            owner = called.removeprefix(_INSTANCE).rsplit(".", 1)[0]
            returned = returns(resolved.fninfer, owner if owner.rsplit(".", 1)[-1][:1].isupper() else None)
            return f"{_INSTANCE}{returned}" if returned else None
        return None

    # -- imports -----------------------------------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            spelled = get_full_name_for_node(alias.name)
            module = azureml_module(spelled or "")
            if spelled is None or module is None:
                continue
            if alias.asname is not None:
                self.bindings[get_full_name_for_node(alias.asname.name) or ""] = module
            else:
                self.bindings[spelled.partition(".")[0]] = module.partition(".")[0]
            self._judge(alias, module, "import")
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.relative or node.module is None:
            return False
        module = azureml_module(get_full_name_for_node(node.module) or "")
        if module is None:
            return False
        if isinstance(node.names, cst.ImportStar):
            self._judge(node, module, "import")
            return False
        for alias in node.names:
            name = get_full_name_for_node(alias.name) or ""
            local = get_full_name_for_node(alias.asname.name) if alias.asname is not None else name
            self.bindings[local or name] = f"{module}.{name}"
            self._judge(alias, f"{module}.{name}", "import")
        return False

    # -- uses --------------------------------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        name = self.qualify(node.func)
        if name is not None and not name.startswith(_INSTANCE):  # not a call of an object itself
            self._judge(node, name, "call", node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        parent = self.get_metadata(ParentNodeProvider, node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return  # the chain is judged at its outermost attribute
        if isinstance(parent, cst.Call) and parent.func is node:
            return  # judged as the call
        name = self.qualify(node)
        while name is None and isinstance(node.value, cst.Attribute):
            node = node.value  # the chain goes on from an object of unknown class: judge as far as it is known
            name = self.qualify(node)
        if name is None:
            return
        base = self.qualify(node.value)
        if base is not None and base.startswith(_INSTANCE) and not resolve(base.removeprefix(_INSTANCE)).has_fninfer:
            return  # the object itself was judged unsupported
        self._judge(node, name, "attribute")

    def visit_Assign(self, node: cst.Assign) -> None:
        value = self.qualify(node.value)
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                if value is not None and value.startswith(_INSTANCE):
                    self.bindings[target.target.value] = value
                else:
                    self.bindings.pop(target.target.value, None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            value = self.qualify(node.item)
            if value is not None and value.startswith(_INSTANCE):
                self.bindings[node.asname.name.value] = value


def _as_base(name: str | None) -> str | None:
    """What an attribute chain can go on from: a module, a class, an object of a class; for a property, an object
    of the class it returns (None when that is not known: the chain is not followed further)."""
    if name is None or name.startswith(_INSTANCE):
        return name
    resolved = resolve(name)
    obj = resolved.fninfer
    if not resolved.has_fninfer or isinstance(obj, (type, ModuleType)):
        return name
    if isinstance(obj, property):
        returned = returns(obj, None)
        return f"{_INSTANCE}{returned}" if returned else None
    return None


def judge(name: str, call: cst.Call | None = None) -> tuple[str, str, str | None]:
    """(verdict, message, differences record id) for a use of `name` (a call when `call` is given)."""
    differences = by_target()
    key = canonical(name)
    record = differences.get((key, None))
    if record is not None and record.verdict == "unsupported":
        return "unsupported", _with_difference(record), record.id
    resolved = resolve(name)
    if not resolved.has_fninfer:
        if resolved.not_in_azureml:
            return "unsupported", f"{name} is not in Azure ML SDK v1's public surface either", None
        return "unsupported", f"fninfer does not provide {resolved.missing or name}", None
    keyword_record = None
    if call is not None:
        problem = _binding_problem(name, resolved.fninfer, resolved.real, call)
        if problem is not None and not _a_subclass_binds(name, call):
            return "unsupported", problem, None
        for arg in call.args:
            if arg.keyword is not None:
                found = differences.get((key, arg.keyword.value))
                if found is not None and (keyword_record is None or found.verdict == "unsupported"):
                    keyword_record = (found, arg.keyword.value)
    if keyword_record is not None:
        found, keyword = keyword_record
        return found.verdict, f"{keyword}=: {_with_difference(found)}", found.id
    if record is not None:
        return "differs", _with_difference(record), record.id
    return "runs", "fninfer provides it", None


def _a_subclass_binds(name: str, call: cst.Call) -> bool:
    """Whether a subclass's method takes the call: an object's class is known statically as what a factory is
    annotated to return (`ComputeTarget.create` -> ComputeTarget) while it is a subclass at run time (AmlCompute)."""
    owner_name, _, member = name.rpartition(".")
    found, owner, _ = fninfer_object(owner_name)
    if not found or not isinstance(owner, type):
        return False
    for subclass in _subclasses(owner):
        method = subclass.__dict__.get(member)
        if method is not None and _binding_problem(name, method, None, call) is None:
            return True
    return False


def _subclasses(klass: type) -> list[type]:
    found = []
    for subclass in klass.__subclasses__():
        found += [subclass, *_subclasses(subclass)]
    return found


def _binding_problem(name: str, obj: Any, real: dict[str, Any] | None, call: cst.Call) -> str | None:
    """Why the call's arguments would not bind to fninfer's signature (None: they bind, or it cannot be known)."""
    if any(arg.star for arg in call.args):
        return None
    sig = signature(obj)
    if sig is None:
        return None
    positional = [arg for arg in call.args if arg.keyword is None]
    keywords = {arg.keyword.value: None for arg in call.args if arg.keyword is not None}
    try:
        sig.bind_partial(*[None] * len(positional), **keywords)
    except TypeError as exc:
        real_side = real_keywords(real)
        unknown = [k for k in keywords if k not in sig.parameters]
        if unknown and real_side is not None and not (set(unknown) <= real_side[0] or real_side[1]):
            return f"{name} takes no keyword {unknown[0]!r} in Azure ML either"
        return f"fninfer's {name} does not take these arguments: {exc}"
    return None


# -- files ---------------------------------------------------------------------------------------------------


def check_python(
    source: str, where: str, bindings: dict[str, str] | None = None, line_offset: int = 0
) -> list[Finding]:
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return (
            [
                Finding(
                    where,
                    exc.raw_line,
                    exc.raw_column + 1,
                    "(syntax)",
                    "file",
                    "unsupported",
                    f"not read: it does not parse ({exc.message})",
                )
            ]
            if "azureml" in source
            else []
        )
    analyzer = _Analyzer(where, bindings if bindings is not None else {}, line_offset)
    MetadataWrapper(module).visit(analyzer)
    return analyzer.findings


def check_notebook(path: Path) -> list[Finding]:
    notebook = load_notebook(path)
    if notebook is None:
        return []
    findings: list[Finding] = []
    session: dict[str, str] = {}  # the kernel's names, carried from cell to cell
    for cell in code_cells(notebook):
        where = f"{path}[cell {cell.index}" + (f": {cell.writes}]" if cell.writes else "]")
        bindings = {} if cell.writes else session
        findings += check_python(cell.source, where, bindings, cell.line_offset)
    return findings


def _line_of(lines: list[str], text: str) -> int:
    return next((number for number, line in enumerate(lines, start=1) if text in line), 1)


def _pin_findings(path: Path, requirements: list[str], lines: list[str]) -> list[Finding]:
    findings = []
    for requirement in requirements:
        report = check_environment([requirement], "warn")
        verdict = "differs" if report.warnings else "runs"
        message = "; ".join(report.warnings) if report.warnings else "the app's environment meets it"
        if report.warnings:
            message += " (a deployment warns; environment_check='strict' and batch steps fail)"
        findings.append(
            Finding(
                str(path),
                _line_of(lines, requirement),
                1,
                requirement,
                "environment",
                verdict,
                message,
                "environment-install",
            )
        )
    return findings


def check_requirements_file(path: Path) -> list[Finding]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    wanted = [line.split("#")[0].strip() for line in lines]
    return _pin_findings(path, [w for w in wanted if w and not w.startswith("-")], lines)


def _conda_requirements(document: dict[str, Any]) -> list[str]:
    wanted: list[str] = []
    for dependency in document.get("dependencies") or []:
        if isinstance(dependency, str):
            wanted.append(dependency)
        elif isinstance(dependency, dict):
            wanted += [p for p in dependency.get("pip") or [] if isinstance(p, str) and not p.startswith("-")]
    return wanted


def _config_finding(path: Path, lines: list[str], key: str, verdict: str, message: str, record: str | None) -> Finding:
    return Finding(str(path), _line_of(lines, key), 1, key, "configuration", verdict, message, record)


def check_inference_config(path: Path, document: dict[str, Any], lines: list[str]) -> list[Finding]:
    findings = []
    entry = document.get("entryScript") or document.get("entry_script")
    source = document.get("sourceDirectory") or document.get("source_directory") or "."
    script = (path.parent / source / str(entry)).resolve()
    if script.is_file():
        findings.append(
            _config_finding(path, lines, "entryScript", "runs", f"{entry} is deployed as in Azure ML", None)
        )
    else:
        findings.append(
            _config_finding(path, lines, "entryScript", "unsupported", f"{entry} is not found at {script}", None)
        )
    record = next(r for r in by_target().values() if r.id == "docker-settings")
    for key in ("baseImage", "baseImageRegistry", "extraDockerfileSteps", "enableGpu", "cudaVersion"):
        if document.get(key):
            findings.append(_config_finding(path, lines, key, "differs", _with_difference(record), record.id))
    return findings


_COMPUTE_TYPES = {"aci": "AciWebservice", "aks": "AksWebservice", "local": "LocalWebservice"}
_RESOURCE_KEYS = ("containerResourceRequirements", "autoScaler", "numReplicas", "gpuCores", "port")


def check_deployment_config(path: Path, document: dict[str, Any], lines: list[str]) -> list[Finding]:
    compute = str(document.get("computeType", ""))
    if compute.lower() not in _COMPUTE_TYPES:
        return [
            _config_finding(
                path,
                lines,
                "computeType",
                "unsupported",
                f"computeType {compute!r}: fninfer deploys ACI, AKS and Local configurations",
                None,
            )
        ]
    findings = [
        _config_finding(
            path,
            lines,
            "computeType",
            "runs",
            f"deployed as {_COMPUTE_TYPES[compute.lower()]}.deploy_configuration(...)",
            None,
        )
    ]
    record = next(r for r in by_target().values() if r.id == "service-resources")
    for key in _RESOURCE_KEYS:
        if key in document:
            findings.append(_config_finding(path, lines, key, "differs", _with_difference(record), record.id))
    return findings


def check_run_config(path: Path, document: dict[str, Any], lines: list[str]) -> list[Finding]:
    """A run configuration (`.runconfig`, RunConfiguration.save()): how a PythonScriptStep's runconfig is taken."""
    findings = []
    framework = str(document.get("framework") or "Python")
    if framework.lower() == "python":
        findings.append(
            _config_finding(path, lines, "framework", "runs", "a Python script, run as a script step", None)
        )
    else:
        findings.append(
            _config_finding(
                path,
                lines,
                "framework",
                "unsupported",
                f"framework {framework!r}: fninfer runs Python scripts only",
                None,
            )
        )
    records = {r.id: r for r in by_target().values()}
    if document.get("target") not in (None, "local"):
        record = records["compute-records"]
        findings.append(_config_finding(path, lines, "target", "differs", _with_difference(record), record.id))
    environment = document.get("environment") or {}
    docker = environment.get("docker") or {}
    if docker.get("baseImage") or docker.get("baseDockerfile"):
        record = records["docker-settings"]
        findings.append(_config_finding(path, lines, "docker", "differs", _with_difference(record), record.id))
    conda = (environment.get("python") or {}).get("condaDependencies")
    if isinstance(conda, dict):
        findings += _pin_findings(path, _conda_requirements(conda), lines)
    return findings


def check_yaml_or_json(path: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return []
    if not isinstance(document, dict):
        return []
    lines = text.splitlines()
    if "entryScript" in document or "entry_script" in document:
        return check_inference_config(path, document, lines)
    if "computeType" in document:
        return check_deployment_config(path, document, lines)
    if path.name.endswith(".runconfig") or {"script", "framework"} <= set(document):
        return check_run_config(path, document, lines)
    if isinstance(document.get("dependencies"), list):
        return _pin_findings(path, _conda_requirements(document), lines)
    return []


def check_file(path: Path) -> list[Finding]:
    name = path.name
    if path.suffix == ".py":
        return check_python(path.read_text(encoding="utf-8", errors="replace"), str(path))
    if path.suffix == ".ipynb":
        return check_notebook(path)
    if path.suffix in (".yml", ".yaml", ".json") or name.endswith(".runconfig"):
        return check_yaml_or_json(path)
    if name.startswith("requirements") and name.endswith(".txt"):
        return check_requirements_file(path)
    if name == ".amlignore":
        return [
            Finding(
                str(path),
                1,
                1,
                ".amlignore",
                "configuration",
                "runs",
                "honoured when code is snapshotted for a service or step, as in Azure ML",
                None,
            )
        ]
    return []


def check(paths: list[Path]) -> Iterator[Finding]:
    for path in walk(paths):
        yield from check_file(path)


@dataclass
class Summary:
    files: int
    counts: dict[str, int]

    def text(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{self.counts.get(v, 0)} {v}" for v in VERDICTS)
        return f"fninfer check: {total} uses of Azure ML in {self.files} files: {parts}"


def summarize(findings: list[Finding]) -> Summary:
    return Summary(len({f.path.split("[")[0] for f in findings}), dict(Counter(f.verdict for f in findings)))


def as_json(findings: list[Finding]) -> str:
    summary = summarize(findings)
    return json.dumps(
        {"findings": [asdict(f) for f in findings], "summary": {"files": summary.files, **summary.counts}}, indent=2
    )
