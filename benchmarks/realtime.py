"""Real-time scoring speed: fninfer's scoring endpoint vs a minimal FastAPI app, Azure ML's own scoring server and
mlflow (each when installed).

    make bench        # installs FastAPI into .venv and Azure ML's server into its own venv, then runs this
    python3.11 -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install mlflow scikit-learn joblib  # optional
    AMLSERVER_PYTHON=... MLFLOW_PYTHON=... .venv/bin/python benchmarks/realtime.py [--seconds 3] [--rounds 3]

One scikit-learn model (iris) is served each way in one run, all up at once; the same client load (concurrency 1, 8,
32, keep-alive connections, loopback) hits each for the same time, in interleaved rounds. Printed: the median
requests/s, p50 and p99 latency, the servers' own CPU time per request (user + system, from /proc: the figure least
moved by other work on the machine), and each target's ratio to the baseline (FastAPI calling `predict` on its event
loop) and to Azure ML's server. The same FastAPI app calling `predict` on its thread pool (`fastapi-t`, what FastAPI
does for a plain `def` endpoint) shows what a hop to a thread costs alone: fninfer runs run() on a thread of the
service's, which keeps a stuck run() from blocking the other services. fninfer's CPU counts the host's supervisor and
instance processes (not Azurite), Azure ML's server's its gunicorn master and workers.

Then cold start, fninfer's own (median and range of --cold-rounds):
- `fninfer start` -> the first 200 from a service deployed before the host started (Azurite starts, the instance
  indexes the app, the first call loads the service: its snapshot, its model from storage, init());
- a fresh instance's first scoring call (the host up, nothing loaded yet, empty model and snapshot caches), with the
  model from storage, and baked in: in a root laid out as `fninfer package --include-model` lays it out, named by
  the AZUREML_MODEL_DIR app setting (the package's own root is the app folder, which this run does not rebuild);
and, for scale, each other server's start -> first 200 (its model on local disk).

Azure ML's server (`azureml-inference-server-http`, Flask on gunicorn, the server of v1 images) runs when the
interpreter in $AMLSERVER_PYTHON has it, with `--worker_count` = the CPU count; mlflow when `mlflow` is
importable by $MLFLOW_PYTHON. Both get virtualenvs of their own because they pin versions of packages fninfer's
environment also has. Client and servers share the machine's CPUs: on a 2-CPU machine, or one busy with other work,
the figures are noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fninfer.core import Model, Workspace  # noqa: E402
from fninfer.core.model import InferenceConfig  # noqa: E402
from fninfer.core.webservice import AciWebservice  # noqa: E402
from fninfer_cli.packaging.baking import bake_model  # noqa: E402
from fninfer_host.testing import free_port, run_host  # noqa: E402
from shared.core import layout  # noqa: E402

BODY = json.dumps({"data": [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]}).encode()
LEVELS = (1, 8, 32)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def process_tree(root: int, only: str | None = None) -> list[int]:
    """`root` and its descendants (those whose command line contains `only`, when given), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [root], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            pending.append(child)
            try:
                command = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if only is None or only in command:
                found.append(child)
    return found


async def load(
    url: str, concurrency: int, seconds: float, headers: dict[str, str], body: bytes = BODY
) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms and p99 ms of `concurrency` closed-loop clients for `seconds` (after a second of warm-up),
    and how many requests were answered in all."""
    latencies: list[float] = []
    answered = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(deadline: float) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)
                nonlocal answered
                answered += 1

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        latencies.clear()
        begin = time.perf_counter()
        await asyncio.gather(*(worker(begin + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ordered) * 1000, p99 * 1000, answered


#: Where a baseline server's output goes, by pid: shown when it exits before answering (a missing package, a port).
_logs: dict[int, Path] = {}


def _output_of(process: subprocess.Popen[bytes]) -> str:
    log = _logs.get(process.pid)
    return f"; the end of its output ({log}):\n{log.read_text(errors='replace')[-2000:]}" if log else ""


def _started(command: list[str], log: Path, **options: Any) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **options)
    _logs[process.pid] = log
    return process


def wait_until_up(
    url: str, process: subprocess.Popen[bytes] | None = None, headers: dict[str, str] | None = None
) -> float:
    """Poll `url` until it answers 200; the seconds that took."""
    started = time.perf_counter()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}{_output_of(process)}")
        try:
            if httpx.post(url, content=BODY, headers=headers or {}, timeout=30).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not come up")


def start_mlflow(model_path: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    python = os.environ.get("MLFLOW_PYTHON", sys.executable)
    model_dir = scratch / "mlflow-model"
    load_model = f"joblib.load({str(model_path)!r})"
    save = f"import joblib, mlflow.sklearn; mlflow.sklearn.save_model({load_model}, {str(model_dir)!r})"
    if subprocess.run([python, "-c", save], capture_output=True).returncode != 0:
        return None
    port = free_port()
    command = [
        python,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(model_dir),
        "-p",
        str(port),
        "--env-manager",
        "local",
    ]
    # mlflow starts `uvicorn` from PATH: put its own interpreter's scripts first.
    env = {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = _started(command, scratch / "mlflow.log", env=env)
    return process, f"http://127.0.0.1:{port}/invocations"


def start_azureml_server(model_path: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """Azure ML's scoring server on the same model; None when $AMLSERVER_PYTHON cannot import it."""
    python = os.environ.get("AMLSERVER_PYTHON")
    python = str(Path(python).absolute()) if python else None  # the server runs from the scratch folder
    if not python or subprocess.run([python, "-c", "import azureml_inference_server_http"]).returncode != 0:
        return None
    model_dir = scratch / "azureml-model"
    model_dir.mkdir()
    shutil.copy(model_path, model_dir / "model.pkl")
    port = free_port()
    command = [
        str(Path(python).parent / "azmlinfsrv"),
        "--entry_script",
        str(ROOT / "benchmarks" / "_model_dir_score.py"),
        "--model_dir",
        str(model_dir),
        "--port",
        str(port),
        "--worker_count",
        str(os.cpu_count() or 1),
    ]
    process = _started(command, scratch / "azureml-server.log", cwd=scratch)
    return process, f"http://127.0.0.1:{port}/score"


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    body: bytes
    pids: list[int]  # the server's processes, whose CPU time is counted


def measure(targets: dict[str, Target], seconds: float, rounds: int) -> dict[str, dict[int, tuple[float, ...]]]:
    """Each (target, concurrency) for `seconds`, in `rounds` interleaved rounds; the median of each figure (requests/s,
    p50, p99, server CPU ms per request). Load from other work on the machine then falls on every target alike
    instead of on whichever ran while it was busy."""
    samples: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    for _ in range(rounds):
        for concurrency in LEVELS:
            for name, target in targets.items():
                cpu_before = cpu_seconds(target.pids)
                rate, p50, p99, answered = asyncio.run(
                    load(target.url, concurrency, seconds, target.headers, target.body)
                )
                cpu_ms = (cpu_seconds(target.pids) - cpu_before) * 1000 / max(answered, 1)
                samples.setdefault((name, concurrency), []).append((rate, p50, p99, cpu_ms))
    return {
        name: {c: tuple(statistics.median(column) for column in zip(*samples[name, c], strict=True)) for c in LEVELS}
        for name in targets
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}  ({min(values):.2f}-{max(values):.2f})"


def cold_starts(workdir: Path, port: int, scoring_uri: str, baked_root: Path, rounds: int) -> dict[str, list[float]]:
    """fninfer's cold starts on the storage of the stopped benchmark host (its Azurite keeps its data in `workdir`):
    seconds from `fninfer start` to the service's first 200, and seconds of a fresh instance's first call, with the
    model from storage and baked in."""
    found: dict[str, list[float]] = {}
    cases = [("start", {}), ("first call, model from storage", {}), ("first call, model baked in", {})]
    cases[2] = (cases[2][0], {"AZUREML_MODEL_DIR": str(baked_root)})
    for round_number in range(rounds):
        for case, extra in cases:
            caches = workdir.parent / f"cold-{round_number}-{len(found.get(case, []))}-{case.split()[0]}"
            env = {"FNINFER_MODEL_CACHE": str(caches / "models"), "FNINFER_SNAPSHOT_CACHE": str(caches / "code")}
            started = time.perf_counter()
            with run_host(app_dir=ROOT, workdir=workdir, port=port, env={**env, **extra}) as host:
                if case == "start":
                    wait_until_up(scoring_uri)
                    found.setdefault(case, []).append(time.perf_counter() - started)
                    continue
                status = f"{host.base_url}/admin/host/status"
                while httpx.get(status, timeout=30).status_code != 200:
                    time.sleep(0.02)
                first = time.perf_counter()
                assert httpx.post(scoring_uri, content=BODY, timeout=120).status_code == 200
                found.setdefault(case, []).append(time.perf_counter() - first)
            shutil.rmtree(caches, ignore_errors=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="per target, concurrency and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold-rounds", type=int, default=3, help="cold starts of each kind (0: none)")
    arguments = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fninfer-bench-"))
    features, labels = load_iris(return_X_y=True)
    model_path = scratch / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), model_path)
    source = scratch / "service_files"
    shutil.copytree(ROOT / "examples" / "service_files", source)

    processes: list[subprocess.Popen[bytes]] = []
    starts: dict[str, float] = {}
    cold: dict[str, list[float]] = {}
    try:
        host_port = free_port()
        with run_host(app_dir=ROOT, workdir=scratch / "host", port=host_port) as host:
            ws = Workspace.from_config(host.config_path)
            model = Model.register(ws, model_path=model_path, model_name="classification_model")
            inference_config = InferenceConfig("score.py", source_directory=source)
            service = Model.deploy(ws, "bench", [model], inference_config, AciWebservice.deploy_configuration())
            service.wait_for_deployment()
            # The model as `fninfer package --include-model` bakes it, for the cold start with a baked model.
            bake_model(ws.storage, f"{model.name}:{model.version}", scratch / "app-copy")
            fninfer_pids = process_tree(host.process.pid, only="fninfer_host.instance")
            targets = {"fninfer": Target(service.scoring_uri, {}, BODY, fninfer_pids)}

            port = free_port()
            baseline_app = str(ROOT / "benchmarks" / "_baseline_app.py")
            processes.append(subprocess.Popen([sys.executable, baseline_app, str(model_path), str(port)]))
            starts["fastapi"] = wait_until_up(f"http://127.0.0.1:{port}/score", processes[-1])
            targets["fastapi"] = Target(f"http://127.0.0.1:{port}/score", {}, BODY, [processes[-1].pid])
            port = free_port()  # the same app calling predict on its thread pool, as a `def` endpoint would
            processes.append(subprocess.Popen([sys.executable, baseline_app, str(model_path), str(port), "threaded"]))
            wait_until_up(f"http://127.0.0.1:{port}/score", processes[-1])
            targets["fastapi-t"] = Target(f"http://127.0.0.1:{port}/score", {}, BODY, [processes[-1].pid])

            azureml = start_azureml_server(model_path, scratch)
            if azureml is None:
                print("azureml-inference-server-http: not found (set AMLSERVER_PYTHON, or run `make bench`); skipped")
            else:
                processes.append(azureml[0])
                headers = {"Content-Type": "application/json"}
                starts["azureml"] = wait_until_up(azureml[1], azureml[0], headers)
                targets["azureml"] = Target(azureml[1], headers, BODY, process_tree(azureml[0].pid))

            mlflow = start_mlflow(model_path, scratch)
            if mlflow is None:
                print("mlflow: not importable here (pip install mlflow, or set MLFLOW_PYTHON); skipped")
            else:
                processes.append(mlflow[0])
                headers = {"Content-Type": "application/json"}
                body = json.dumps({"inputs": [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]}).encode()
                starts["mlflow"] = wait_until_up(mlflow[1], mlflow[0], headers)
                targets["mlflow"] = Target(mlflow[1], headers, body, process_tree(mlflow[0].pid))

            results = measure(targets, arguments.seconds, arguments.rounds)
        for process in processes:
            process.terminate()
        if arguments.cold_rounds:
            baked_root = scratch / "app-copy" / layout.PACKAGED_MODELS_DIR
            cold = cold_starts(scratch / "host", host_port, service.scoring_uri, baked_root, arguments.cold_rounds)
    finally:
        for process in processes:
            process.terminate()
        shutil.rmtree(scratch, ignore_errors=True)

    rounds = f"{arguments.rounds} rounds of {arguments.seconds:g} s"
    print(f"\nmedians of {rounds}; {os.cpu_count()} CPUs shared by the client and the servers")
    header = f"{'target':<10}{'conc':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms':>8}   vs fastapi"
    print(header + ("                vs azureml" if "azureml" in results else ""))
    for target, levels in results.items():
        for concurrency, (rate, p50, p99, cpu_ms) in levels.items():
            base_rate, base_p50, _, _ = results["fastapi"][concurrency]
            line = f"{target:<10}{concurrency:>6}{rate:>10.0f}{p50:>9.1f}{p99:>9.1f}{cpu_ms:>8.2f}   "
            line += f"{rate / base_rate:.2f}x, p50 {p50 - base_p50:+.2f} ms"
            if "azureml" in results:
                aml_rate, aml_p50, _, _ = results["azureml"][concurrency]
                line += f"   {rate / aml_rate:.2f}x, p50 {p50 - aml_p50:+.2f} ms"
            print(line)
    print("(cpu ms: the server's own CPU time per request, user + system; fastapi-t: FastAPI calling predict on its")
    print(" thread pool, as for a `def` endpoint, where fastapi calls it on its event loop)")
    if cold:
        print(f"\ncold start, seconds: median (min-max) of {arguments.cold_rounds}")
        labels = {
            "start": "fninfer start -> first 200 of a deployed service",
            "first call, model from storage": "fresh instance, first call, model from storage",
            "first call, model baked in": "fresh instance, first call, model baked in",
        }
        for case, values in cold.items():
            print(f"  {labels[case]:<52}{spread(values)}")
        for name, seconds in starts.items():
            print(f"  {name + ' start -> first 200 (model on local disk)':<52}{seconds:7.2f}")


if __name__ == "__main__":
    main()
