"""How soon the SDK's waits return after the end, and how many requests they make: long polls (the SDK's waits)
against polling (the waits before long polls, reimplemented here), side by side in one run.

    .venv/bin/python benchmarks/waits.py [--rounds 5] [--instances 2] [--latency-ms 20]

Two things are waited for, each `--rounds` times with each method, interleaved:
  - a one-file ParallelRunStep pipeline whose run() sleeps 1-2x `--run-seconds` (at random):
    `wait_for_completion(show_output=False)` against a loop reading the run every 0.1 s growing by 1.5x to 2 s
    (the old `_wait`);
  - a service whose init() sleeps as long, deployed again each round: `wait_for_deployment()` against a loop
    reading the service every 0.5 s (the old wait_for_deployment).
Printed per kind and method: the median lag from the end (the run record's `end_time`, or the service record's
`updated_time` when it became Healthy, both stamped by the host on this machine's clock) to the wait's return, its
range, the median number of requests the wait made, and the ratio of the lags. With `--instances 2` the end is
often written by the instance that does not hold the wait, which hears of it from storage (conditional HEADs every
50 ms) rather than from its own write; `--latency-ms` puts a proxy in front of Azurite (benchmarks/latency_proxy.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from latency_proxy import LatencyProxy, endpoint_port, proxied_connection_string  # noqa: E402

from fninfer.core import Dataset, Environment, Experiment, Workspace  # noqa: E402
from fninfer.core.model import InferenceConfig, Model  # noqa: E402
from fninfer.core.webservice import AciWebservice  # noqa: E402
from fninfer.pipeline.core import Pipeline, PipelineData  # noqa: E402
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep  # noqa: E402
from fninfer_host.azurite import start_azurite  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402

#: The work lasts between `s` and 2 `s` seconds, a different time each round: a polling wait's lag depends on where
#: the end falls between two of its reads, so one fixed length would favour or penalise it by chance.
SLEEP = "    time.sleep({s} * (1 + random.random()))\n"
HEADER = "import random\nimport time\n\n\n"
BATCH_SCRIPT = HEADER + "def init():\n    pass\n\n\ndef run(batch):\n" + SLEEP + "    return [1]\n"
SERVICE_SCRIPT = HEADER + "def init():\n" + SLEEP + "\n\ndef run(raw_data):\n    return [1]\n"
TERMINAL = ("Finished", "Failed", "Canceled")


class Requests:
    """GETs the SDK's client sends to one path."""

    def __init__(self, ws: Workspace) -> None:
        self.seen: list[str] = []
        ws.client._http.event_hooks["request"].append(lambda request: self.seen.append(request.url.path))

    def count(self, suffix: str, since: int) -> int:
        return sum(1 for path in self.seen[since:] if path.endswith(suffix))


def polled(read: Callable[[], Any], done: Callable[[Any], bool], first: float, grow: float) -> None:
    """The waits before long polls: read, then sleep `first` growing by `grow` up to 2 s."""
    pause = first
    while not done(read()):
        time.sleep(pause)
        pause = min(pause * grow, 2.0)


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def pipeline_round(ws: Workspace, pipeline: Pipeline, method: str, requests: Requests) -> tuple[float, int]:
    run = Experiment(ws, "wait-benchmark").submit(pipeline)
    since = len(requests.seen)
    if method == "long poll":
        run.wait_for_completion(show_output=False)
    else:
        path = f"pipelines/runs/{run.id}"
        polled(lambda: ws.client.request("GET", path), lambda r: r["status"] in TERMINAL, 0.1, 1.5)
    returned = time.time()
    made = requests.count(f"pipelines/runs/{run.id}", since)
    record = ws.client.request("GET", f"pipelines/runs/{run.id}")
    assert record["status"] == "Finished", record
    return returned - stamp(record["end_time"]), made


def service_round(ws: Workspace, source: Path, method: str, requests: Requests) -> tuple[float, int]:
    config = InferenceConfig(entry_script="score.py", source_directory=str(source))
    service = Model.deploy(ws, "wait-bench", [], config, AciWebservice.deploy_configuration(), overwrite=True)
    since = len(requests.seen)
    if method == "long poll":
        service.wait_for_deployment()
    else:
        polled(
            lambda: ws.client.request("GET", "services/wait-bench"),
            lambda r: r["state"] != "Transitioning",
            0.5,
            1.0,
        )
    returned = time.time()
    made = requests.count("services/wait-bench", since)
    record = ws.client.request("GET", "services/wait-bench")
    assert record["state"] == "Healthy", record
    return returned - stamp(record["updated_time"]), made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per storage request (a proxy)")
    parser.add_argument("--run-seconds", type=float, default=1.0, help="run() or init() sleeps 1-2x this")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-waits-bench-"))
    azurite = start_azurite(ROOT)
    proxies: list[LatencyProxy] = []
    connection = azurite.connection_string
    if args.latency_ms:
        by_service = {
            service: LatencyProxy(endpoint_port(connection, service), args.latency_ms / 2).start()
            for service in ("Blob", "Queue")
        }
        proxies = list(by_service.values())
        connection = proxied_connection_string(connection, by_service)
    found: dict[tuple[str, str], list[tuple[float, int]]] = {}
    try:
        batch_source, service_source, data = work / "batch", work / "service", work / "data"
        for folder in (batch_source, service_source, data):
            folder.mkdir()
        (batch_source / "score.py").write_text(BATCH_SCRIPT.format(s=args.run_seconds))
        (service_source / "score.py").write_text(SERVICE_SCRIPT.format(s=args.run_seconds))
        (data / "one.txt").write_text("1\n")
        with run_host(ROOT, work / "host", storage=connection, instances=args.instances) as host:
            ws = Workspace.from_config(host.config_path)
            datastore = ws.get_default_datastore()
            datastore.upload(src_dir=str(data), target_path="wait-bench", overwrite=True, show_progress=False)
            dataset = Dataset.File.from_files(path=(datastore, "wait-bench/*.txt"))
            config = ParallelRunConfig(
                source_directory=str(batch_source),
                entry_script="score.py",
                mini_batch_size="1",
                error_threshold=0,
                output_action="append_row",
                environment=Environment("wait-bench"),
                compute_target="local-host",
                node_count=1,
                process_count_per_node=1,
            )
            step = ParallelRunStep(
                name="sleep",
                parallel_run_config=config,
                inputs=[dataset.as_named_input("data")],
                output=PipelineData("out", datastore=datastore),
                allow_reuse=False,
            )
            pipeline = Pipeline(workspace=ws, steps=[step])
            requests = Requests(ws)
            with contextlib.redirect_stdout(io.StringIO()):  # the waits' own lines ("PipelineRunId: ...")
                pipeline_round(ws, pipeline, "long poll", requests)  # warm: imports, caches
                for _ in range(args.rounds):
                    for method in ("long poll", "polling"):
                        found.setdefault(("pipeline run", method), []).append(
                            pipeline_round(ws, pipeline, method, requests)
                        )
                        found.setdefault(("service deployment", method), []).append(
                            service_round(ws, service_source, method, requests)
                        )
    finally:
        for proxy in proxies:
            proxy.stop()
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)

    latency = f"{args.latency_ms:g} ms per storage request" if args.latency_ms else "plain Azurite"
    print(
        f"\nwaits: {args.rounds} rounds, {args.instances} host instance(s), {latency}, run()/init() "
        f"{args.run_seconds:g}-{2 * args.run_seconds:g} s; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'':20}{'method':>11}{'lag after the end, ms':>28}{'requests':>10}{'lag vs polling':>16}")
    for kind in ("pipeline run", "service deployment"):
        base = statistics.median(lag for lag, _ in found[(kind, "polling")])
        for method in ("long poll", "polling"):
            lags = [lag * 1000 for lag, _ in found[(kind, method)]]
            made = statistics.median(count for _, count in found[(kind, method)])
            spread = f"{statistics.median(lags):6.0f} ({min(lags):.0f}-{max(lags):.0f})"
            ratio = statistics.median(lags) / 1000 / base
            print(f"{kind:20}{method:>11}{spread:>28}{made:>10.0f}{ratio:>15.2f}x")
    print("(lag: the wait's return minus the end the host stamped in the record; requests: the wait's own GETs)")


if __name__ == "__main__":
    main()
