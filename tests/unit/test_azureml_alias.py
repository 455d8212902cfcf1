"""The azureml import alias (shared/core/azureml_alias.py): on where no real azureml is
installed, off beside a real one;
`fninfer.install_as_azureml()` as the client's opt-in. Each case runs in a fresh interpreter: the alias changes
the process's import system."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *, path: Sequence[Path] = (), cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, path), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.fixture
def real_azureml(tmp_path: Path) -> Path:
    """A stand-in for the real SDK installed beside fninfer: a package `azureml` (namespace-style, as azureml-core
    ships it) with `azureml.core.Model`."""
    site = tmp_path / "site"
    (site / "azureml" / "core").mkdir(parents=True)
    (site / "azureml" / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    (site / "azureml" / "core" / "__init__.py").write_text("REAL = True\nclass Model: pass\nclass Run: pass\n")
    return site


def test_without_azureml_the_alias_gives_fninfers_own_modules() -> None:
    done = python(
        """
        from shared.core import azureml_alias
        assert azureml_alias.activate()
        from azureml.core.model import Model
        from azureml.core import Run
        from azureml_user.parallel_run import EntryScript
        from azureml.contrib.services.aml_request import rawhttp
        from azureml.pipeline.steps import ParallelRunStep
        import azureml.core, fninfer.core, fninfer.core.model, fninfer_user.parallel_run, sys
        assert azureml.core is fninfer.core and Model is fninfer.core.model.Model and Run is fninfer.core.Run
        assert EntryScript is fninfer_user.parallel_run.EntryScript
        assert fninfer.core.__spec__.name == "fninfer.core"  # fninfer's modules keep their own identity
        assert sys.modules["azureml.core.model"] is fninfer.core.model  # one module object, never a second copy
        for name in ("azureml.train.estimator", "azureml.core.image", "azureml.host", "azureml._cli"):
            try:
                __import__(name)
            except ModuleNotFoundError as exc:
                assert "fninfer does not provide" in str(exc), exc
            else:
                raise AssertionError(name)
        print("ok")
        """
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_beside_a_real_azureml_the_alias_stays_off(real_azureml: Path) -> None:
    done = python(
        """
        from shared.core import azureml_alias
        assert not azureml_alias.activate()
        import azureml.core
        assert azureml.core.REAL
        try:
            import azureml.contrib.services.aml_request   # not in the stand-in: never filled in from fninfer
        except ModuleNotFoundError as exc:
            assert "fninfer" not in str(exc), exc
        else:
            raise AssertionError("fninfer module mixed into the real azureml")
        print("ok")
        """,
        path=[real_azureml],
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_an_entry_script_beside_a_real_azureml_imports_the_real_one(real_azureml: Path, tmp_path: Path) -> None:
    """The services' and batch steps' loader turns the alias on only where the real azureml is not installed."""
    (tmp_path / "score.py").write_text("from azureml.core import Model\ndef run(data):\n    return Model.__module__\n")
    code = f"""
        from pathlib import Path
        from shared.core.user_scripts import CaptureBuffer, load_script
        module = load_script(Path({str(tmp_path)!r}), "score.py", "entry", CaptureBuffer())
        print(module.run(None))
        """
    assert python(code, path=[real_azureml]).stdout.strip() == "azureml.core"
    assert python(code).stdout.strip() == "fninfer._model"


def test_a_script_step_keeps_its_azureml_imports(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("import sys\nfrom azureml.core import Run\nprint(Run.__module__, sys.argv[1:])\n")
    done = subprocess.run(
        [sys.executable, "-m", "shared.pipelines.scripts.script_host", str(script), "--x", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.stdout.strip() == "fninfer._run ['--x', '1']", done.stderr


def test_install_as_azureml_is_the_clients_opt_in(real_azureml: Path) -> None:
    done = python(
        """
        import fninfer
        fninfer.install_as_azureml()
        fninfer.install_as_azureml()   # twice is once
        from azureml.core import Workspace
        import fninfer.core
        assert Workspace is fninfer.core.Workspace
        print("ok")
        """,
        path=[real_azureml],
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_install_as_azureml_after_the_real_one_was_imported_is_refused(real_azureml: Path) -> None:
    done = python(
        """
        import azureml.core
        import fninfer
        try:
            fninfer.install_as_azureml()
        except ImportError as exc:
            print("refused:", "before anything imports azureml" in str(exc))
        """,
        path=[real_azureml],
    )
    assert done.stdout.strip() == "refused: True", done.stderr


REFERENCE_PYTHON = Path.home() / ".cache" / "fninfer" / "azureml-reference" / "bin" / "python"


def test_beside_the_real_sdk_the_alias_stays_off() -> None:
    """The compat tool's reference venv has the real azureml-core and pipeline packages installed."""
    if not REFERENCE_PYTHON.is_file():
        pytest.skip(f"the azureml reference venv is not on this machine ({REFERENCE_PYTHON})")
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from shared.core import azureml_alias
        assert not azureml_alias.activate()
        from azureml.core.model import Model
        from azureml.pipeline.steps import ParallelRunStep
        print(Model.__module__, ParallelRunStep.__module__)
        """
    )
    done = subprocess.run([str(REFERENCE_PYTHON), "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["azureml.core.model", "azureml.pipeline.steps.parallel_run_step"], done.stderr
