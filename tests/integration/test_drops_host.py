"""Files dropped into a watched folder start work in seconds, on a real host: 50 CSV files uploaded to the folder of a
data schedule (polling every hour, so the poll cannot be what starts it) start exactly one run, which scores all 50.
The host and its Azurite are this module's own, the host's blob listener scanning every second (locally it stands in
for the Event Grid source the function declares)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Dataset, Model, Workspace
from fninfer.pipeline.core import PipelineParameter, Schedule
from tests.hosting import RunningHost, eventually, run_host
from tests.integration.test_seed_batch import read_results, write_batch_files
from tests.integration.test_seed_publish import seed_pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drop_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("drops-host")
    env = {
        "FNINFER_BLOB_SCAN_INTERVAL": "1",
        "FNINFER_MODEL_CACHE": str(workdir / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(workdir / "snapshots"),
    }
    with run_host(ROOT, workdir, env=env) as host:  # no storage given: the host starts an Azurite of its own
        yield host


def test_fifty_dropped_files_start_one_run_within_seconds_that_scores_them_all(
    drop_host: RunningHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.from_config(drop_host.config_path)
    monkeypatch.chdir(tmp_path)
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), "model.pkl")
    Model.register(workspace=ws, model_name="classification_model", model_path="model.pkl")
    default_ds = ws.get_default_datastore()
    write_batch_files(tmp_path / "sample", count=3)
    default_ds.upload(src_dir="sample", target_path="sample", overwrite=True, show_progress=False)
    Dataset.File.from_files(path=(default_ds, "sample/*.csv")).register(workspace=ws, name="batch-data")
    shutil.copytree(ROOT / "examples" / "batch_scripts", "batch_scripts")
    input_data = PipelineParameter(name="input_data", default_value=ws.datasets["batch-data"])
    published = seed_pipeline(ws, dataset=input_data).publish(name="Score dropped files")
    schedule = Schedule.create(
        ws,
        name="On dropped files",
        pipeline_id=published.id,
        experiment_name="Batch_Prediction",
        datastore=default_ds,
        path_on_datastore="incoming",
        polling_interval=60,
        data_path_parameter_name="input_data",
    )

    write_batch_files(tmp_path / "drop", count=50)
    default_ds.upload(src_dir="drop", target_path="incoming", overwrite=True, show_progress=False)
    dropped = datetime.now(UTC)

    run = eventually(schedule.get_last_pipeline_run, timeout=60)  # the poll would take an hour
    latency = (datetime.fromisoformat(run._record["created_time"]) - dropped).total_seconds()
    print(f"\ndrop of 50 files -> run started: {latency:.1f} s after the last upload")
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == "Finished"
    assert run.get_details()["properties"]["total_items"] == 50
    next(run.get_children()).get_output_data("inferences").download(local_path="results")
    assert sorted(read_results("results")["File"]) == sorted(f"{i}.csv" for i in range(1, 51))
    assert [r.id for r in schedule.get_pipeline_runs()] == [run.id]  # the burst was one run
