"""The `azureml` import alias: `azureml.*` and `azureml_user.*` imports that resolve to fninfer's modules.

Entry scripts deployed to the app (scoring scripts, ParallelRunStep and PythonScriptStep scripts) may keep their v1
imports: `from azureml.core.model import Model`, `from azureml.core import Run`,
`from azureml_user.parallel_run import EntryScript`, `from azureml.contrib.services.aml_request import rawhttp`.
`activate()` appends a finder to `sys.meta_path` that answers those names with fninfer's own module objects
(`azureml.core` is `fninfer.core`, the same object, so classes and isinstance checks are fninfer's), as PyMySQL's
`install_as_MySQLdb()` does for MySQLdb.

It stays off where a real `azureml` is installed: `activate()` does nothing when one can be imported, the finder
declines `azureml` whenever the path has a real one, and it answers submodules only while `azureml` itself (or
`azureml_user`) is the alias, so a real `azureml` never gets fninfer submodules mixed in. The finder is first on
`sys.meta_path`: under an aliased package the path finder would otherwise load fninfer's files a second time as new
`azureml.*` modules. `install()`, behind `fninfer.install_as_azureml()`, is the client's explicit opt-in: fninfer
wins over an installed azureml, and it refuses when a real azureml is already imported (the objects already handed
out cannot be swapped).

A name fninfer does not mirror (`azureml.train.estimator`, `azureml.core.image`) is a ModuleNotFoundError that says
so, instead of half of a package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

#: The aliased top-level packages and the packages they resolve to.
ROOTS = {"azureml": "fninfer", "azureml_user": "fninfer_user"}
#: The subpackages of `fninfer` that mirror azureml's; fninfer's own (host, packaging, cli, testing, private
#: modules) are never reachable as azureml names.
MIRRORED = frozenset({"core", "data", "pipeline", "contrib", "exceptions"})


def target_name(name: str) -> str | None:
    """The fninfer module an aliased name resolves to, or None when the name is not one fninfer mirrors."""
    root, _, rest = name.partition(".")
    if root not in ROOTS:
        return None
    if not rest:
        return ROOTS[root]
    parts = rest.split(".")
    if any(part.startswith("_") for part in parts):
        return None
    if root == "azureml" and parts[0] not in MIRRORED:
        return None
    return f"{ROOTS[root]}.{rest}"


class _AliasLoader(importlib.abc.Loader):
    """Hands out the fninfer module itself, keeping its own spec (importlib sets the alias's spec on it)."""

    def __init__(self, target: ModuleType) -> None:
        self.target = target
        self.spec = target.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.target

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec


class AzuremlAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves `azureml.*` / `azureml_user.*` to fninfer's modules (see the module's docstring)."""

    def __init__(self, override: bool) -> None:
        #: Ahead of an installed azureml (the client's opt-in), not only where none is installed.
        self.override = override

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        root = fullname.partition(".")[0]
        if root not in ROOTS:
            return None
        if fullname == root:
            if not self.override and importlib.machinery.PathFinder.find_spec(root) is not None:
                return None  # a real one is installed: the alias stays off
        elif sys.modules.get(root) is not sys.modules.get(ROOTS[root], False):
            return None  # the top-level package is a real one: its submodules are its own
        name = target_name(fullname)
        if name is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: fninfer's azureml import alias maps azureml.* to fninfer.* and "
                f"fninfer does not provide {fullname!r} (run `fninfer check` on the code for what to use instead)",
                name=fullname,
            )
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: fninfer's azureml import alias maps it to {name!r}, which fninfer "
                f"does not provide (run `fninfer check` on the code for what to use instead)",
                name=fullname,
            ) from None
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


_lock = threading.Lock()


def _installed() -> AzuremlAliasFinder | None:
    return next((finder for finder in sys.meta_path if isinstance(finder, AzuremlAliasFinder)), None)


def real_azureml_installed() -> bool:
    """Whether an `azureml` package other than the alias can be imported here."""
    module = sys.modules.get("azureml")
    if module is not None:
        return module is not sys.modules.get("fninfer")
    return importlib.machinery.PathFinder.find_spec("azureml") is not None


def activate() -> bool:
    """Turn the alias on for the app's workers, unless a real azureml is installed. Returns whether it is on."""
    with _lock:
        if _installed() is not None:
            return True
        if real_azureml_installed():
            return False
        sys.meta_path.insert(0, AzuremlAliasFinder(override=False))
        return True


def install() -> None:
    """The client's opt-in (`fninfer.install_as_azureml()`): azureml.* names resolve to fninfer from now on in this
    process, ahead of an installed azureml. Raises ImportError when a real azureml is already imported."""
    with _lock:
        loaded = sys.modules.get("azureml")
        if loaded is not None and loaded is not sys.modules.get("fninfer"):
            raise ImportError(
                "install_as_azureml(): the real azureml is already imported in this process "
                f"({getattr(loaded, '__path__', loaded)}); call install_as_azureml() before anything imports azureml"
            )
        finder = _installed()
        if finder is not None:
            if finder.override:
                return
            sys.meta_path.remove(finder)
        sys.meta_path.insert(0, AzuremlAliasFinder(override=True))


def deactivate() -> None:
    """Turn the alias off and forget the aliased names (for tests)."""
    with _lock:
        finder = _installed()
        if finder is not None:
            sys.meta_path.remove(finder)
        for name in list(sys.modules):
            if name.partition(".")[0] in ROOTS:
                module = sys.modules[name]
                target = target_name(name)
                if target is not None and sys.modules.get(target) is module:
                    del sys.modules[name]
