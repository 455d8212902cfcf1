"""`fninfer package`: what the zip holds, that it is the same byte for byte for the same inputs, that a missing wheel
is named, and that the app loads baked models and services from it (after checking them) rather than from storage.

The app packaged is fninfer's own code with a one-wheel dependency list, built offline from a local wheel folder, so
the tests need no index; one test really fetches a Linux wheel from the package index when it can reach it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

from fninfer.core import Dataset, Environment, Model, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice
from fninfer_cli.main import main
from fninfer_cli.packaging.build import PackageRequest, build_package
from fninfer_cli.packaging.dependencies import PackagingError, Target
from fninfer_host.azurite import Azurite
from shared.core import layout
from shared.core.storage import Storage
from shared.registry import tabular
from shared.registry.tabular import ParseError
from tests.hosting import run_host

# Builds wheels and deployment zips and runs them: `make test` and CI run it, the inner loop does not.
# One xdist worker for the module: the zip its module fixture builds is the expensive part (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package")]

ROOT = Path(__file__).resolve().parents[2]
APP_PARTS = ["function_app.py", "host.json", ".funcignore", "shared", "functions", "fninfer"]


def make_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> None:
    """A minimal pure-Python wheel, written by hand (what `pip wheel` would produce for a one-module project)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    records = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
        wheel.writestr(f"{info}/RECORD", records)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """fninfer's app code, with a pyproject naming one dependency, plus things that must not be packaged."""
    folder = tmp_path / "app"
    folder.mkdir()
    for part in APP_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, folder / part)
    (folder / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\ndependencies = ["tinydep>=1"]\n')
    (folder / "local.settings.json").write_text('{"Values": {"FNINFER_ADMIN_KEY": "secret"}}')
    (folder / "tests").mkdir()
    (folder / "tests" / "test_app.py").write_text("def test(): pass\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "draft.txt").write_text("not for Azure")
    (folder / "notes" / "keep.txt").write_text("shipped, by a negation")
    with (folder / ".funcignore").open("a") as ignore:
        ignore.write("notes/\n!notes/keep.txt\n")
    make_wheel(tmp_path / "wheels")
    return folder


def offline(app: Path, output: Path, **extra: object) -> PackageRequest:
    target = Target("3.11", (str(app.parent / "wheels"),), no_index=True)
    return PackageRequest(app_dir=app, output=output, target=target, **extra)  # type: ignore[arg-type]


def test_the_package_holds_the_app_its_pinned_requirements_and_its_dependencies(app: Path, tmp_path: Path) -> None:
    report = build_package(offline(app, tmp_path / "app.zip"))
    names = set(zipfile.ZipFile(report.output).namelist())
    assert {
        "function_app.py",
        "host.json",
        "shared/core/layout.py",
        "functions/batch.py",
        "fninfer/core/__init__.py",
    } <= names
    assert f"{layout.PACKAGED_SITE_PACKAGES}/tinydep/__init__.py" in names
    assert zipfile.ZipFile(report.output).read("requirements.txt").decode().splitlines()[1:] == ["tinydep==1.0"]
    assert "local.settings.json" not in names and not any(n.startswith(("tests/", ".venv/")) for n in names)
    assert "notes/keep.txt" in names and "notes/draft.txt" not in names  # .funcignore, negations included
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
    assert report.distributions == [("tinydep", "1.0")] and report.size == report.output.stat().st_size
    assert report.sections["dependencies"][0] == len([n for n in names if n.startswith(".python_packages/")])


def test_the_same_inputs_give_the_same_bytes(app: Path, tmp_path: Path) -> None:
    first = build_package(offline(app, tmp_path / "one.zip")).output.read_bytes()
    (app / "function_app.py").touch()  # a newer timestamp, same content
    (app / "host.json").chmod(0o600)
    second = build_package(offline(app, tmp_path / "two.zip")).output.read_bytes()
    assert first == second
    (app / "host.json").write_text((app / "host.json").read_text() + "\n")
    assert build_package(offline(app, tmp_path / "three.zip")).output.read_bytes() != first


def test_a_missing_wheel_names_the_package(app: Path, tmp_path: Path) -> None:
    (app / "pyproject.toml").write_text('[project]\nname = "app"\ndependencies = ["tinydep", "no-such-dist-xyz>=2"]\n')
    with pytest.raises(PackagingError, match="no wheel of no-such-dist-xyz>=2 for Linux x86-64") as raised:
        build_package(offline(app, tmp_path / "app.zip"))
    assert raised.value.details["package"] == "no-such-dist-xyz>=2"
    assert not (tmp_path / "app.zip").exists()  # nothing half written
    wheels = str(app.parent / "wheels")
    args = ["package", "--app-dir", str(app), "-o", str(tmp_path / "cli.zip"), "--find-links", wheels, "--no-index"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no wheel of no-such-dist-xyz" in result.output


def test_bad_requests_are_named(app: Path, tmp_path: Path) -> None:
    (app / "host.json").unlink()
    with pytest.raises(PackagingError, match=r"no host\.json"):
        build_package(offline(app, tmp_path / "app.zip"))
    result = CliRunner().invoke(main, ["package", "--app-dir", str(app), "--include-model", "m:x", "--storage", "x"])
    assert result.exit_code != 0


def load_in_package(unpacked: Path, code: str, env: dict[str, str]) -> str:
    """Run `code` as the packaged app would: from its folder, importing its own `shared` and `fninfer`."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=unpacked,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_baked_models_are_used_at_load_after_their_sha256_check(
    app: Path, ws: Workspace, azurite: Azurite, tmp_path: Path, unique: str
) -> None:
    name = f"baked_{unique}"
    (tmp_path / "model.bin").write_bytes(b"weights " * 1000)
    model = Model.register(ws, model_path=str(tmp_path / "model.bin"), model_name=name)
    report = build_package(offline(app, tmp_path / "app.zip", models=(f"{name}:1",), storage=ws.storage))
    assert report.models == [f"{name}:1"] and report.sections["baked models and services"][0] == 2
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(report.output).extractall(unpacked)
    baked = unpacked / layout.PACKAGED_MODELS_DIR / name / "1" / "model.bin"
    env = {"AzureWebJobsStorage": azurite.connection_string, "FNINFER_MODEL_CACHE": str(tmp_path / "cache")}
    code = f"from fninfer.core import Model; print(Model.get_model_path({name!r}, 1))"

    baked.write_bytes(b"tampered")  # a changed copy is not used: the registry's is, downloaded and verified
    assert load_in_package(unpacked, code, env) == str(tmp_path / "cache" / name / "1" / "model.bin")
    zipfile.ZipFile(report.output).extract(f"{layout.PACKAGED_MODELS_DIR}/{name}/1/model.bin", unpacked)
    model.delete()  # from here on only the baked copy exists
    shutil.rmtree(tmp_path / "cache")
    assert load_in_package(unpacked, code, env) == str(baked)
    # And the unpacked package is the app: a Functions host indexes and serves it as it is.
    with run_host(unpacked, tmp_path / "host", storage=azurite.connection_string) as host, host.client() as client:
        assert client.get("/api/openapi.json").json()["info"]["title"] == "fninfer"


def test_baked_services_load_their_code_from_the_package(app: Path, ws: Workspace, tmp_path: Path, unique: str) -> None:
    (tmp_path / "model.txt").write_text("m")
    model = Model.register(ws, model_path=str(tmp_path / "model.txt"), model_name=f"svc_model_{unique}")
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    inference = InferenceConfig(entry_script="score.py", source_directory=source)
    service = Model.deploy(ws, f"baked-{unique}", [model], inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=60)
    report = build_package(offline(app, tmp_path / "app.zip", services=(service.name,), storage=ws.storage))
    assert report.services == [service.name] and report.models == [model.id]
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(report.output).extractall(unpacked)
    snapshot = ws.client.request("GET", f"services/{service.name}")["snapshot"]
    assert (unpacked / layout.PACKAGED_SNAPSHOTS_DIR / snapshot["id"] / "score.py").is_file()
    code = (
        "import json, sys; from shared.registry.snapshots import materialize; "
        "print(materialize(None, json.loads(sys.argv[1])))"
    )
    folder = load_in_package(unpacked, code.replace("sys.argv[1]", repr(json.dumps(snapshot))), {})
    assert folder == str(unpacked / layout.PACKAGED_SNAPSHOTS_DIR / snapshot["id"])  # no storage was needed
    service.delete()


# -- optional features: in the zip only when something registered needs them ------------------------------------


def with_parquet_extra(app: Path) -> None:
    """The app's pyproject with a `parquet` extra, as fninfer's own has (a hand-made wheel stands for pyarrow)."""
    make_wheel(app.parent / "wheels", "tinyarrow")
    (app / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["tinydep>=1"]\n'
        '[project.optional-dependencies]\nparquet = ["tinyarrow>=1"]\ndev = ["pytest"]\n'
    )


def test_an_optional_feature_nothing_needs_is_left_out_and_said_so(app: Path, tmp_path: Path) -> None:
    with_parquet_extra(app)
    report = build_package(offline(app, tmp_path / "app.zip"))
    assert report.distributions == [("tinydep", "1.0")]
    assert report.features == [
        "left out parquet: tinyarrow (Parquet files of tabular datasets): the registry was not checked (no --storage "
        "and no workspace config); `--with parquet` puts it in"
    ]
    assert any(line.strip() == report.features[0] for line in report.lines())
    asked = build_package(offline(app, tmp_path / "asked.zip", extras=("parquet",)))
    assert asked.distributions == [("tinyarrow", "1.0"), ("tinydep", "1.0")]
    assert asked.features == ["with parquet: tinyarrow>=1 (asked for)"]
    assert "tinyarrow==1.0" in zipfile.ZipFile(asked.output).read("requirements.txt").decode()
    with pytest.raises(PackagingError, match=r"--with arrow: the app has no such extra \(its extras: dev, parquet\)"):
        build_package(offline(app, tmp_path / "unknown.zip", extras=("arrow",)))
    wheels = str(tmp_path / "wheels")
    args = ["package", "--app-dir", str(app), "-o", str(tmp_path / "cli.zip"), "--find-links", wheels, "--no-index"]
    result = CliRunner().invoke(main, [*args, "--with", "parquet"])
    assert result.exit_code == 0, result.output
    assert "with parquet: tinyarrow>=1 (asked for)" in result.output


def test_an_optional_feature_is_in_when_the_registry_needs_it(
    app: Path, ws: Workspace, lone_azurite: Azurite, tmp_path: Path, unique: str
) -> None:
    with_parquet_extra(app)
    empty = Storage.from_connection_string(lone_azurite.connection_string)
    report = build_package(offline(app, tmp_path / "empty.zip", storage=empty))
    assert report.distributions == [("tinydep", "1.0")]
    assert report.features[0].startswith("left out parquet: tinyarrow (Parquet files of tabular datasets): nothing")

    frame = pd.DataFrame({"x": [1, 2]})
    folder = tmp_path / "pq"
    folder.mkdir()
    frame.to_parquet(folder / "rows.parquet", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(folder), target_path=f"pq-{unique}", overwrite=True, show_progress=False)
    Dataset.Tabular.from_parquet_files(path=(datastore, f"pq-{unique}/*.parquet")).register(ws, f"pq-{unique}")
    report = build_package(offline(app, tmp_path / "registry.zip", storage=ws.storage))
    assert ("tinyarrow", "1.0") in report.distributions
    assert report.features[0].startswith("with parquet: tinyarrow>=1, because ")
    assert f"dataset 'pq-{unique}' (version 1) reads Parquet files" in report.features[0]

    environment = Environment(f"arrow-{unique}")
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["tinyarrow==1.0"])
    environment.register(ws)
    needed = build_package(offline(app, tmp_path / "env.zip", storage=ws.storage)).features[0]
    assert f"environment 'arrow-{unique}' asks for 'tinyarrow==1.0'" in needed


def test_a_parquet_read_without_pyarrow_says_how_to_package_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as in a zip built without the parquet extra
    with pytest.raises(ParseError, match=r"reading Parquet needs pyarrow.*`--with parquet`"):
        tabular.parse_parquet(b"PAR1", "file workspaceblobstore/x.parquet")


def test_a_real_linux_wheel_from_the_index(app: Path, tmp_path: Path) -> None:
    reachable = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp_path / "probe"), "markupsafe"],
        capture_output=True,
    )
    if reachable.returncode != 0:
        pytest.skip("the package index cannot be reached from here")
    (app / "pyproject.toml").write_text('[project]\nname = "app"\ndependencies = ["markupsafe>=2"]\n')
    report = build_package(PackageRequest(app_dir=app, output=tmp_path / "app.zip", target=Target("3.11")))
    names = zipfile.ZipFile(report.output).namelist()
    assert any(
        n.startswith(f"{layout.PACKAGED_SITE_PACKAGES}/markupsafe/") and "cpython-311-x86_64-linux-gnu" in n
        for n in names
    )


# -- the package boundary: the deployed zip and the installed wheel --------------------------------------------------

ISOLATED = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])  # python -I -S: nothing else but the standard library
"""


def run_isolated(code: str, path: list[Path], cwd: Path) -> str:
    """Run `code` in a Python that imports only from `path` and the standard library (no site-packages, no .pth)."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ISOLATED + code, json.dumps([str(p) for p in path])],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def real_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fninfer's own app packaged as `fninfer package` builds it (real Linux wheels from the index), unpacked."""
    folder = tmp_path_factory.mktemp("real-package")
    probe = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder / "probe"), "tzdata"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("the package index cannot be reached from here")
    report = build_package(PackageRequest(app_dir=ROOT, output=folder / "app.zip", target=Target("3.11")))
    zipfile.ZipFile(report.output).extractall(folder / "unpacked")
    return folder / "unpacked"


def test_the_zip_alone_runs_the_app_and_the_sdk_its_entry_scripts_use(real_package: Path, tmp_path: Path) -> None:
    site_packages = real_package / layout.PACKAGED_SITE_PACKAGES
    code = """
import function_app
functions = function_app.app.get_functions()
from fninfer.core import Model  # what an entry script calls inside the app
assert callable(Model.get_model_path)
import shared.registry.models, fninfer._model
assert fninfer._model.deployed_version is shared.registry.models.deployed_version  # one copy of the domain
for left_out in ("uvicorn", "click", "fninfer_host", "fninfer_cli"):
    try:
        __import__(left_out)
    except ImportError:
        continue
    raise AssertionError(left_out + " is in the package")
roots = {module.__file__.split("/site-packages/")[0] if "/site-packages/" in module.__file__ else module.__file__
         for module in list(sys.modules.values()) if getattr(module, "__file__", None)}
print(len(functions), json.dumps(sorted(roots)))
"""
    count, roots = run_isolated(code, [real_package, site_packages], cwd=tmp_path).split(" ", 1)
    stdlib = Path(json.__file__).parent.parent
    for root in json.loads(roots):  # every module came from the zip or the standard library
        assert Path(root).is_relative_to(real_package) or Path(root).is_relative_to(stdlib), root
    assert int(count) == len(ws_function_names())
    requirements = (real_package / "requirements.txt").read_text()
    assert "azure-functions==" in requirements and "azure-functions-worker" not in requirements
    assert not {"uvicorn", "click"} & {line.split("==")[0] for line in requirements.splitlines()}
    # Parquet is an optional feature nothing asked for here: no pyarrow, and the app and the SDK import without it.
    assert "pyarrow" not in requirements and not (real_package / layout.PACKAGED_SITE_PACKAGES / "pyarrow").exists()


def ws_function_names() -> list[str]:
    """The functions fninfer's app registers, as its local host indexes them."""
    from fninfer_host.indexing import index_functions

    return [function.name for function in index_functions(ROOT)]


def test_the_installed_wheel_is_fninfer_alone(tmp_path: Path) -> None:
    """`pip install .` puts no top-level `shared` or `functions` into site-packages; the SDK imports without the app."""
    source = tmp_path / "source"
    source.mkdir()
    for part in ("pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / part, source / part)
    for part in ("fninfer", "shared", "tools"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "wheel"), str(source)]
    result = subprocess.run(build, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "Could not find a version that satisfies the requirement setuptools" in result.stderr:
        pytest.skip("the package index cannot be reached for the build backend")
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "wheel").glob("fninfer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} <= {
        "fninfer",
        "fninfer_user",
        wheel.name.split("-")[0] + "-0.1.0.dist-info",
    }
    assert "fninfer/_shared/core/layout.py" in names and "fninfer/core/__init__.py" in names
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    vendored = [n for n in names if n.endswith(".py") and "from shared" in zipfile.ZipFile(wheel).read(n).decode()]
    assert vendored == []  # every import of the domain points into fninfer._shared
    dependencies = Path(httpx.__file__).parent.parent  # this venv's site-packages, for azure-*, numpy, ...
    empty = tmp_path / "empty"
    empty.mkdir()
    code = """
import fninfer.core, fninfer.pipeline.steps, fninfer.pipeline.core
from fninfer.core import Dataset, Environment, Model, Workspace
from fninfer.core.conda_dependencies import CondaDependencies
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"shared", "functions", "function_app"})
print(fninfer.core.__file__, loaded)
"""
    where, loaded = run_isolated(code, [installed, dependencies], cwd=empty).split(" ", 1)
    assert Path(where).is_relative_to(installed) and loaded == "[]"
