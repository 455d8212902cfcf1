"""A 200 MB CSV scored with mini_batch_size="4MB" on two host instances: one file fans out into ~50 mini-batches
cut at row boundaries; every row is in the output once, in order. Each instance's peak resident size is printed, not
asserted: it includes the CSV's upload, which the drops function's blob trigger reads whole into an instance
(docs/limits.md), so it depends on which instance that was. Set FNINFER_TEST_CSV_MB to change the size (the
default is 200)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fninfer.core import Dataset, Environment, Experiment, Workspace
from fninfer.pipeline.core import Pipeline, PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep
from fninfer_host.azurite import Azurite
from tests.hosting import RunningHost, run_host

# A long trial (a large CSV through two host instances): `make test` and CI run it, the inner loop does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "fixtures" / "batch"
PAD = "abcdefghij" * 6
MEGABYTES = int(os.environ.get("FNINFER_TEST_CSV_MB", "200"))


def row(i: int) -> str:
    return f"{i},{i % 1000},{PAD}"


def write_csv(path: Path, size: int) -> int:
    """Rows until the file holds `size` bytes; returns how many."""
    count = 0
    with path.open("w") as handle:
        handle.write("id,group,pad\n")
        written = 0
        while written < size:
            lines = "".join(row(i) + "\n" for i in range(count, count + 10_000))
            handle.write(lines)
            written += len(lines)
            count += 10_000
    return count


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.fixture
def two_instances(lone_azurite: Azurite, tmp_path: Path) -> Iterator[RunningHost]:
    env = {"FNINFER_MODEL_CACHE": str(tmp_path / "models"), "FNINFER_SNAPSHOT_CACHE": str(tmp_path / "snapshots")}
    with run_host(ROOT, tmp_path / "host", storage=lone_azurite.connection_string, instances=2, env=env) as host:
        yield host


@pytest.mark.timeout(900)
def test_a_large_csv_fans_out_and_keeps_every_row_once_in_order(two_instances: RunningHost, tmp_path: Path) -> None:
    ws = Workspace.from_config(two_instances.config_path)
    source = tmp_path / "big"
    source.mkdir()
    rows = write_csv(source / "big.csv", MEGABYTES * 1024 * 1024)
    datastore = ws.get_default_datastore()
    datastore.upload(str(source), target_path=f"big-{tmp_path.name}", overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, f"big-{tmp_path.name}/big.csv"))
    config = ParallelRunConfig(
        source_directory=str(SCRIPTS),
        entry_script="large_rows.py",
        mini_batch_size="4MB",
        error_threshold=0,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        node_count=2,
        process_count_per_node=1,
    )
    step = ParallelRunStep(
        name="large-csv",
        parallel_run_config=config,
        inputs=[dataset.as_named_input("rows")],
        output=PipelineData("inferences", datastore=datastore),
        allow_reuse=False,
    )
    started = time.monotonic()
    run = Experiment(ws, "large-csv").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=800) == "Finished"
    elapsed = time.monotonic() - started
    details = run.get_details()["properties"]
    assert details["total_mini_batches"] == -(-(source / "big.csv").stat().st_size // (4 * 1024 * 1024))

    output = next(run.get_children()).get_output_data("inferences")
    container = ws.storage.container(layout_container(output))
    blob = container.get_blob_client(output.path_on_datastore + "parallel_run_step.txt")
    expected, found = hashlib.sha256(), hashlib.sha256()
    for i in range(rows):
        expected.update(f"{i} {i % 1000} {PAD}\n".encode())
    for chunk in blob.download_blob(max_concurrency=2).chunks():  # streamed: the test holds no 200 MB copy
        found.update(chunk)
    assert found.hexdigest() == expected.hexdigest()  # every row once, in input order

    instances = json.loads((two_instances.workdir / ".fninfer" / "instances.json").read_text())["instances"]
    peaks = [peak_rss_mb(int(entry["pid"])) for entry in instances]
    print(
        f"\n{MEGABYTES} MB CSV, {rows} rows, {details['total_mini_batches']} mini-batches of 4 MB on 2 instances: "
        f"{elapsed:.0f} s; peak resident memory per instance: {', '.join(f'{p:.0f} MB' for p in peaks)}"
    )


def layout_container(output: object) -> str:
    return str(output._container)  # type: ignore[attr-defined]
