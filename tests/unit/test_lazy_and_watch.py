"""Lazy modules (the app's start imports no pandas) and what a long poll waits for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.core.lazy_modules import lazy
from shared.core.watch import Until, etag_of

ROOT = Path(__file__).resolve().parents[2]


def test_a_lazy_module_imports_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fninfer_lazy_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = lazy("fninfer_lazy_probe")
    assert "fninfer_lazy_probe" not in sys.modules and "not loaded yet" in repr(probe)
    assert probe.LOADED is True
    assert "fninfer_lazy_probe" in sys.modules and "(loaded)" in repr(probe)
    with pytest.raises(AttributeError):
        _ = probe.MISSING


def test_the_app_and_the_sdk_import_without_pandas_numpy_or_pyarrow() -> None:
    code = (
        "import sys, function_app, fninfer.core, fninfer.pipeline.core, fninfer.pipeline.steps\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'scipy', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_what_a_wait_waits_for() -> None:
    document = {"status": "Running", "steps": {"a": {"batches_done": 1}}}
    etag = etag_of(document)
    assert etag.startswith('"') and etag == etag_of({"steps": {"a": {"batches_done": 1}}, "status": "Running"})
    assert not Until.parse(etag, "status").reached(document)
    assert Until.parse(f"W/{etag}", "status").reached({**document, "steps": {"a": {"batches_done": 2}}})
    by_status = Until.parse("Running", "status")
    assert not by_status.reached({**document, "steps": {}}) and by_status.reached({**document, "status": "Finished"})
    assert Until.parse("Transitioning", "state").reached({"state": "Healthy"})
