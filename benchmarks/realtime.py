"""Real-time scoring speed: fninfer's scoring endpoint vs a minimal FastAPI app, Azure ML's own scoring server and
mlflow (each when installed).

    make bench        # installs FastAPI into .venv and Azure ML's server into its own venv, then runs this
    python3.11 -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install mlflow scikit-learn joblib  # optional
    AMLSERVER_PYTHON=... MLFLOW_PYTHON=... .venv/bin/python benchmarks/realtime.py [--seconds 3] [--rounds 3]

One scikit-learn model (iris) is served each way in one run, all up at once; the same client load (concurrency 1,
8, 32, keep-alive connections, loopback) hits each for the same time, in interleaved rounds. Printed: the median
requests/s, p50 and p99 latency, and each target's ratio to the baseline (FastAPI calling `predict`) and to Azure
ML's server. Azure ML's server (`azureml-inference-server-http`, Flask on gunicorn, the server of v1 images) runs
when the interpreter in $AMLSERVER_PYTHON has it, with `--worker_count` = the CPU count; mlflow when `mlflow` is
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

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fninfer.core import Model, Workspace  # noqa: E402
from fninfer.core.model import InferenceConfig  # noqa: E402
from fninfer.core.webservice import AciWebservice  # noqa: E402
from fninfer.testing import free_port, run_host  # noqa: E402

BODY = json.dumps({"data": [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]}).encode()
LEVELS = (1, 8, 32)


async def load(
    url: str, concurrency: int, seconds: float, headers: dict[str, str], body: bytes = BODY
) -> tuple[float, float, float]:
    """Requests/s, p50 ms and p99 ms of `concurrency` closed-loop clients for `seconds`."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(deadline: float) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        latencies.clear()
        begin = time.perf_counter()
        await asyncio.gather(*(worker(begin + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ordered) * 1000, p99 * 1000


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.post(url, content=BODY, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
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
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return process, f"http://127.0.0.1:{port}/invocations"


def start_azureml_server(model_path: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """Azure ML's scoring server on the same model; None when $AMLSERVER_PYTHON cannot import it."""
    python = os.environ.get("AMLSERVER_PYTHON")
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
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch)
    return process, f"http://127.0.0.1:{port}/score"


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    body: bytes


def measure(targets: dict[str, Target], seconds: float, rounds: int) -> dict[str, dict[int, tuple[float, ...]]]:
    """Each (target, concurrency) for `seconds`, in `rounds` interleaved rounds; the median of each figure. Load from
    other work on the machine then falls on every target alike instead of on whichever ran while it was busy."""
    samples: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for concurrency in LEVELS:
            for name, target in targets.items():
                figures = asyncio.run(load(target.url, concurrency, seconds, target.headers, target.body))
                samples.setdefault((name, concurrency), []).append(figures)
    return {
        name: {c: tuple(statistics.median(column) for column in zip(*samples[name, c], strict=True)) for c in LEVELS}
        for name in targets
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="per target, concurrency and round")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fninfer-bench-"))
    features, labels = load_iris(return_X_y=True)
    model_path = scratch / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), model_path)
    source = scratch / "service_files"
    shutil.copytree(ROOT / "examples" / "service_files", source)

    processes: list[subprocess.Popen[bytes]] = []
    try:
        with run_host(app_dir=ROOT, workdir=scratch / "host") as host:
            ws = Workspace.from_config(host.config_path)
            model = Model.register(ws, model_path=model_path, model_name="classification_model")
            inference_config = InferenceConfig("score.py", source_directory=source)
            service = Model.deploy(ws, "bench", [model], inference_config, AciWebservice.deploy_configuration())
            service.wait_for_deployment()
            targets = {"fninfer": Target(service.scoring_uri, {}, BODY)}

            port = free_port()
            baseline_app = str(ROOT / "benchmarks" / "_baseline_app.py")
            processes.append(subprocess.Popen([sys.executable, baseline_app, str(model_path), str(port)]))
            wait_until_up(f"http://127.0.0.1:{port}/score", processes[-1])
            targets["fastapi"] = Target(f"http://127.0.0.1:{port}/score", {}, BODY)

            azureml = start_azureml_server(model_path, scratch)
            if azureml is None:
                print("azureml-inference-server-http: not found (set AMLSERVER_PYTHON, or run `make bench`); skipped")
            else:
                processes.append(azureml[0])
                wait_until_up(azureml[1], azureml[0])
                targets["azureml"] = Target(azureml[1], {"Content-Type": "application/json"}, BODY)

            mlflow = start_mlflow(model_path, scratch)
            if mlflow is None:
                print("mlflow: not importable here (pip install mlflow, or set MLFLOW_PYTHON); skipped")
            else:
                processes.append(mlflow[0])
                wait_until_up(mlflow[1], mlflow[0])
                body = json.dumps({"inputs": [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]}).encode()
                targets["mlflow"] = Target(mlflow[1], {"Content-Type": "application/json"}, body)

            results = measure(targets, arguments.seconds, arguments.rounds)
    finally:
        for process in processes:
            process.terminate()
        shutil.rmtree(scratch, ignore_errors=True)

    rounds = f"{arguments.rounds} rounds of {arguments.seconds:g} s"
    print(f"\nmedians of {rounds}; {os.cpu_count()} CPUs shared by the client and the servers")
    header = f"{'target':<10}{'conc':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}   vs fastapi"
    print(header + ("               vs azureml" if "azureml" in results else ""))
    for target, levels in results.items():
        for concurrency, (rate, p50, p99) in levels.items():
            base_rate, base_p50, _ = results["fastapi"][concurrency]
            line = f"{target:<10}{concurrency:>6}{rate:>10.0f}{p50:>9.1f}{p99:>9.1f}   "
            line += f"{rate / base_rate:.2f}x, p50 {p50 - base_p50:+.2f} ms"
            if "azureml" in results:
                aml_rate, aml_p50, _ = results["azureml"][concurrency]
                line += f"   {rate / aml_rate:.2f}x, p50 {p50 - aml_p50:+.2f} ms"
            print(line)


if __name__ == "__main__":
    main()
