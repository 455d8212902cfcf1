"""The storage layout is pinned: a rename here is a deliberate, visible change."""

from __future__ import annotations

import pytest

from shared.core import layout, validators
from shared.core.errors import InvalidInput
from shared.core.storage import request_kind


def test_registry_paths() -> None:
    assert layout.model_record("classification_model", 3) == "models/classification_model/0000000003.json"
    assert layout.version_from_record("models/m/0000000012.json") == 12
    assert layout.model_content_prefix("m", "abc123") == "m/abc123/"
    assert layout.model_upload_claim("m", "abc123") == "uploads/m/abc123.json"
    assert layout.dataset_record("batch-data", 1) == "datasets/batch-data/0000000001.json"
    assert layout.datastore_record("workspaceblobstore") == "datastores/workspaceblobstore.json"
    assert layout.environment_record("sklearn-env", 2) == "environments/sklearn-env/0000000002.json"
    assert layout.version_counter(layout.model_record("m", 3)) == "versioncounters/models/m.json"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", ".hidden", "x" * 256, "a..b", None, 3])
def test_names_with_path_characters_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        validators.validate_name("model", bad)


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "a\\b", "./a"])
def test_relative_paths_are_checked(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validators.validate_relative_path(bad)


def test_pipeline_endpoint_and_run_history_paths() -> None:
    assert layout.pipeline_endpoint_record("e1") == "pipelineendpoints/e1.json"
    assert layout.pipeline_endpoint_name("scoring") == "pipelineendpointnames/scoring.json"
    assert layout.RUN_HISTORY_CONTAINER == "fninfer-runhistory"
    assert layout.run_metrics_part("r1", 0) == "r1/metrics/000000.jsonl"
    assert layout.run_file("r1", "outputs/model.pkl") == "r1/files/outputs/model.pkl"


def test_versioned_record_helpers() -> None:
    listing = ["models/b/0000000001.json", "models/a/0000000010.json", "models/a/0000000002.json", "models/a/x.tmp"]
    assert layout.latest_records(listing) == ["models/a/0000000010.json", "models/b/0000000001.json"]
    assert layout.versions_folder("datasets/d/0000000003.json") == "datasets/d"
    assert layout.model_versions_prefix("m") == "models/m/" and layout.MODELS_PREFIX == "models/"
    assert layout.dataset_versions_prefix("d") == "datasets/d/" and layout.DATASETS_PREFIX == "datasets/"


def test_service_paths() -> None:
    # The record's etag is what deployments and reloads race on; snapshots are content-addressed.
    assert (layout.REGISTRY_CONTAINER, layout.service_record("iris")) == ("fninfer-registry", "services/iris.json")
    assert layout.SNAPSHOTS_CONTAINER == "fninfer-snapshots" and layout.snapshot_prefix("ab12") == "ab12/"
    assert layout.LOGS_CONTAINER == "fninfer-logs"
    assert layout.service_log("iris", "i0-123") == "services/iris/i0-123.log"
    assert layout.service_logs_prefix("iris") == "services/iris/"
    assert layout.DEPLOYMENTS_QUEUE == "fninfer-deployments"


def test_pipeline_run_paths_that_carry_exactly_once() -> None:
    # A lane's results are created once (If-None-Match) at a name fixed by the lane and its first position; leases
    # by work item; a rename here would let a redelivered message or a second holder write a second copy.
    assert layout.pipeline_run_record("r1") == "pipelineruns/r1.json"
    assert layout.RUNS_CONTAINER == "fninfer-runs"
    assert layout.active_run_marker("r1") == "active/r1"
    assert layout.reuse_record("f00d") == "reuse/f00d.json"
    assert layout.plan_page("r1", "p1", 3) == "r1/plan/p1/000003.json"
    assert layout.work_lease("r1", "mb-7") == "r1/leases/mb-7.json" and layout.leases_prefix("r1") == "r1/leases/"
    assert layout.lane_record("r1", 3) == "r1/lanes/00003.json" and layout.lanes_prefix("r1") == "r1/lanes/"
    assert layout.lane_chunk("r1", 3, 40) == "r1/lanes/00003/0000000040.json"
    assert layout.lane_blob("r1", "r1/lanes/00003/0000000040.json") == (3, 40)
    assert layout.lane_blob("r1", "r1/lanes/00003.json") == (3, None)
    assert layout.script_step_publishing("s1") == "s1/publishing.json"
    assert layout.step_output_prefix("s1", "scores") == "azureml/s1/scores/"
    queues = (layout.PLANNING_QUEUE, layout.MINIBATCH_QUEUE, layout.FANIN_QUEUE)
    assert queues == ("fninfer-pipeline-plans", "fninfer-minibatches", "fninfer-fanin")


def test_schedule_and_published_pipeline_paths() -> None:
    # A schedule's state (what it fired, its watermark) is written with If-Match: one run per occurrence.
    assert layout.schedule_record("s1") == "schedules/s1.json"
    assert (layout.RUNS_CONTAINER, layout.schedule_state("s1")) == ("fninfer-runs", "schedules/s1.json")
    assert layout.published_pipeline_record("p1") == "publishedpipelines/p1.json"
    assert layout.datastore_folder_prefix("/in/daily/") == "in/daily/" and layout.datastore_folder_prefix("") == ""


def test_sdk_written_datastore_and_run_file_names() -> None:
    assert (
        layout.partitioned_upload_folder("out/", "u1") == "out/u1"
        and layout.partitioned_upload_folder("", "u1") == "u1"
    )
    assert layout.partition_file("out/u1", ["2026", "eu"]) == "out/u1/2026/eu/part-00000.parquet"
    with pytest.raises(InvalidInput, match="partition value"):
        layout.partition_file("out/u1", ["../x"])
    assert layout.run_image_name("roc", "abcd1234", ".png") == "images/roc-abcd1234.png"


def test_display_names_are_free_text_and_names_derived_from_them_are_safe() -> None:
    assert validators.validate_display_name("step", "Evaluate Model ") == "Evaluate Model "
    with pytest.raises(InvalidInput):
        validators.validate_display_name("step", "")
    for shown, derived in [("Train Model", "Train_Model"), (" Évaluer/../x ", "n_valuer___x"), ("..", "n_")]:
        assert layout.derived_name(shown) == derived
        assert validators.validate_name("output", layout.derived_name(shown))


def test_service_metrics_paths() -> None:
    assert layout.service_metrics_now("i0-123") == "metrics/services/now/i0-123.json"
    assert layout.service_metrics_minutes("2026120508", "i0-123") == "metrics/services/minutes/2026120508/i0-123.jsonl"
    with pytest.raises(InvalidInput):
        layout.service_metrics_hour_prefix("2026-12-05")


def test_run_index_paths_sort_the_newest_first() -> None:
    older, newer = layout.run_index_entry(1_000, "r1"), layout.run_index_entry(2_000, "r2")
    assert older == "runindex/99999999999998999-r1" and newer < older
    assert layout.run_from_index_entry(newer) == "r2"


def test_a_request_kind_names_what_a_run_record_is_never_which_run() -> None:
    """Fault trials arm a kind and its occurrence in one run and fire it in another (tests/faults.py): a kind with a
    run's id in it would never fire there."""
    paths = {
        layout.lane_record("r1", 0): "lanes",
        layout.work_lease("r1", "fanin"): "leases",
        layout.plan_page("r1", "p1", 0): "plan",
        layout.active_run_marker("r1"): "active",
        layout.run_index_entry(1_000, "r1"): "runindex",
        layout.reuse_record("f1"): "reuse",
    }
    for path, kind in paths.items():
        url = f"/devstoreaccount1/{layout.RUNS_CONTAINER}/{path}"
        assert request_kind("PUT", url) == f"PUT fninfer-runs/{kind}", path
        assert request_kind("PUT", url.replace("r1", "r2").replace("f1", "f2")) == f"PUT fninfer-runs/{kind}"
    assert request_kind("GET", f"/{layout.RUNS_CONTAINER}?restype=container&comp=list") == "GET fninfer-runs (list)"
