"""`fninfer check` says of each use of Azure ML what running it says: v1 projects are run as they are (azureml
imports, `fninfer.install_as_azureml()`; the client script against the real local host) with every line's fate
recorded (tests/line_fates.py), and each line's verdict is compared with it: a line `check` says `runs` or
`differs` ran without raising, a line it says is `unsupported` raised. Projects: tests/fixtures/v1_project's client
and step scripts, and the many-models solution accelerator's training and forecasting scripts when its repository
is on this machine (FNINFER_MANY_MODELS, or the fetched mirror; its code is never copied into this repository)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer_cli.check import Finding, check
from tests.hosting import RunningHost

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "fixtures" / "v1_project"
MANY_MODELS = Path(
    os.environ.get("FNINFER_MANY_MODELS", "/work/.mirror/microsoft+solution-accelerator-many-models/repo")
)


def run_with_fates(project: Path, script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    out = project / "fates.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "line_fates.py"), str(project), str(out), script, *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=300,
        check=True,
    )
    return json.loads(out.read_text())


def compare(findings: list[Finding], fates: dict) -> tuple[dict, dict]:
    """(what check says of each line that ran, what running it did): 'fails' or 'runs' per (file, line)."""
    ran = {(f, line) for f, line in fates["ran"]}
    raised = {(f, line) for f, line in fates["raised"]}
    said: dict[tuple[str, int], str] = defaultdict(lambda: "runs")
    for finding in findings:
        key = (str(Path(finding.path).resolve()), finding.line)
        if key in ran or key in raised:
            said[key] = "fails" if finding.verdict == "unsupported" or said[key] == "fails" else "runs"
    did = {key: "fails" if key in raised else "runs" for key in said}
    return dict(said), did


def test_a_v1_client_script_against_the_host(app_host: RunningHost, tmp_path: Path, unique: str) -> None:
    project = shutil.copytree(PROJECT, tmp_path / "project")
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), project / "model.pkl")
    fates = run_with_fates(
        project,
        "client.py",
        env={"FNINFER_CONFIG": str(app_host.config_path), "SERVICE_NAME": f"client-{unique}"},
    )
    assert fates["error"] is None, fates["error"]
    findings = list(check([project / "client.py"]))
    said, did = compare(findings, fates)
    assert said == did
    assert len(said) == len({f.line for f in findings})  # every line check judged ran
    assert sorted(line for (_, line), fate in did.items() if fate == "fails") == [31, 35, 39, 43]


def test_a_v1_step_script_run_on_its_own(tmp_path: Path) -> None:
    project = shutil.copytree(PROJECT, tmp_path / "project")
    fates = run_with_fates(project / "steps", "count.py", "--label", "rows")
    assert fates["error"] is None, fates["error"]
    said, did = compare(list(check([project / "steps"])), fates)
    assert said == did and set(said.values()) == {"runs"} and len(said) == 3


@pytest.fixture
def many_models(tmp_path: Path) -> Path:
    if not (MANY_MODELS / "HEAD").is_file() and not (MANY_MODELS / ".git").exists():
        pytest.skip(f"the many-models accelerator's repository is not on this machine ({MANY_MODELS})")
    archive = subprocess.run(
        ["git", f"--git-dir={MANY_MODELS if (MANY_MODELS / 'HEAD').is_file() else MANY_MODELS / '.git'}",
         "archive", "HEAD", "Custom_Script/scripts"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path / "many-models", filter="data")
    return tmp_path / "many-models" / "Custom_Script" / "scripts"


@pytest.mark.parametrize("script", ["train.py", "forecast.py"])
def test_the_many_models_scripts(many_models: Path, script: str) -> None:
    args = ["--target_column", "Quantity", "--timestamp_column", "WeekStarting", "--timeseries_id_columns",
            "Store", "Brand", "--model_type", "lr", "--test_size", "20"]  # fmt: skip
    fates = run_with_fates(many_models, script, *args)
    said, did = compare(list(check([many_models])), fates)
    assert said == did
    assert "fails" in did.values()  # the accelerator's utilities.py imports azureml._restclient: not in fninfer
