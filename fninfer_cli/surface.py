"""What an `azureml.*` name is: in the real SDK v1 (the committed record, data/azureml_surface.json) and in fninfer
(the installed package, through the same name mapping as the app's import alias).

No azureml install is needed: the real side is the record tools/dump_azureml_surface.py made from azureml-core and
the pipeline packages; the fninfer side is imported and inspected (its signatures and return annotations).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.core.azureml_alias import target_name

SURFACE_FILE = Path(__file__).parent / "data" / "azureml_surface.json"


@cache
def surface() -> dict[str, Any]:
    return json.loads(SURFACE_FILE.read_text())


def is_azureml(name: str) -> bool:
    return name.partition(".")[0] in ("azureml", "azureml_user")


@dataclass
class Resolved:
    """One dotted `azureml...` name, resolved on both sides as far as it goes."""

    name: str
    #: The real SDK's record of the deepest described object (a module's name list, a class, a member), or None
    #: when the record does not describe the name's module at all.
    real: dict[str, Any] | None = None
    #: Whether the record knows the name is not in azureml (its module is described and lacks it).
    not_in_azureml: bool = False
    #: fninfer's object for the name, when fninfer has it.
    fninfer: Any = None
    has_fninfer: bool = False
    #: The part of the name fninfer lacks (for the message), when it lacks one.
    missing: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _module(name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(name) is None:
            return None
        return importlib.import_module(name)
    except (ImportError, ValueError):
        return None


@cache
def fninfer_object(name: str) -> tuple[bool, Any, str]:
    """(found, object, the first part not found) for an azureml dotted name, on fninfer's side."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        target = target_name(module_name)
        if target is None:
            continue
        module = _module(target)
        if module is None:
            continue
        obj: Any = module
        for index, attr in enumerate(parts[cut:], start=cut):
            if not _has_member(obj, attr):
                return False, None, ".".join(parts[: index + 1])
            obj = _member(obj, attr)
        return True, obj, ""
    return False, None, name if target_name(parts[0]) is None else ".".join(parts[:2])


def _member(obj: Any, attr: str) -> Any:
    try:
        return inspect.getattr_static(obj, attr)
    except AttributeError:
        return None  # an instance attribute, known from the class's source


def _has_member(obj: Any, attr: str) -> bool:
    if isinstance(obj, ModuleType):
        return hasattr(obj, attr)
    try:
        inspect.getattr_static(obj, attr)
        return True
    except AttributeError:
        pass
    if not isinstance(obj, type):
        return False
    return any(attr in getattr(klass, "__annotations__", {}) or _assigned_in(klass, attr) for klass in obj.__mro__)


@cache
def _class_source(klass: type) -> str:
    try:
        return inspect.getsource(klass)
    except (OSError, TypeError):
        return ""


def _assigned_in(klass: type, attr: str) -> bool:
    return re.search(rf"\bself\.{re.escape(attr)}\s*(:[^=]*)?=(?!=)", _class_source(klass)) is not None


def real_object(name: str) -> tuple[dict[str, Any] | None, bool]:
    """(the record of the deepest described object, whether the record shows the name is not in azureml)."""
    data = surface()
    modules, targets = data["modules"], data["targets"]
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        if module_name not in modules:
            continue
        rest = parts[cut:]
        if not rest:
            return {"kind": "module", "names": modules[module_name].get("names", [])}, False
        if rest[0] not in modules[module_name].get("names", []):
            if any(m.startswith(f"{module_name}.{rest[0]}") for m in modules):
                continue  # a submodule the record describes on its own
            return None, True
        record = targets.get(f"{module_name}:{rest[0]}")
        for attr in rest[1:]:
            if record is None or "members" not in record:
                return record, False  # deeper than the record goes
            member = record["members"].get(attr)
            if member is None:
                return None, True
            record = member if member.get("kind") != "class" else _class_record(member, attr) or member
        return record, False
    return None, False


def _class_record(member: dict[str, Any], attr: str) -> dict[str, Any] | None:
    """A nested class's own record, when the record has it under another name (`Dataset.File` is a factory)."""
    origin = member.get("origin", "")
    for key, record in surface()["targets"].items():
        if key.endswith(f":{attr}") and record.get("kind") == "class" and key.split(":")[0] in origin:
            return record
    return None


def resolve(name: str) -> Resolved:
    real, not_in = real_object(name)
    found, obj, missing = fninfer_object(name)
    return Resolved(name=name, real=real, not_in_azureml=not_in, fninfer=obj, has_fninfer=found, missing=missing)


def azureml_name_of(klass: type) -> str | None:
    """The azureml class name fninfer's `klass` mirrors (`fninfer._model.Model` -> `azureml.core.model.Model`)."""
    return _classes().get(klass)


@cache
def _classes() -> dict[type, str]:
    """fninfer's classes, each with the azureml name it is exported under (the deepest module that exports it)."""
    found: dict[type, str] = {}
    for module_name in sorted(surface()["modules"], key=lambda m: -m.count(".")):
        target = target_name(module_name)
        module = _module(target) if target else None
        if module is None:
            continue
        for attr in dir(module):
            obj = getattr(module, attr, None)
            if isinstance(obj, type) and obj.__module__.startswith(("fninfer", "shared")):
                found.setdefault(obj, f"{module_name}.{attr}")
    return found


def canonical(name: str) -> str:
    """One spelling per object: `azureml.core.Model.add_tags` and `azureml.core.model.Model.add_tags` are one
    name (the class as azureml_name_of names it, then the rest), so records match however code imports it."""
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):
        found, obj, _ = fninfer_object(".".join(parts[:cut]))
        if found and isinstance(obj, type):
            spelled = azureml_name_of(obj)
            if spelled is not None:
                return ".".join([spelled, *parts[cut:]])
    return name


#: Calls fninfer annotates loosely (`-> Any`, to avoid an import cycle) and what they return.
LOOSE_RETURNS = {"azureml.core.model.Model.deploy": "azureml.core.webservice.Webservice"}


def returns(obj: Any, owner: str | None) -> str | None:
    """The azureml class name a call of fninfer's `obj` returns, from its return annotation; for a class, itself."""
    if isinstance(obj, type):
        return azureml_name_of(obj)
    function = obj.__func__ if isinstance(obj, (classmethod, staticmethod)) else obj
    if isinstance(function, property):
        function = function.fget
    if not callable(function):
        return None
    try:
        hint = typing.get_type_hints(function).get("return")
    except Exception:  # unresolvable annotations: no type known
        hint = None
    if isinstance(hint, type) and azureml_name_of(hint) is not None:
        return azureml_name_of(hint)
    if owner is not None and f"{canonical(owner)}.{function.__name__}" in LOOSE_RETURNS:
        return LOOSE_RETURNS[f"{canonical(owner)}.{function.__name__}"]
    if owner is not None and function.__name__ in ("get_context", "from_config", "get"):
        return owner  # factories annotated loosely
    return None


def signature(obj: Any) -> inspect.Signature | None:
    """What a call of fninfer's `obj` accepts (a class: its constructor), bound as called (no self/cls)."""
    target = obj.__func__ if isinstance(obj, (classmethod, staticmethod)) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    if isinstance(obj, (type, staticmethod)):
        return sig
    params = list(sig.parameters.values())
    if isinstance(obj, classmethod) or (params and params[0].name in ("self", "cls")):
        params = params[1:]
    return sig.replace(parameters=params)


def real_keywords(record: dict[str, Any] | None) -> tuple[set[str], bool] | None:
    """(keyword names, takes **kwargs) of the real call the record describes, or None when not described."""
    if record is None:
        return None
    sig = record.get("sig") or record.get("init")
    if sig is None:
        return None
    names = {p["name"] for p in sig.get("params", []) if p.get("kind") != "POSITIONAL_ONLY"}
    return names, bool(sig.get("var_kw"))
