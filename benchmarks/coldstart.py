"""Cold start and idle memory of a host instance, this checkout against another commit, side by side in one run.

    .venv/bin/python benchmarks/coldstart.py [--rounds 3] [--against <git ref>] [--importtime DIR]

The seeds' service (examples/service_files/score.py and an iris model) is deployed five times on one Azurite. Then,
for this checkout and, with `--against`, for the other commit (a git worktree, run with its own code first on
PYTHONPATH, the same virtualenv), each round measures:
  - the app's import: a fresh interpreter importing function_app.py (what every instance does when it starts), its
    seconds, the process's peak memory after it and which heavy packages it loaded;
  - a fresh instance (`fninfer start`, one instance, empty model and snapshot caches): start -> ready (the admin
    status answers), its memory once ready and idle, the seeds' service's first call after ready (the record, the
    snapshot and the model from storage, the entry script's imports, init(), run()), and its memory once all five
    services have answered a call;
and the same fresh instance once more with `/admin/warmup` called when it is ready (the app's warm-up, what Azure
calls on a Premium plan's new instance: every deployed service loads before the first call), this checkout only;
and once per round the floor of that first call, what any server pays to serve this model from a fresh interpreter:
`import joblib, numpy; joblib.load(model); model.predict(...)` (scikit-learn's own imports, scipy's among them).
Printed: medians and ranges, and this checkout's ratio to the other. With `--importtime DIR`, `python -X importtime`
of the app's import for each tree is written to DIR (the evidence of what an instance imports before its first call).
Memory is the instance process's resident set (VmRSS). The machine's other work moves the seconds: compare within
one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realtime import BODY, process_tree  # noqa: E402

from fninfer.core import Model, Workspace  # noqa: E402
from fninfer.core.model import InferenceConfig  # noqa: E402
from fninfer.core.webservice import AciWebservice  # noqa: E402
from fninfer_host.azurite import start_azurite  # noqa: E402
from fninfer_host.testing import free_port, run_host  # noqa: E402

SERVICES = ["seed", "seed-2", "seed-3", "seed-4", "seed-5"]
HEAVY = ("pandas", "pyarrow", "numpy", "scipy", "sklearn", "httpx", "cryptography", "inference_schema")
IMPORT_PROBE = f"""
import sys, time
started = time.perf_counter()
import function_app
seconds = time.perf_counter() - started
import json, pathlib
status = pathlib.Path("/proc/self/status").read_text()
rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "loaded": [name for name in {HEAVY!r} if name in sys.modules]}}))
"""
FLOOR_PROBE = """
import sys, time
started = time.perf_counter()
import joblib, numpy
model = joblib.load(sys.argv[1])
model.predict(numpy.array([[0.1, 2.3, 4.1, 2.0]]))
print(time.perf_counter() - started)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def app_import(tree: Path, importtime: Path | None) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], cwd=tree, env=tree_env(tree), capture_output=True, text=True, check=True
    )
    if importtime is not None:
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import function_app"],
            cwd=tree,
            env=tree_env(tree),
            capture_output=True,
            text=True,
            check=True,
        )
        importtime.write_text(traced.stderr)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def fresh_instance(tree: Path, work: Path, connection: str, scoring: dict[str, str], warm: bool) -> dict[str, float]:
    """Start one instance on the deployed services' storage; its start, memory and the first calls. With `warm`,
    `/admin/warmup` is called once the instance is ready, as Azure does on a Premium plan's new instance."""
    caches = Path(tempfile.mkdtemp(prefix="caches-", dir=work))
    env = {
        "PYTHONPATH": str(tree),
        "FNINFER_MODEL_CACHE": str(caches / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(caches / "code"),
    }
    found: dict[str, float] = {}
    started = time.perf_counter()
    with run_host(app_dir=tree, workdir=caches / "host", storage=connection, port=free_port(), env=env) as host:
        status = f"{host.base_url}/admin/host/status"
        while True:
            try:
                if httpx.get(status, timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        found["start -> ready s"] = time.perf_counter() - started
        instance = process_tree(host.process.pid, only="fninfer_host.instance")[-1]
        if warm:
            warming = time.perf_counter()
            assert httpx.post(f"{host.base_url}/admin/warmup", timeout=300).status_code == 200
            found["warm-up s"] = time.perf_counter() - warming
        first = time.perf_counter()
        answer = httpx.post(f"{host.base_url}/api/{scoring['seed']}", content=BODY, timeout=120)
        found["first call s"] = time.perf_counter() - first
        assert answer.status_code == 200, answer.text
        found["start -> first 200 s"] = time.perf_counter() - started
        time.sleep(1.0)
        found["after the first call MB"] = rss_mb(instance)
        for name in SERVICES[1:]:
            assert httpx.post(f"{host.base_url}/api/{scoring[name]}", content=BODY, timeout=120).status_code == 200
        time.sleep(1.0)
        found["five services loaded MB"] = rss_mb(instance)
    shutil.rmtree(caches, ignore_errors=True)
    return found


def idle_instance(tree: Path, work: Path, connection: str) -> float:
    """An instance's memory once it serves and has done nothing yet."""
    caches = Path(tempfile.mkdtemp(prefix="idle-", dir=work))
    with run_host(tree, caches / "host", storage=connection, port=free_port(), env={"PYTHONPATH": str(tree)}) as host:
        while httpx.get(f"{host.base_url}/admin/host/status", timeout=30).status_code != 200:
            time.sleep(0.05)
        time.sleep(1.0)
        memory = rss_mb(process_tree(host.process.pid, only="fninfer_host.instance")[-1])
    shutil.rmtree(caches, ignore_errors=True)
    return memory


def floor(model_path: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", FLOOR_PROBE, str(model_path)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", help="a git ref to measure beside this checkout (a worktree of it)")
    parser.add_argument("--importtime", type=Path, help="write `python -X importtime` of the app's import here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-coldstart-"))
    trees = {"this": ROOT}
    if args.against:
        baseline = work / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(baseline), args.against])
        trees[args.against] = baseline
    if args.importtime:
        args.importtime.mkdir(parents=True, exist_ok=True)
    azurite = start_azurite(ROOT)
    results: dict[str, dict[str, list[float]]] = {label: {} for label in trees}
    loaded: dict[str, list[str]] = {}
    floors: list[float] = []
    try:
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        model_path = work / "model.pkl"
        joblib.dump(LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True)), model_path)
        source = work / "service_files"
        shutil.copytree(ROOT / "examples" / "service_files", source)
        with run_host(ROOT, work / "setup", storage=azurite.connection_string) as host:
            ws = Workspace.from_config(host.config_path)
            model = Model.register(ws, model_path=str(model_path), model_name="classification_model")
            scoring = {}
            for name in SERVICES:
                config = InferenceConfig("score.py", source_directory=str(source))
                service = Model.deploy(ws, name, [model], config, AciWebservice.deploy_configuration())
                service.wait_for_deployment()
                scoring[name] = f"services/{name}/score"
        for round_number in range(args.rounds):
            floors.append(floor(model_path))
            for label, tree in trees.items():
                trace = None
                if args.importtime and round_number == 0:
                    trace = args.importtime / f"{label.replace(' ', '-').replace('/', '-')}.txt"
                imported = app_import(tree, trace)
                loaded[label] = list(imported["loaded"])  # type: ignore[arg-type]
                figures = results[label]
                figures.setdefault("app import s", []).append(float(imported["seconds"]))  # type: ignore[arg-type]
                figures.setdefault("app import peak MB", []).append(float(imported["rss_mb"]))  # type: ignore[arg-type]
                figures.setdefault("idle instance MB", []).append(idle_instance(tree, work, azurite.connection_string))
                for key, value in fresh_instance(tree, work, azurite.connection_string, scoring, False).items():
                    figures.setdefault(key, []).append(value)
                if tree == ROOT:  # the warm-up is this checkout's (an older one has no /admin/warmup)
                    for key, value in fresh_instance(tree, work, azurite.connection_string, scoring, True).items():
                        figures.setdefault(f"with warm-up: {key}", []).append(value)
    finally:
        azurite.stop()
        if args.against:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "baseline")])
        shutil.rmtree(work, ignore_errors=True)

    labels = list(trees)
    print(
        f"\ncold start: medians (min-max) of {args.rounds} rounds; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    header = f"{'':40}" + "".join(f"{label[:24]:>26}" for label in labels)
    print(header + ("   this / other" if len(labels) > 1 else ""))
    for key in results[labels[0]]:
        line = f"{key:40}" + "".join(
            f"{spread(results[label][key]) if key in results[label] else '':>26}" for label in labels
        )
        if len(labels) > 1 and key in results[labels[1]]:
            ratio = statistics.median(results[labels[0]][key]) / statistics.median(results[labels[1]][key])
            line += f"   {ratio:8.2f}x"
        print(line)
    print(f"{'floor: fresh python, load + predict s':40}{spread(floors):>26}")
    for label in labels:
        print(f"heavy packages the app imports at start ({label}): {', '.join(loaded[label]) or 'none'}")


if __name__ == "__main__":
    main()
