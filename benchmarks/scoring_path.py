"""fninfer's own work per scoring call, without HTTP parsing, sockets or a load client: the instance's ASGI app
driven in-process, side by side with calling the same run() directly.

    .venv/bin/python benchmarks/scoring_path.py [--calls 12000] [--rounds 3] [--callers 8]

A host (`fninfer start`, Azurite) deploys two services: the seeds' iris entry script and one whose run() returns at
once. Then a child process with the instance's environment builds what an instance builds (host.json's options,
the indexed function_app.py, the Invoker, the HttpApp) and sends it scoring calls as ASGI messages from `--callers`
tasks at once, as uvicorn would hand them over. Printed per service: CPU microseconds per call (process time, every
thread: the event loop and the scoring threads), the same for run() called directly in a loop, and the difference,
which is the host's and the app's own work per call (routing, the invocation, the key check, the scoring thread's hop,
the response). benchmarks/realtime.py measures the whole server under an HTTP client; this one moves about half as
much from run to run, so it is the one to compare a change to the scoring path with.

    .venv/bin/python benchmarks/scoring_path.py --baseline <git revision>

compares a change with that revision side by side in one run: the revision's app (function_app.py, functions/,
shared/, exported with `git archive`) and the working tree's are driven by child processes in turn, round by round,
on the same host and services, and each one's own work is printed with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY = json.dumps({"data": [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]}).encode()
NO_OP_SCRIPT = "def init():\n    pass\n\n\ndef run(raw_data):\n    return [1, 2]\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=12_000, help="per service and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callers", type=int, default=8, help="calls in flight at once")
    parser.add_argument("--baseline", metavar="REVISION", help="also measure the app at this git revision")
    parser.add_argument("--drive", nargs=2, metavar=("MODEL_PATH", "ROUNDS"), help=argparse.SUPPRESS)
    parser.add_argument("--app-dir", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.drive:
        sys.path.insert(0, str(arguments.app_dir))  # its function_app, functions/ and shared/ before the tree's
        drive(
            Path(arguments.drive[0]),
            arguments.calls,
            int(arguments.drive[1]),
            arguments.callers,
            arguments.app_dir,
            arguments.json,
        )
        return

    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from fninfer.core import Model, Workspace
    from fninfer.core.model import InferenceConfig
    from fninfer.core.webservice import AciWebservice
    from fninfer_host.testing import free_port, run_host

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from realtime import process_tree

    scratch = Path(tempfile.mkdtemp(prefix="fninfer-scoring-path-"))
    try:
        features, labels = load_iris(return_X_y=True)
        model_path = scratch / "model.pkl"
        joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), model_path)
        iris_source, no_op_source = scratch / "iris", scratch / "no-op"
        shutil.copytree(ROOT / "examples" / "service_files", iris_source)
        no_op_source.mkdir()
        (no_op_source / "score.py").write_text(NO_OP_SCRIPT)
        with run_host(app_dir=ROOT, workdir=scratch / "host", port=free_port()) as host:
            ws = Workspace.from_config(host.config_path)
            model = Model.register(ws, model_path=model_path, model_name="classification_model")
            for name, source in (("iris", iris_source), ("no-op", no_op_source)):
                config = InferenceConfig("score.py", source_directory=source)
                Model.deploy(ws, name, [model], config, AciWebservice.deploy_configuration()).wait_for_deployment()
            instance = process_tree(host.process.pid, only="fninfer_host.instance")[-1]
            environ = dict(
                line.split("=", 1)
                for line in Path(f"/proc/{instance}/environ").read_bytes().decode().split("\0")
                if "=" in line
            )
            command = [sys.executable, __file__, "--calls", str(arguments.calls), "--callers", str(arguments.callers)]
            cwd = os.readlink(f"/proc/{instance}/cwd")
            if arguments.baseline is None:
                command += ["--drive", str(model_path), str(arguments.rounds)]
                subprocess.run(command, env=environ, cwd=cwd, check=True)
            else:
                baseline = _export(arguments.baseline, scratch / "baseline")
                compare(command, environ, cwd, model_path, arguments, baseline)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _export(revision: str, target: Path) -> Path:
    """The app at `revision` (function_app.py, host.json, functions/, shared/) in `target`."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "function_app.py", "host.json", "functions", "shared"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def compare(
    command: list[str], environ: dict[str, str], cwd: str, model_path: Path, arguments: Any, baseline: Path
) -> None:
    """Both apps, a round each in turn (which goes first alternates), then their medians side by side."""
    apps = {f"at {arguments.baseline}": baseline, "working tree": ROOT}
    results: dict[str, list[dict[str, dict[str, float]]]] = {label: [] for label in apps}
    for round_number in range(arguments.rounds):
        order = list(apps) if round_number % 2 == 0 else list(apps)[::-1]
        for label in order:
            child = [*command, "--drive", str(model_path), "1", "--app-dir", str(apps[label]), "--json"]
            answer = subprocess.run(child, env=environ, cwd=cwd, check=True, capture_output=True, text=True).stdout
            results[label].append(json.loads(answer.splitlines()[-1]))
    calls, callers, rounds = arguments.calls, arguments.callers, arguments.rounds
    print(f"CPU us per call: medians of {rounds} rounds of {calls} calls, {callers} at once, {os.cpu_count()} CPUs;")
    print("the two apps' rounds interleaved, each in a child process of its own")
    labels = list(apps)
    print(f"{'service':<8}{'run()':>8}" + "".join(f"{'own, ' + label:>26}" for label in labels) + f"{'ratio':>8}")
    for service in results[labels[0]][0]:
        alone = statistics.median(r[service]["run"] for label in labels for r in results[label])
        own = [statistics.median(r[service]["own"] for r in results[label]) for label in labels]
        print(f"{service:<8}{alone:>8.0f}" + "".join(f"{value:>26.0f}" for value in own) + f"{own[1] / own[0]:>8.2f}")


def drive(model_path: Path, calls: int, rounds: int, callers: int, app_dir: Path, as_json: bool) -> None:
    """In the child: build the instance's HTTP side and measure (see the module docstring)."""
    runs = {"no-op": lambda: [1, 2], "iris": _iris_run(model_path)}
    through = asyncio.run(_through_app(list(runs), calls, rounds, callers, app_dir))
    alone = {
        service: statistics.median(_cpu_per_call(run, calls) for _ in range(rounds)) for service, run in runs.items()
    }
    if as_json:
        figures = {s: {"run": alone[s], "own": through[s] - alone[s]} for s in runs}
        print(json.dumps(figures))
        return
    print(f"CPU us per call: medians of {rounds} rounds of {calls} calls, {callers} at once, {os.cpu_count()} CPUs")
    print(f"{'service':<8}{'fninfer':>10}{'run()':>10}{'fninfer own':>14}")
    for service in runs:
        print(f"{service:<8}{through[service]:>10.0f}{alone[service]:>10.0f}{through[service] - alone[service]:>14.0f}")


def _iris_run(model_path: Path) -> Callable[[], Any]:
    """The seeds' run() (examples/service_files/score.py) on the same model and body, called directly."""
    import joblib

    spec = importlib.util.spec_from_file_location("seed_score", ROOT / "examples" / "service_files" / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.model = joblib.load(model_path)  # what its init() loads, without the model registry
    text = BODY.decode()
    return lambda: module.run(text)


def _cpu_per_call(function: Callable[[], Any], calls: int) -> float:
    for _ in range(min(calls, 500)):
        function()
    started = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - started) / calls * 1e6


async def _through_app(services: list[str], calls: int, rounds: int, callers: int, app_dir: Path) -> dict[str, float]:
    """Each service's median CPU per call through one instance's HTTP app, built once."""
    from fninfer_host.admin import AdminApi
    from fninfer_host.http_server import HttpApp
    from fninfer_host.indexing import index_functions
    from fninfer_host.invoker import Invoker
    from fninfer_host.logs import configure_logging
    from fninfer_host.options import load_host_options

    options = load_host_options(app_dir)
    configure_logging(options.log_levels).stream = io.StringIO()  # the host's lines are made, then dropped
    functions = index_functions(app_dir)
    invoker = Invoker(
        asyncio.get_running_loop(), str(app_dir), options.function_timeout, lambda: None, log_levels=options.log_levels
    )
    app = HttpApp(functions, options, invoker, AdminApi(functions, invoker, "benchmark", 0, options.extension_bundle))
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def caller(scope: dict[str, Any], count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)

    medians = {}
    for service in services:
        scope = _scoring_scope(service)
        await asyncio.gather(*(caller(scope, 200) for _ in range(callers)))  # loads the service, warms up
        results = []
        for _ in range(rounds):
            statuses.clear()
            started = time.process_time()
            await asyncio.gather(*(caller(scope, calls // callers) for _ in range(callers)))
            results.append((time.process_time() - started) / len(statuses) * 1e6)
            if set(statuses) != {200}:
                raise SystemExit(f"{service}: answered {sorted(set(statuses))}, not only 200")
        medians[service] = statistics.median(results)
    invoker.shutdown()
    return medians


def _scoring_scope(service: str) -> dict[str, Any]:
    """The ASGI scope uvicorn makes for a POST to `service`'s scoring URI from an httpx client."""
    path = f"/api/services/{service}/score"
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 7071),
        "headers": [
            (b"host", b"127.0.0.1:7071"),
            (b"user-agent", b"python-httpx/0.28"),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
            (b"connection", b"keep-alive"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }


if __name__ == "__main__":
    main()
