"""The code the README and the docs pages show runs as shown, against a real host: the README's ten lines (which
docs/getting-started.md repeats), the seeds' real-time snippet of docs/services.md, and the seeds' batch pipeline of
docs/pipelines.md followed by docs/published-pipelines.md's publish, REST call and schedule.

Each block is run as written, with only the names of what it creates made unique (the host is shared with other
tests), in a folder holding what the page says it needs (a model file, the seeds' entry scripts, registered data)."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from pathlib import Path

import pytest

from fninfer.core import Model, Workspace
from fninfer.pipeline.core import Schedule
from tests.hosting import RunningHost
from tests.integration.test_seed_batch import seed_setup

__all__ = ["seed_setup"]  # a fixture: the seeds' model, 'batch-data' dataset and batch_scripts/ in tmp_path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from train_model import train  # noqa: E402


def python_blocks(page: Path, heading: str) -> list[str]:
    """The ```python blocks of `page` under the heading `heading`, up to the next heading of its level or above."""
    level = len(heading.split(" ")[0])
    blocks: list[str] = []
    inside = fenced = collecting = False
    for line in page.read_text().splitlines(keepends=True):
        if not fenced and line.startswith("#"):
            marks = len(line) - len(line.lstrip("#"))
            if line.rstrip("\n") == heading:
                inside = True
            elif inside and marks <= level:
                break
        if line.lstrip().startswith("```"):
            fenced = not fenced
            collecting = inside and fenced and line.strip() == "```python"
            if collecting:
                blocks.append("")
            continue
        if collecting:
            blocks[-1] += line
    assert inside, f"{page.name} has no heading {heading!r}"
    return blocks


def run_block(code: str, names: dict[str, str], scope: dict[str, object] | None = None) -> tuple[str, dict]:
    """Run `code` with each quoted name in `names` replaced; what it printed, and its globals."""
    for old, new in names.items():
        assert old in code, f"{old} is not in the block: update this test with the page"
        code = code.replace(old, new)
    scope = {"__name__": "__docs__", **(scope or {})}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<docs>", "exec"), scope)
    return printed.getvalue(), scope


def test_the_readmes_ten_lines_deploy_a_service(
    app_host: RunningHost, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (readme_block,) = python_blocks(ROOT / "README.md", "## Ten lines")
    assert readme_block in python_blocks(ROOT / "docs" / "getting-started.md", "## A model and a service")
    assert len(readme_block.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))  # as `fninfer start` run here would write it
    monkeypatch.setenv("FNINFER_MODEL_CACHE", str(tmp_path / "model-cache"))
    train(tmp_path / "model.pkl")
    shutil.copytree(ROOT / "examples" / "service_files", "service_files")

    printed, _ = run_block(readme_block, {'"classifier"': f'"classifier-{unique}"'})

    expected = readme_block.strip().splitlines()[-1].split("# ")[-1]
    assert printed.strip().splitlines()[-1] == expected == "[2]"


def test_the_services_page_runs_the_seeds_real_time_code(
    app_host: RunningHost, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = python_blocks(ROOT / "docs" / "services.md", "# Models and real-time services")[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))
    monkeypatch.setenv("FNINFER_MODEL_CACHE", str(tmp_path / "model-cache"))
    train(tmp_path / "model.pkl")
    Model.register(Workspace.from_config(), model_name="classification_model", model_path="model.pkl")
    shutil.copytree(ROOT / "examples" / "service_files", "service_files")

    _, scope = run_block(block, {"'classifier-service'": f"'classifier-service-{unique}'"})

    assert scope["service"].state == "Healthy"
    assert scope["predictions"] == [2]


def test_the_pipeline_pages_run_the_seeds_batch_and_publish_code(
    seed_setup: Workspace, app_host: RunningHost, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))
    batch = python_blocks(ROOT / "docs" / "pipelines.md", "# Pipelines, ParallelRunStep and batch")[0]
    publish = python_blocks(ROOT / "docs" / "published-pipelines.md", "# Published pipelines, endpoints and schedules")[
        0
    ]

    _, scope = run_block(batch, {})
    assert scope["pipeline_run"].get_status() == "Finished"
    assert sorted(scope["df"]["File"].str.strip()) == sorted(f"{i}.csv" for i in range(1, 24))

    _, scope = run_block(publish, {"'Weekly Predictions'": f"'Weekly Predictions {unique}'"}, scope)
    try:
        assert scope["run_id"]
        assert isinstance(scope["pipeline_schedule"], Schedule)
    finally:
        scope["pipeline_schedule"].disable()
