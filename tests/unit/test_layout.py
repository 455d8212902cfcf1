"""The storage layout is pinned: a rename here is a deliberate, visible change."""

from __future__ import annotations

import pytest

from shared import layout
from shared.errors import InvalidInput


def test_registry_paths() -> None:
    assert layout.model_record("classification_model", 3) == "models/classification_model/0000000003.json"
    assert layout.version_from_record("models/m/0000000012.json") == 12
    assert layout.model_content_prefix("m", "abc123") == "m/abc123/"
    assert layout.model_upload_claim("m", "abc123") == "uploads/m/abc123.json"
    assert layout.dataset_record("batch-data", 1) == "datasets/batch-data/0000000001.json"
    assert layout.datastore_record("workspaceblobstore") == "datastores/workspaceblobstore.json"
    assert layout.environment_record("sklearn-env", 2) == "environments/sklearn-env/0000000002.json"
    assert layout.version_counter(layout.model_record("m", 3)) == "versioncounters/models/m.json"


def test_host_paths_match_the_real_host() -> None:
    assert layout.timer_status("h1", "tick") == "timers/h1/Host.Functions.tick/status"
    assert layout.timer_listener_lock("h1", "tick") == "locks/h1/Host.Functions.tick.Listener"
    assert layout.blob_receipt("h1", "f", '"0x1"', "c", "a/b.txt") == 'blobreceipts/h1/Host.Functions.f/"0x1"/c/a/b.txt'
    assert layout.blob_trigger_queue("h1") == "azure-webjobs-blobtrigger-h1"


def test_poison_queue_names() -> None:
    assert layout.poison_queue("work") == "work-poison"
    assert layout.poison_queue("work-poison") is None
    assert layout.poison_queue("q" * 57) is None


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", ".hidden", "x" * 256, "a..b", None, 3])
def test_names_with_path_characters_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        layout.validate_name("model", bad)


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "a\\b", "./a"])
def test_relative_paths_are_checked(bad: str) -> None:
    with pytest.raises(InvalidInput):
        layout.validate_relative_path(bad)


def test_pipeline_endpoint_and_run_history_paths() -> None:
    assert layout.pipeline_endpoint_record("e1") == "pipelineendpoints/e1.json"
    assert layout.pipeline_endpoint_name("scoring") == "pipelineendpointnames/scoring.json"
    assert layout.RUN_HISTORY_CONTAINER == "fninfer-runhistory"
    assert layout.run_metrics_part("r1", 0) == "r1/metrics/000000.jsonl"
    assert layout.run_file("r1", "outputs/model.pkl") == "r1/files/outputs/model.pkl"
