"""An experiment's runs listed (`Experiment.get_runs`, run_history.list_runs) with storage ~10 ms of round trip away,
as Azure Storage is from a Function App: fninfer's listing beside a plain loop that reads the same runs one after the
other (each run's engine record, run.json and tags), in the same run, alternating.

Listing is waiting, not CPU: what the caller waits for is round trips, so list_runs reads its runs READ_THREADS at
once (shared.core.storage.read_at_once). The ratio is the figure to read.

    .venv/bin/python benchmarks/run_listing.py [--runs 40] [--rounds 3] [--one-way-ms 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from latency_proxy import LatencyProxy, proxied_connection_string  # benchmarks/, the script's folder

from fninfer_host.azurite import start_azurite
from shared.core import layout
from shared.core.storage import Storage
from shared.runs import run_history

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "bench-listing"


def one_at_a_time(storage: Storage) -> list[object]:
    """The baseline: the experiment's run ids, then each run's details read in turn."""
    prefix = layout.experiment_runs_prefix(EXPERIMENT)
    ids = [path.rsplit("/", 1)[1] for path in storage.list_names(layout.REGISTRY_CONTAINER, prefix)]
    return [run_history.describe(storage, run_id) for run_id in ids]


def seconds(call: Callable[[], list[object]], runs: int) -> float:
    started = time.perf_counter()
    listed = call()
    elapsed = time.perf_counter() - started
    assert len(listed) == runs, (len(listed), runs)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one-way-ms", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    azurite = start_azurite(ROOT)
    ports = {"Blob": azurite.blob_port, "Queue": azurite.queue_port}
    proxies = {service: LatencyProxy(port, args.one_way_ms).start() for service, port in ports.items()}
    try:
        direct = Storage.from_connection_string(azurite.connection_string)
        for index in range(args.runs):
            run_history.create_run(direct, EXPERIMENT, {"runId": f"bench_run_{index:04d}"})
        remote = Storage.from_connection_string(proxied_connection_string(azurite.connection_string, proxies))
        one_at_a_time(remote)  # connections opened, containers known
        fninfer, baseline = [], []
        for _ in range(args.rounds):
            fninfer.append(seconds(lambda: run_history.list_runs(remote, EXPERIMENT), args.runs))
            baseline.append(seconds(lambda: one_at_a_time(remote), args.runs))
        ours, theirs = statistics.median(fninfer), statistics.median(baseline)
        print(f"{args.runs} runs, {2 * args.one_way_ms:.0f} ms round trip, median of {args.rounds}:")
        print(f"  list_runs      {ours * 1000:7.0f} ms")
        print(f"  one at a time  {theirs * 1000:7.0f} ms")
        print(f"  ratio          {ours / theirs:7.2f}x")
    finally:
        for proxy in proxies.values():
            proxy.stop()
        azurite.stop()


if __name__ == "__main__":
    main()
