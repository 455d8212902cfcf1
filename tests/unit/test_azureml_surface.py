"""fninfer's classes against the real Azure ML SDK v1's, without the real SDK installed.

The real SDK's public surface is committed as data (fninfer_cli/data/azureml_surface.json, written by
tools/dump_azureml_surface.py: every public name of the azureml modules fninfer mirrors, with each class's public
members and their signatures). For every class fninfer exports under an azureml-mirroring path (`fninfer.core.model.
Model` mirrors `azureml.core.model.Model`), this test measures which of the real class's public members fninfer's
class has, and which of each member's parameters (and the constructor's) it accepts. It prints the coverage, overall
and per class (a class exported under several paths is counted once), and fails when a member or a parameter that
tests/data/azureml_coverage.json records as covered is gone, or a class it names as complete is not any more.

When coverage improves (a member or parameter added), the test passes and says how many are not recorded yet; record
them, so they cannot silently go missing later, with:

    .venv/bin/python tests/unit/test_azureml_surface.py --write

(run from the project's root; it rewrites tests/data/azureml_coverage.json from what fninfer has now, so run it on a
tree whose coverage you mean to keep, e.g. after merging everyone's work, and commit the file.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script (--write) from the project's root
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

SURFACE = ROOT / "fninfer_cli" / "data" / "azureml_surface.json"
COVERAGE = ROOT / "tests" / "data" / "azureml_coverage.json"
INIT = "__init__"
_SELF_ASSIGNMENT = re.compile(r"\bself\.([A-Za-z][A-Za-z0-9_]*)\s*(?::[^=\n]*)?=(?!=)")


def public_modules() -> list[str]:
    package = importlib.import_module("fninfer")
    names = ["fninfer"]
    for info in pkgutil.walk_packages(package.__path__, "fninfer."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def exported_classes() -> dict[str, type]:
    """{'azureml.module:Name': fninfer class} for every class a public fninfer module exports."""
    found = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            value = getattr(module, name, None)
            if inspect.isclass(value):
                found[re.sub(r"^fninfer", "azureml", module_name) + ":" + name] = value
    return found


def _source_attributes(cls: type) -> set[str]:
    """Attributes the class's code assigns on `self` (instance attributes, as the real surface records them)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object or klass.__module__ in ("builtins", "enum"):
            continue
        try:
            names.update(_SELF_ASSIGNMENT.findall(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
    return {name for name in names if not name.startswith("_")}


def members(cls: type) -> set[str]:
    """The class's public members: what it defines (not object's or a builtin base's) and its instance attributes."""
    defined = set()
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        if owner is not None and owner.__module__ not in ("builtins", "enum"):
            defined.add(name)
    return defined | _source_attributes(cls)


def _signature(cls: type, name: str) -> inspect.Signature | None:
    """The signature a caller sees: of the constructor for INIT, else of the member (bound where it binds)."""
    try:
        if name == INIT:
            target = cls.__init__ if "__init__" in {n for k in cls.__mro__[:-1] for n in vars(k)} else cls.__new__
            params = list(inspect.signature(target).parameters.values())[1:]
            return inspect.Signature(params)
        raw = next(vars(klass)[name] for klass in cls.__mro__ if name in vars(klass))
        if isinstance(raw, staticmethod):
            return inspect.signature(raw.__func__)
        if isinstance(raw, classmethod):
            return inspect.Signature(list(inspect.signature(raw.__func__).parameters.values())[1:])
        if inspect.isfunction(raw):
            parameters = list(inspect.signature(raw).parameters.values())
            if parameters and parameters[0].name in ("self", "cls"):
                parameters = parameters[1:]
            return inspect.Signature(parameters)
    except (StopIteration, TypeError, ValueError):
        return None
    return None


def accepted(signature: inspect.Signature | None, real: dict[str, Any] | None) -> list[str]:
    """The real signature's parameters fninfer's accepts, by name (or through **kwargs)."""
    if signature is None or not real:
        return []
    params = signature.parameters.values()
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    wanted = [p["name"] for p in real["params"] if not p["name"].startswith("_")]
    return sorted(name for name in wanted if var_kw or name in names)


def _wanted(real: dict[str, Any] | None) -> list[str]:
    return sorted(p["name"] for p in (real or {}).get("params", []) if not p["name"].startswith("_"))


@dataclass
class ClassCoverage:
    target: str
    members: list[str]  # the real class's public members
    covered: list[str]  # those fninfer's class has
    params: dict[str, list[str]] = field(default_factory=dict)  # member (or __init__) -> parameters accepted
    wanted: dict[str, list[str]] = field(default_factory=dict)  # member (or __init__) -> the real parameters

    @property
    def complete(self) -> bool:
        return len(self.covered) == len(self.members) and all(
            self.params.get(name, []) == names for name, names in self.wanted.items()
        )


def measure() -> dict[str, ClassCoverage]:
    """Coverage of every exported fninfer class the recorded surface describes, by the real class's qualname."""
    surface = json.loads(SURFACE.read_text())["targets"]
    found: dict[str, ClassCoverage] = {}
    for target, cls in sorted(exported_classes().items()):
        real = surface.get(target)
        if not real or real.get("kind") != "class":
            continue
        qualname = real.get("qualname", target)
        if qualname in found:
            continue  # the same class exported under another path: counted once
        mine = members(cls)
        real_members = sorted(real.get("members", {}))
        coverage = ClassCoverage(target, real_members, [name for name in real_members if name in mine])
        signatures = {INIT: real.get("init")} | {
            name: real["members"][name].get("sig") for name in coverage.covered if real["members"][name].get("sig")
        }
        for name, real_signature in signatures.items():
            if _wanted(real_signature):
                coverage.wanted[name] = _wanted(real_signature)
                coverage.params[name] = accepted(_signature(cls, name), real_signature)
        found[qualname] = coverage
    return found


def recorded(coverage: dict[str, ClassCoverage]) -> dict[str, Any]:
    """What tests/data/azureml_coverage.json keeps: per class, the members and parameters covered; which classes
    are complete."""
    return {
        "classes": {
            item.target: {"members": item.covered, "params": {k: v for k, v in sorted(item.params.items()) if v}}
            for item in sorted(coverage.values(), key=lambda c: c.target)
        },
        "complete": sorted(item.target for item in coverage.values() if item.complete),
    }


def report(coverage: dict[str, ClassCoverage]) -> str:
    total = sum(len(item.members) for item in coverage.values())
    covered = sum(len(item.covered) for item in coverage.values())
    lines = [f"azureml public members covered: {covered} of {total} ({100 * covered / max(total, 1):.1f}%)"]
    for item in sorted(coverage.values(), key=lambda c: c.target):
        missing_params = sum(len(item.wanted[n]) - len(item.params.get(n, [])) for n in item.wanted)
        mark = " complete" if item.complete else ""
        extra = f", {missing_params} parameters not accepted" if missing_params else ""
        lines.append(f"  {item.target:70s} {len(item.covered):4d} of {len(item.members):<4d}{extra}{mark}")
    return "\n".join(lines)


def regressions(coverage: dict[str, ClassCoverage], committed: dict[str, Any]) -> list[str]:
    by_target = {item.target: item for item in coverage.values()}
    problems = []
    for target, kept in committed["classes"].items():
        item = by_target.get(target)
        if item is None:
            problems.append(f"{target}: no longer exported by fninfer")
            continue
        problems += [f"{target}.{name}: member gone" for name in kept["members"] if name not in item.covered]
        for name, params in kept["params"].items():
            lost = sorted(set(params) - set(item.params.get(name, [])))
            if lost:
                problems.append(f"{target}.{name}: parameters no longer accepted: {lost}")
    problems += [
        f"{target}: no longer complete"
        for target in committed["complete"]
        if target not in by_target or not by_target[target].complete
    ]
    return problems


def improvements(coverage: dict[str, ClassCoverage], committed: dict[str, Any]) -> int:
    now, kept = recorded(coverage)["classes"], committed["classes"]
    count = 0
    for target, item in now.items():
        before = kept.get(target, {"members": [], "params": {}})
        count += len(set(item["members"]) - set(before["members"]))
        count += sum(len(set(p) - set(before["params"].get(n, []))) for n, p in item["params"].items())
    return count


def test_the_members_and_parameters_fninfer_covers_stay_covered(capsys: pytest.CaptureFixture[str]) -> None:
    coverage = measure()
    committed = json.loads(COVERAGE.read_text())
    new = improvements(coverage, committed)
    with capsys.disabled():
        print("\n" + report(coverage))
        if new:
            print(
                f"{new} members or parameters are covered but not recorded yet: run `.venv/bin/python "
                "tests/unit/test_azureml_surface.py --write` and commit tests/data/azureml_coverage.json"
            )
    problems = regressions(coverage, committed)
    assert not problems, "covered before, missing now:\n" + "\n".join(problems)


def test_the_coverage_is_measured_on_the_recorded_surface() -> None:
    """The measure itself: a class whose real members are all present is complete; one missing is not."""
    coverage = measure()
    model = next(item for item in coverage.values() if item.target == "azureml.core.model:Model")
    assert "register" in model.covered and "workspace" in model.params.get("register", [])
    assert "version" in model.params[INIT]
    assert len({item.target for item in coverage.values()}) == len(coverage)  # each real class once


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (rewrites {COVERAGE.relative_to(ROOT)})")
    measured = measure()
    COVERAGE.parent.mkdir(parents=True, exist_ok=True)
    COVERAGE.write_text(json.dumps(recorded(measured), indent=1, sort_keys=True) + "\n")
    print(report(measured))
    print(f"wrote {COVERAGE.relative_to(ROOT)}")
