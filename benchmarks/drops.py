"""How soon dropped files start work: a data schedule's run after a drop, by blob event vs by the poll.

    .venv/bin/python benchmarks/drops.py [--files 50] [--drops 3] [--scan-interval 1]

On `fninfer start` with an Azurite of its own, a data schedule watches `incoming/` on the default datastore (the
blob-triggered function starts its run; the host's blob listener stands in for Event Grid, scanning every
--scan-interval seconds), and another watches the same files copied to a second datastore, which only the poll sees
(polling_interval = 1 minute, the shortest). Each drop uploads --files one-row CSV files to both; printed: seconds
from the last upload to each run's creation, and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from train_model import train, write_batch_files  # noqa: E402

from fninfer.core import Dataset, Datastore, Environment, Model, Workspace  # noqa: E402
from fninfer.data.dataset_consumption_config import DatasetConsumptionConfig  # noqa: E402
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineParameter, PipelineRun, Schedule  # noqa: E402
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402
from shared.core import layout  # noqa: E402


def wait_for_new_run(schedule: Schedule, seen: set[str], timeout: float = 300) -> PipelineRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in schedule.get_pipeline_runs():
            if run.id not in seen:
                return run
        time.sleep(0.2)
    raise TimeoutError(f"no run of {schedule.name!r} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--drops", type=int, default=3)
    parser.add_argument("--scan-interval", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-drops-"))
    env = {"FNINFER_BLOB_SCAN_INTERVAL": str(args.scan_interval)}
    with run_host(ROOT, work / "host", env=env) as host:
        ws = Workspace.from_config(host.config_path)
        train(work / "model.pkl")
        Model.register(ws, model_path=str(work / "model.pkl"), model_name="classification_model")
        default_ds = ws.get_default_datastore()
        write_batch_files(work / "sample", count=3)
        default_ds.upload(src_dir=str(work / "sample"), target_path="sample", show_progress=False)
        sample = Dataset.File.from_files(path=(default_ds, "sample/*.csv"))
        other_container = "drops-benchmark"
        ws.storage.container(other_container)
        ws.storage.put_json(
            layout.REGISTRY_CONTAINER,
            layout.datastore_record("polled"),
            {"name": "polled", "container_name": other_container},
        )
        polled_ds = Datastore(ws, "polled")
        shutil.copytree(ROOT / "examples" / "batch_scripts", work / "batch_scripts")
        config = ParallelRunConfig(
            source_directory=str(work / "batch_scripts"),
            entry_script="batch_scoring_script.py",
            mini_batch_size="10",
            error_threshold=10,
            output_action="append_row",
            environment=Environment("batch_environment"),
            compute_target="local",
            node_count=2,
        )
        step = ParallelRunStep(
            name="batch-score",
            parallel_run_config=config,
            inputs=[DatasetConsumptionConfig("batch_data", PipelineParameter(name="input_data", default_value=sample))],
            output=PipelineData(name="inferences", datastore=default_ds),
            allow_reuse=False,
        )
        published = Pipeline(workspace=ws, steps=[step]).publish(name="Score dropped files")
        schedules = {
            "blob event": Schedule.create(
                ws, name="drop", pipeline_id=published.id, experiment_name="drops", datastore=default_ds,
                path_on_datastore="incoming", polling_interval=60, data_path_parameter_name="input_data",
            ),
            "poll (1 min)": Schedule.create(
                ws, name="poll", pipeline_id=published.id, experiment_name="drops", datastore=polled_ds,
                path_on_datastore="incoming", polling_interval=1, data_path_parameter_name="input_data",
            ),
        }  # fmt: skip
        latencies: dict[str, list[float]] = {kind: [] for kind in schedules}
        seen: dict[str, set[str]] = {kind: set() for kind in schedules}
        for drop in range(args.drops):
            folder = work / f"drop-{drop}"
            write_batch_files(folder, count=args.files, seed=drop)
            for datastore in (default_ds, polled_ds):
                datastore.upload(src_dir=str(folder), target_path=f"incoming/{drop}", show_progress=False)
            dropped = datetime.now(UTC)
            for kind, schedule in schedules.items():
                run = wait_for_new_run(schedule, seen[kind])
                seen[kind].add(run.id)
                created = datetime.fromisoformat(run._record["created_time"])
                latencies[kind].append((created - dropped).total_seconds())
                run.wait_for_completion(show_output=False)
            print(f"drop {drop + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in latencies.items()), flush=True)
        event, poll = (statistics.median(values) for values in latencies.values())
        print(f"\n{args.files} files a drop, median from the last upload to the run's start:")
        print(f"  blob event (scan every {args.scan_interval:g} s locally): {event:.1f} s")
        print(f"  poll every minute: {poll:.1f} s   ({poll / max(event, 1e-6):.1f}x the event's)")


if __name__ == "__main__":
    main()
