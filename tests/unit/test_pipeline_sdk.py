"""The batch SDK mirrors azureml: public modules' `__all__`, the seeds' batch imports, ParallelRunConfig's checks."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from fninfer.pipeline.steps import ParallelRunConfig
from shared.core.errors import InvalidInput

MODULES = ["fninfer.pipeline.core", "fninfer.pipeline.steps", "fninfer.contrib.pipeline.steps", "fninfer.core"]
SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
BATCH_IMPORTS = {
    ("fninfer.core", "Experiment"),
    ("fninfer.pipeline.core", "PipelineData"),
    ("fninfer.pipeline.core", "Pipeline"),
    ("fninfer.pipeline.steps", "ParallelRunConfig"),
    ("fninfer.pipeline.steps", "ParallelRunStep"),
    ("fninfer.contrib.pipeline.steps", "ParallelRunConfig"),
    ("fninfer.contrib.pipeline.steps", "ParallelRunStep"),
}


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_the_public_namespace(name: str) -> None:
    module = importlib.import_module(name)
    public = {a for a in vars(module) if not a.startswith("_") and not isinstance(getattr(module, a), type(module))}
    assert set(module.__all__) == public


@pytest.mark.parametrize(("module", "name"), sorted(BATCH_IMPORTS))
def test_the_seeds_batch_imports_resolve(module: str, name: str) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the seed documents are not beside this checkout ({SEEDS})")
    text = "\n".join(seed.read_text() for seed in SEEDS.glob("*.md"))
    azureml = "azureml" + module.removeprefix("fninfer")
    assert re.search(rf"from {re.escape(azureml)} import [\w, ]*\b{name}\b", text)
    assert hasattr(importlib.import_module(module), name)


def test_parallel_run_config_checks_what_it_can_locally(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n")
    common = {"environment": None, "error_threshold": 10, "compute_target": "c", "node_count": 2}
    config = ParallelRunConfig(
        source_directory=str(tmp_path),
        entry_script="score.py",
        output_action="append_row",
        mini_batch_size="5",
        **common,
    )
    assert config.mini_batch_size == 5 and config._config()["compute_target"] == "c"
    for size, in_bytes in (("1KB", 1024), ("10MB", 10 * 1024**2), ("1gb", 1024**3), (7, 7)):
        sized = ParallelRunConfig(
            source_directory=str(tmp_path), entry_script="score.py", output_action="append_row",
            mini_batch_size=size, **common,
        )  # fmt: skip
        assert sized.mini_batch_size == in_bytes
    for bad in ("1TB", "0", "five", "-3", 2.5):
        with pytest.raises(InvalidInput, match="mini_batch_size"):
            ParallelRunConfig(
                source_directory=str(tmp_path), entry_script="score.py", output_action="append_row",
                mini_batch_size=bad, **common,
            )  # fmt: skip
    with pytest.raises(InvalidInput, match="mutually exclusive"):
        ParallelRunConfig(
            source_directory=str(tmp_path), entry_script="score.py", output_action="append_row",
            mini_batch_size="5", partition_keys=["user"], **common,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="output_action"):
        ParallelRunConfig(source_directory=str(tmp_path), entry_script="score.py", output_action="files", **common)
    with pytest.raises(InvalidInput, match=r"missing\.py"):
        ParallelRunConfig(
            source_directory=str(tmp_path), entry_script="missing.py", output_action="append_row", **common
        )
