"""What a scoring call costs the caller: `Webservice.run` beside the HTTP calls it could be, in the same run, against
one service on a local host.

    .venv/bin/python benchmarks/sdk_calls.py [--calls 200] [--rounds 3]

Each call sends one iris row to a deployed service and waits for its answer. Printed per way of calling: the median
over rounds of the wall time per call and of this process's CPU per call, and their ratios to `requests.post`.
  - `Webservice.run`: fninfer's SDK, a new HTTP client per call (as Azure ML's `run` makes a new requests Session
    per call), sharing one TLS context (fninfer/_http.py);
  - `httpx.post`: a new client per call that builds its own TLS context, as `Webservice.run` did before
    (loading the CA bundle, whatever the URL's scheme);
  - `requests.post`: what Azure ML's `Webservice.run` sends, without its `get_keys` call per call (the service
    here has no keys).
Rounds alternate between the ways so the machine's load falls on all alike; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fninfer.core import Workspace  # noqa: E402
from fninfer.core.model import InferenceConfig, Model  # noqa: E402
from fninfer.core.webservice import AciWebservice  # noqa: E402
from fninfer_host.azurite import start_azurite  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402

SCRIPT = "def init():\n    pass\n\n\ndef run(raw_data):\n    return [len(raw_data)]\n"
BODY = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]})


def per_call(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Milliseconds of wall time and of this process's CPU per call."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall) / calls * 1e3, (time.process_time() - cpu) / calls * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sdk-calls-"))
    azurite = start_azurite(ROOT)
    try:
        with run_host(ROOT, workdir / "host", storage=azurite.connection_string) as host:
            ws = Workspace.from_config(host.config_path)
            source = workdir / "service"
            source.mkdir()
            (source / "score.py").write_text(SCRIPT)
            inference = InferenceConfig(entry_script="score.py", source_directory=str(source))
            service = Model.deploy(ws, "sdk-calls", [], inference, AciWebservice.deploy_configuration())
            service.wait_for_deployment(timeout_sec=120)
            uri, headers = service.scoring_uri, {"Content-Type": "application/json"}
            ways: dict[str, Callable[[], object]] = {
                "Webservice.run": lambda: service.run(BODY),
                "httpx.post": lambda: httpx.post(uri, content=BODY, headers=headers, timeout=120).json(),
                "requests.post": lambda: requests.post(uri, data=BODY, headers=headers, timeout=120).json(),
            }
            for call in ways.values():
                call()  # the service loaded, connections and imports warm
            measured: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
            for _ in range(args.rounds):
                for name, call in ways.items():
                    measured[name].append(per_call(call, args.calls))
    finally:
        azurite.stop()
    baseline_wall = statistics.median(wall for wall, _ in measured["requests.post"])
    baseline_cpu = statistics.median(cpu for _, cpu in measured["requests.post"])
    print(f"{args.calls} calls x {args.rounds} rounds, one iris row per call, medians of the rounds")
    print(f"{'':16} {'wall ms/call':>12} {'ratio':>6} {'client CPU ms/call':>18} {'ratio':>6}")
    for name, rounds in measured.items():
        wall = statistics.median(value for value, _ in rounds)
        cpu = statistics.median(value for _, value in rounds)
        print(f"{name:16} {wall:12.2f} {wall / baseline_wall:5.2f}x {cpu:18.2f} {cpu / baseline_cpu:5.2f}x")


if __name__ == "__main__":
    main()
