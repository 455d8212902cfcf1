"""Batch scoring speed: the ParallelRunStep pipeline on the local host vs plain loops, side by side in one run.

    .venv/bin/python benchmarks/batch.py [--files 600] [--mini-batch-size 10] [--processes 2] [--instances 2]
                                         [--latency-ms 20] [--repeat 1]
    .venv/bin/python benchmarks/batch.py --scale 1,4 [--latency-ms 20] ...   scale-out: the same files on 1 and on
                                                                               4 instances, one host after the other
    .venv/bin/python benchmarks/batch.py --scale 1,4 --run-wait-ms 100 ...   the same, run() also waiting 100 ms
                                                      per mini-batch off the CPU (a GPU, a remote model): what more
                                                      instances give when the work is not this machine's two cores

`--files` one-row CSV files like the seeds' are scored with the seeds' batch scoring script:
  - the pipeline on `fninfer start` with `--instances` host instances (node_count = instances,
    process_count_per_node = --processes);
  - a sequential loop that downloads each file from the same storage and calls the same run([file]);
  - the same loop over local files: the compute floor.
With `--latency-ms N` every storage request of the host instances, the SDK and the loop goes through a proxy that
delays each direction by N/2 ms (benchmarks/latency_proxy.py): Azure Storage's latency in front of Azurite. The proxy
also counts the requests of each run by kind, so the benchmark prints the storage requests per mini-batch besides
the input downloads.

Printed: files/s for each, the ratio to the loop from storage, the share of the machine's cores busy while each
run was waited for (every process: the host instances, Azurite, the proxy, and whatever else runs on the machine),
and the fixed latency of a one-file run (submit -> its first run() call, submit -> Finished). Pipeline times are
what the user waits: from the SDK's submit call to wait_for_completion's return; beside them, the run's own
record, from creation to Finished (the output file written).
The first run() call is stamped by the entry script (a wrapper of the seeds' script). With `--scale`, the
run on each number of instances (node_count the same), as the user waits, the ratio to the first, and how many
mini-batches each instance ran (from the host's log).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from latency_proxy import LatencyProxy, endpoint_port, proxied_connection_string  # noqa: E402
from train_model import train, write_batch_files  # noqa: E402

from fninfer.core import Dataset, Datastore, Environment, Experiment, Model, Workspace  # noqa: E402
from fninfer.pipeline.core import Pipeline, PipelineData  # noqa: E402
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep  # noqa: E402
from fninfer_host.azurite import start_azurite  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402
from shared.core.settings import MODEL_CACHE_DIR, STORAGE_CONNECTION  # noqa: E402
from shared.core.storage import Storage  # noqa: E402

SCRIPTS = ROOT / "examples" / "batch_scripts"
#: The benchmark's own datastore (a container of the app's account): the default datastore's blob trigger (data
#: schedules) would otherwise spend the measured minutes on receipts for the freshly uploaded input files.
DATASTORE, CONTAINER = "benchdata", "bench-data"
#: The seeds' script, with run() stamping the time of its first call in a run (FIRST_RUN_MARKER).
TIMED_ENTRY = """import os
import time

import batch_scoring_script as seeds


def init():
    seeds.init()


def run(mini_batch):
    marker = os.environ.get("FIRST_RUN_MARKER")
    if marker and not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write(repr(time.time()))
    time.sleep(float(os.environ.get("RUN_WAIT_MS", "0")) / 1000)
    return seeds.run(mini_batch)
"""


@dataclass
class PipelineRunTimes:
    waited: float  # the SDK's submit call -> wait_for_completion returned
    seconds: float  # created -> Finished, from the run record
    first_run: float  # submit -> the first run() call
    batches: int
    requests: Counter[str]  # storage requests between submit and Finished, by kind (with a proxy)
    cpu_busy: float  # the machine's cores busy while the user waited, as a share of all of them (every process)


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot (Linux /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def seeds_script(connection_string: str, model_cache: Path) -> ModuleType:
    """The seeds' scoring script, init()ed as in the app: Model.get_model_path reads the same storage."""
    os.environ[STORAGE_CONNECTION] = connection_string
    os.environ[MODEL_CACHE_DIR] = str(model_cache)
    spec = importlib.util.spec_from_file_location("baseline_batch_scoring_script", SCRIPTS / "batch_scoring_script.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def timed_source(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPTS / "batch_scoring_script.py", folder / "batch_scoring_script.py")
    (folder / "timed_scoring_script.py").write_text(TIMED_ENTRY)
    return folder


def pipeline_run(
    ws: Workspace,
    source: Path,
    dataset_path: str,
    instances: int,
    mini_batch_size: int,
    processes: int,
    markers: Path,
    proxies: list[LatencyProxy],
    run_wait_ms: float = 0.0,
) -> PipelineRunTimes:
    datastore = Datastore.get(ws, DATASTORE)
    dataset = Dataset.File.from_files(path=(datastore, dataset_path))
    marker = markers / f"{uuid.uuid4().hex}.first-run"
    config = ParallelRunConfig(
        source_directory=str(source),
        entry_script="timed_scoring_script.py",
        mini_batch_size=str(mini_batch_size),
        error_threshold=10,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="local-host",
        node_count=instances,
        process_count_per_node=processes,
        environment_variables={"FIRST_RUN_MARKER": str(marker), "RUN_WAIT_MS": str(run_wait_ms)},
    )
    step = ParallelRunStep(
        name="batch-score",
        parallel_run_config=config,
        inputs=[dataset.as_named_input("batch_data")],
        output=PipelineData("inferences", datastore=datastore),
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[step])
    before = sum((proxy.kinds for proxy in proxies), Counter())
    busy_before, total_before = cpu_ticks()
    submitted = time.time()
    run = Experiment(ws, "batch-benchmark").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished", run.get_details()
    waited = time.time() - submitted
    busy_after, total_after = cpu_ticks()
    cpu_busy = (busy_after - busy_before) / max(1, total_after - total_before)
    requests = sum((proxy.kinds for proxy in proxies), Counter()) - before
    record = ws.client.request("GET", f"pipelines/runs/{run.id}")
    seconds = (
        datetime.fromisoformat(record["end_time"]) - datetime.fromisoformat(record["created_time"])
    ).total_seconds()
    first_run = float(marker.read_text()) - submitted
    step_run = run.find_step_run("batch-score")[0]  # the ParallelRunStep's run holds the plan
    batches = int(ws.client.request("GET", f"pipelines/runs/{step_run.id}")["plan"]["total_batches"])
    return PipelineRunTimes(waited, seconds, first_run, batches, requests, cpu_busy)


def loop_from_storage(storage: Storage, names: list[str], script: ModuleType, scratch: Path) -> float:
    container = storage.container(CONTAINER)
    started = time.perf_counter()
    for name in names:
        local = scratch / name.rsplit("/", 1)[-1]
        with local.open("wb") as handle:
            container.download_blob(name).readinto(handle)
        script.run([str(local)])
    return time.perf_counter() - started


def loop_local(paths: list[Path], script: ModuleType) -> float:
    started = time.perf_counter()
    for path in paths:
        script.run([str(path)])
    return time.perf_counter() - started


def upload(storage: Storage, folder: Path, target: str) -> None:
    container = storage.container(CONTAINER)

    def put(path: Path) -> None:
        container.upload_blob(f"{target}/{path.name}", path.read_bytes(), overwrite=True)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, sorted(folder.iterdir())))


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def instance_counts(logs: str) -> list[int]:
    """How many mini-batch invocations each instance ran, from the host's console (lines prefixed [i<n>])."""
    counts: Counter[int] = Counter()
    for line in logs.splitlines():
        if "Executing 'Functions.process_minibatch'" in line or "Executing 'Functions.plan_run'" in line:
            counts[int(line[2 : line.index("]")]) if line.startswith("[i") else 0] += 1
    return [counts[index] for index in range(max(counts, default=-1) + 1)]


@dataclass
class HostTimes:
    instances: int
    one_file: list[PipelineRunTimes]
    runs: list[PipelineRunTimes]
    invocations: list[int]  # per instance: planning and mini-batch invocations


def on_host(
    connection: str, work: Path, instances: int, args: argparse.Namespace, proxies: list[LatencyProxy], first: bool
) -> HostTimes:
    """Start a host of `instances` instances and time the one-file and the whole run on it (after a warm-up)."""
    model_path, source, markers = work / "model.pkl", work / "source", work / "markers"
    env = {"FNINFER_MODEL_CACHE": str(work / f"models-{instances}")}
    with run_host(ROOT, work / f"host-{instances}", storage=connection, instances=instances, env=env) as host:
        ws = Workspace.from_config(host.config_path)
        if first:
            Model.register(workspace=ws, model_name="classification_model", model_path=str(model_path))
            Datastore.register_azure_blob_container(ws, DATASTORE, CONTAINER)

        def measure(pattern: str) -> PipelineRunTimes:
            return pipeline_run(
                ws, source, pattern, instances, args.mini_batch_size, args.processes, markers, proxies, args.run_wait_ms
            )

        # Warm: imports, caches, the entry script's init(); with --scale on every instance (the whole input spreads
        # over them), so that more instances are not charged the first use of each.
        measure("batch-data/*.csv" if args.scale else "batch-data/1?.csv")
        times = HostTimes(instances, [], [], [])
        logged = len(host.logs())
        for _ in range(args.repeat):
            times.one_file.append(measure("batch-data/1.csv"))
            times.runs.append(measure("batch-data/*.csv"))
        times.invocations = instance_counts(host.logs()[logged:])
        if args.host_log:
            Path(f"{args.host_log}-{instances}.log").write_text(host.logs())
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--mini-batch-size", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2, help="process_count_per_node (lanes per instance)")
    parser.add_argument("--instances", type=int, default=2, help="host instances (and node_count)")
    parser.add_argument("--scale", default="", help="instance counts to compare, e.g. 1,4 (instead of the loops)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per storage request (a proxy)")
    parser.add_argument(
        "--run-wait-ms",
        type=float,
        default=0.0,
        help="run() also waits this long per mini-batch, off this machine's CPU (a GPU, a remote model)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="measure the pipeline and the loop this many times")
    parser.add_argument("--host-log", default="", help="write each host's console to <this>-<instances>.log")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-batch-bench-"))
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
    hosts: list[HostTimes] = []
    loops: list[float] = []
    floors: list[float] = []
    try:
        train(work / "model.pkl")
        paths = write_batch_files(work / "batch-data", count=args.files)
        direct = Storage.from_connection_string(azurite.connection_string)  # setup is not measured: no proxy
        upload(direct, work / "batch-data", "batch-data")
        timed_source(work / "source")
        (work / "markers").mkdir()
        counts = [int(n) for n in args.scale.split(",")] if args.scale else [args.instances]
        for number, instances in enumerate(counts):
            hosts.append(on_host(connection, work, instances, args, proxies, first=number == 0))
        if not args.scale:
            script = seeds_script(connection, work / "models-loop")
            storage = Storage.from_connection_string(connection)
            names = [f"batch-data/{path.name}" for path in paths]
            scratch = work / "scratch"
            scratch.mkdir()
            for _ in range(args.repeat):
                loops.append(loop_from_storage(storage, names, script, scratch))
                floors.append(loop_local(paths, script))
    finally:
        for proxy in proxies:
            proxy.stop()
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)

    batches = hosts[0].runs[0].batches
    latency = f"{args.latency_ms:g} ms injected per storage request" if args.latency_ms else "plain Azurite"
    if args.run_wait_ms:
        latency += f", run() waiting {args.run_wait_ms:g} ms per mini-batch"
    shape = f"{args.files} files, mini_batch_size={args.mini_batch_size} ({batches} mini-batches)"
    machine = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    if args.scale:
        print(f"\nscale-out: {shape}, process_count_per_node={args.processes}, {latency}; {machine}\n")
        base = statistics.median(t.waited for t in hosts[0].runs)
        print(
            f"{'':30} {'waited s':>9} {'record s':>9} {'files/s':>8} {'vs first':>9} {'CPU busy':>9}   "
            "invocations per instance"
        )
        for host in hosts:
            waited = statistics.median(t.waited for t in host.runs)
            record = statistics.median(t.seconds for t in host.runs)
            busy = statistics.median(t.cpu_busy for t in host.runs)
            label = f"{host.instances} instance(s), node_count={host.instances}"
            print(
                f"{label:30} {waited:9.2f} {record:9.2f} {args.files / waited:8.0f} {base / waited:8.2f}x "
                f"{busy:8.0%}   "
                f"{host.invocations}"
            )
        return
    (host,) = hosts
    print(
        f"\n{shape}, {args.instances} instance(s), node_count={args.instances}, "
        f"process_count_per_node={args.processes}, {latency}; {machine}\n"
    )
    loop = statistics.median(loops)
    rows = {
        f"pipeline, {args.instances} instance(s), as waited": [t.waited for t in host.runs],
        f"pipeline, {args.instances} instance(s), its record": [t.seconds for t in host.runs],
        "sequential loop from storage": loops,
        "sequential loop, local files": floors,
    }
    print(f"{'':44} {'seconds':>8} {'files/s':>9} {'vs loop from storage':>21}")
    for label, values in rows.items():
        seconds = statistics.median(values)
        print(f"{label:44} {seconds:8.2f} {args.files / seconds:9.0f} {loop / seconds:20.2f}x")
    ratios = [loop_seconds / t.waited for loop_seconds, t in zip(loops, host.runs, strict=True)]
    print(f"\npipeline (as waited) vs loop, each repetition side by side: {spread(ratios)}x")
    print(f"one-file run, submit -> first run() call:          {spread([t.first_run for t in host.one_file])} s")
    print(f"one-file run, submit -> wait_for_completion returns: {spread([t.waited for t in host.one_file])} s")
    print(f"one-file run, its record (created -> Finished):     {spread([t.seconds for t in host.one_file])} s")
    print(f"{args.files}-file run, submit -> first run() call: {spread([t.first_run for t in host.runs])} s")
    print(f"invocations (planning, mini-batches) per instance: {host.invocations}")
    print(
        f"the machine's cores busy while the {args.files}-file run was waited for: "
        f"{spread([t.cpu_busy * 100 for t in host.runs])} %"
    )
    if proxies:
        requests = host.runs[-1].requests
        downloads = requests.get(f"GET {CONTAINER}", 0)
        print(
            f"\nstorage requests during the {args.files}-file run (host instances and SDK, submit -> Finished): "
            f"{sum(requests.values())}; besides the {downloads} GETs of the datastore (input downloads, the output "
            f"check): {(sum(requests.values()) - downloads) / batches:.2f} per mini-batch, all included"
        )
        for kind, count in requests.most_common():
            print(f"  {count:6d}  {kind}")


if __name__ == "__main__":
    main()
