"""`fninfer migrate` changes import lines and nothing else, keeps formatting and comments, and is idempotent: over
the project's own v1-spelled files, its examples spelled back to azureml, and a notebook."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from fninfer_cli.main import main
from fninfer_cli.migrate import migrate, rewrite_source
from shared.core.azureml_alias import target_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "fixtures" / "v1_project"
_FNINFER_IMPORT = re.compile(r"^(\s*from )fninfer(_user)?([.\w]* import )", re.MULTILINE)
#: fninfer-spelled code of the project (examples and entry-script fixtures), each spelled back to azureml below;
#: not the parity scripts, which import from both.
MIGRATED = [
    path
    for folder in ("examples", "tests/fixtures/batch", "tests/fixtures/steps", "tests/fixtures/services")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if _FNINFER_IMPORT.search(path.read_text()) and "from azureml" not in path.read_text()
]


def as_v1(text: str) -> str:
    """The file as its v1 original had it: `from fninfer... import` lines spelled `from azureml... import`."""

    def spell(match: re.Match[str]) -> str:
        module = match.group(3).split(" ")[0]
        v1 = f"azureml{match.group(2) or ''}{module}"
        if target_name(v1) != f"fninfer{match.group(2) or ''}{module}":
            return match.group(0)  # fninfer's own module (fninfer_host.testing): no azureml counterpart
        return f"{match.group(1)}azureml{match.group(2) or ''}{match.group(3)}"

    return _FNINFER_IMPORT.sub(spell, text)


def import_lines_only(before: str, after: str) -> None:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    for line_before, line_after in zip(old, new, strict=True):
        if line_before != line_after:
            assert line_before.lstrip().lstrip('"').startswith(("import azureml", "from azureml")), line_before


@pytest.mark.parametrize("path", MIGRATED, ids=lambda p: str(p.relative_to(ROOT)))
def test_migrating_a_v1_file_gives_the_fninfer_file_back(path: Path) -> None:
    original = path.read_text()
    v1 = as_v1(original)
    assert v1 != original
    migrated, left = rewrite_source(v1)
    assert migrated == original and left == []
    assert rewrite_source(migrated)[0] == migrated  # twice changes nothing


def test_a_package_is_rewritten_in_place_and_twice_is_once(tmp_path: Path) -> None:
    project = shutil.copytree(PROJECT, tmp_path / "project")
    before = {p: p.read_text() for p in project.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["migrate", str(project)])
    assert result.exit_code == 0, result.output
    after = {p: p.read_text() for p in before}
    changed = {p for p in before if before[p] != after[p]}
    assert {p.name for p in changed} == {"batch_score.py", "score.py", "count.py", "client.py", "deploy.ipynb"}
    for path in changed - {project / "deploy.ipynb"}:
        import_lines_only(before[path], after[path])
        assert "azureml" not in "".join(
            line for line in after[path].splitlines() if line.startswith(("from ", "import "))
        ).replace("as in azureml.contrib.services", "")
    again = CliRunner().invoke(main, ["migrate", str(project)])
    assert again.exit_code == 0
    assert {p: p.read_text() for p in before} == after


def test_virtualenvs_are_left_alone_whatever_their_name(tmp_path: Path) -> None:
    """A folder holding a pyvenv.cfg is a virtualenv (`.venv-tools`, `py311`), as are the usual names: neither
    `migrate` nor `check` rewrites or reads the packages installed there."""
    v1 = "from azureml.core import Model\n"
    (tmp_path / "score.py").write_text(v1)
    for venv in (".venv", "py311", ".venv-tools"):
        site = tmp_path / venv / "lib" / "site-packages"
        site.mkdir(parents=True)
        (site / "uses_azureml.py").write_text(v1)
    (tmp_path / "py311" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / ".venv-tools" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    result = CliRunner().invoke(main, ["migrate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "fninfer" in (tmp_path / "score.py").read_text()
    assert [p.read_text() for p in sorted(tmp_path.rglob("uses_azureml.py"))] == [v1, v1, v1]


def test_a_notebook_changes_in_its_import_lines_only(tmp_path: Path) -> None:
    notebook = shutil.copy(PROJECT / "deploy.ipynb", tmp_path / "deploy.ipynb")
    before = Path(notebook).read_text()
    (change,) = migrate([Path(notebook)])
    assert change.new_text is not None
    import_lines_only(before, change.new_text)  # the notebook's JSON text: only import lines' strings changed
    cells = json.loads(change.new_text)["cells"]
    assert cells[0]["source"][1] == "`from azureml.core import Workspace` in markdown stays as it is.\n"
    assert cells[1]["source"] == ["%pip install azureml-core\n"]  # IPython lines kept as they were
    assert cells[2]["source"][:2] == [
        "import fninfer.core, fninfer as azureml\n",
        "from fninfer.core import Workspace, Model  # the workspace and its models\n",
    ]
    assert cells[2]["outputs"] == json.loads(before)["cells"][2]["outputs"]
    assert cells[3]["source"][2] == "from fninfer.core.model import Model\n"  # a %%writefile cell
    Path(notebook).write_text(change.new_text)
    (again,) = migrate([Path(notebook)])
    assert again.new_text is None


def test_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("from azureml.core.model import Model  # keep me\n\nmodel = Model\n")
    result = CliRunner().invoke(main, ["migrate", "--diff", str(tmp_path)])
    assert result.exit_code == 0
    assert "-from azureml.core.model import Model  # keep me\n+from fninfer.core.model import Model  # keep me\n" in (
        result.output
    )
    assert script.read_text().startswith("from azureml")


def test_what_fninfer_does_not_provide_is_left_and_named(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import azureml.core\nimport os, azureml.core as core\nfrom azureml.train.estimator import Estimator\n"
    )
    result = CliRunner().invoke(main, ["migrate", str(script)])
    assert "left `azureml.train.estimator` as it is" in result.output
    assert script.read_text() == (
        "import fninfer.core, fninfer as azureml\nimport os, fninfer.core as core\n"
        "from azureml.train.estimator import Estimator\n"
    )


def test_plain_imports_bind_the_same_names() -> None:
    """`import azureml.core` bound `azureml`; the rewritten line binds it too, so `azureml.core.X` lines run."""
    namespace: dict[str, object] = {}
    exec(rewrite_source("import azureml.core\nimport azureml_user.parallel_run\n")[0], namespace)
    import fninfer.core
    import fninfer_user.parallel_run

    assert namespace["azureml"].core is fninfer.core  # type: ignore[attr-defined]
    assert namespace["azureml_user"].parallel_run is fninfer_user.parallel_run  # type: ignore[attr-defined]


MANY_MODELS = Path(
    os.environ.get("FNINFER_MANY_MODELS", "/work/.mirror/microsoft+solution-accelerator-many-models/repo")
)


def test_the_many_models_accelerator_round_trips(tmp_path: Path) -> None:
    """A real v1 repository (notebooks and packages): only import lines change, and a second run changes nothing.
    Read from its fetched repository when it is on this machine; its code is never copied into this one."""
    git_dir = MANY_MODELS if (MANY_MODELS / "HEAD").is_file() else MANY_MODELS / ".git"
    if not git_dir.exists():
        pytest.skip(f"the many-models accelerator's repository is not on this machine ({MANY_MODELS})")
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "HEAD"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp_path, filter="data")
    files = [p for p in tmp_path.rglob("*") if p.suffix in (".py", ".ipynb")]
    before = {p: p.read_text() for p in files}
    result = CliRunner().invoke(main, ["migrate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    changed = [p for p in files if p.read_text() != before[p]]
    assert len(changed) >= 10  # the notebooks and the scripts with azureml imports
    for path in changed:
        import_lines_only(before[path], path.read_text())
        if path.suffix == ".ipynb":
            old, new = json.loads(before[path]), json.loads(path.read_text())
            assert [c.get("outputs") for c in old["cells"]] == [c.get("outputs") for c in new["cells"]]
    assert "left `azureml.train.automl._azureautomlsettings` as it is" in result.output  # not in fninfer
    after = {p: p.read_text() for p in files}
    assert CliRunner().invoke(main, ["migrate", str(tmp_path)]).exit_code == 0
    assert {p: p.read_text() for p in files} == after
