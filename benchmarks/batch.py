"""Batch scoring speed: the ParallelRunStep pipeline on the local host vs plain loops, in one run.

    .venv/bin/python benchmarks/batch.py [--files 2000] [--mini-batch-size 10] [--processes 8]

2,000 one-row CSV files like the seeds' are scored with the seeds' batch scoring script four ways:
  - the pipeline on `fninfer start` with 1 host instance, then with 2 (node_count = instances; process_count_per_node
    = --processes, 8 by default, because a lane spends most of its time waiting on storage);
  - a sequential loop that downloads each file from the same Azurite and calls the same run([file]);
  - the same loop over local files: the compute floor.
Printed: files/s for each, the ratios, and the time the framework adds per mini-batch on one instance: the pipeline
time less the compute floor, and less the loop from Azurite, over the number of mini-batches. Pipeline times are the
run's own record: from submission to Finished, the output file written.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from train_model import train, write_batch_files  # noqa: E402

from fninfer.core import Dataset, Environment, Experiment, Model, Workspace  # noqa: E402
from fninfer.host.azurite import start_azurite  # noqa: E402
from fninfer.pipeline.core import Pipeline, PipelineData  # noqa: E402
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep  # noqa: E402
from fninfer.testing import run_host  # noqa: E402
from shared import layout  # noqa: E402
from shared.settings import MODEL_CACHE_DIR, STORAGE_CONNECTION  # noqa: E402
from shared.storage import Storage  # noqa: E402

SCRIPTS = ROOT / "examples" / "batch_scripts"


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


def pipeline_seconds(
    ws: Workspace, dataset_path: str, instances: int, mini_batch_size: int, processes: int
) -> tuple[float, int]:
    """Seconds from submission to Finished (the run record's own times), and the number of mini-batches."""
    datastore = ws.get_default_datastore()
    dataset = Dataset.File.from_files(path=(datastore, dataset_path))
    config = ParallelRunConfig(
        source_directory=str(SCRIPTS),
        entry_script="batch_scoring_script.py",
        mini_batch_size=str(mini_batch_size),
        error_threshold=10,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="local-host",
        node_count=instances,
        process_count_per_node=processes,
    )
    step = ParallelRunStep(
        name="batch-score",
        parallel_run_config=config,
        inputs=[dataset.as_named_input("batch_data")],
        output=PipelineData("inferences", datastore=datastore),
        allow_reuse=False,
    )
    run = Experiment(ws, "batch-benchmark").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished", run.get_details()
    record = ws.client.request("GET", f"pipelines/runs/{run.id}")
    seconds = (
        datetime.fromisoformat(record["end_time"]) - datetime.fromisoformat(record["created_time"])
    ).total_seconds()
    return seconds, int(record["plan"]["total_batches"])


def loop_from_storage(storage: Storage, names: list[str], script: ModuleType, scratch: Path) -> float:
    container = storage.container(layout.DEFAULT_DATASTORE_CONTAINER)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--mini-batch-size", type=int, default=10)
    parser.add_argument("--processes", type=int, default=8, help="process_count_per_node (lanes per instance)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-batch-bench-"))
    azurite = start_azurite(ROOT)
    try:
        model_path = train(work / "model.pkl")
        paths = write_batch_files(work / "batch-data", count=args.files)
        results: dict[str, float] = {}
        batches = 0
        for instances in (1, 2):
            env = {"FNINFER_MODEL_CACHE": str(work / f"models-{instances}")}
            with run_host(
                ROOT, work / f"host-{instances}", storage=azurite.connection_string, instances=instances, env=env
            ) as host:
                ws = Workspace.from_config(host.config_path)
                if instances == 1:
                    Model.register(workspace=ws, model_name="classification_model", model_path=str(model_path))
                    ws.get_default_datastore().upload(
                        src_dir=str(work / "batch-data"), target_path="batch-data", overwrite=True, show_progress=False
                    )
                pipeline_seconds(
                    ws, "batch-data/1?.csv", instances, args.mini_batch_size, args.processes
                )  # warm: imports, caches
                seconds, batches = pipeline_seconds(
                    ws, "batch-data/*.csv", instances, args.mini_batch_size, args.processes
                )
                results[f"pipeline, {instances} instance{'s' if instances > 1 else ''}"] = seconds
        script = seeds_script(azurite.connection_string, work / "models-loop")
        storage = Storage.from_connection_string(azurite.connection_string)
        names = [f"batch-data/{path.name}" for path in paths]
        scratch = work / "scratch"
        scratch.mkdir()
        results["sequential loop from Azurite"] = loop_from_storage(storage, names, script, scratch)
        results["sequential loop, local files"] = loop_local(paths, script)
    finally:
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)

    floor = results["sequential loop, local files"]
    from_azurite = results["sequential loop from Azurite"]
    print(
        f"\n{args.files} files, mini_batch_size={args.mini_batch_size} ({batches} mini-batches), "
        f"process_count_per_node={args.processes}\n"
    )
    print(f"{'':34} {'seconds':>8} {'files/s':>9} {'vs loop from Azurite':>21}")
    for label, seconds in results.items():
        print(f"{label:34} {seconds:8.2f} {args.files / seconds:9.0f} {from_azurite / seconds:20.2f}x")
    one, per = results["pipeline, 1 instance"], 1000 / max(batches, 1)
    print(
        f"\nframework time per mini-batch, 1 instance: {(one - floor) * per:.1f} ms over the compute floor "
        f"(downloads, queueing, records, fan-in); {(one - from_azurite) * per:+.1f} ms over the loop from Azurite "
        "(the same downloads and run() calls, one after another)"
    )


if __name__ == "__main__":
    main()
