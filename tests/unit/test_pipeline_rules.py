"""Pure rules of batch pipelines: the status table, Azure ML's thresholds, what append_row writes, the definition
checks and the reuse fingerprint."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest

from shared.core import layout
from shared.core.errors import InvalidInput
from shared.core.hashing import combined_sha256
from shared.pipelines.batch.minibatch import rows_of, threshold_passed
from shared.pipelines.engine import definition, parameters
from shared.runs import reuse
from shared.runs.lanes import Counts, positions
from shared.runs.run_records import ALLOWED, TERMINAL, RunStatus

SHA = "a" * 64
SNAPSHOT = {"id": combined_sha256([("score.py", SHA)]), "files": [{"path": "score.py", "size": 10, "sha256": SHA}]}


def step(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "batch-score",
        "snapshot": SNAPSHOT,
        "entry_script": "score.py",
        "arguments": ["--x", 1],
        "config": {"mini_batch_size": 5, "error_threshold": 10, "node_count": 4},
        "input": {
            "name": "batch_data",
            "dataset": {"name": "d", "version": 1},
            "paths": [{"datastore": "workspaceblobstore", "path": "batch-data/*.csv"}],
        },
        "output": {"name": "inferences", "datastore": None},
        "models": ["classification_model:1"],
    }
    base.update(changes)
    return base


def test_statuses_are_azure_ml_spellings_and_terminal_ones_lead_nowhere() -> None:
    assert [s.value for s in RunStatus] == ["NotStarted", "Running", "Finished", "Failed", "Canceled"]
    assert set(ALLOWED) == set(RunStatus) - TERMINAL
    assert all(RunStatus.NOT_STARTED not in targets for targets in ALLOWED.values())


@pytest.mark.parametrize(
    ("config", "counts", "passed"),
    [
        ({"error_threshold": 2}, Counts(3, 0, 2), None),
        ({"error_threshold": 2}, Counts(3, 0, 3), "error_threshold=2"),
        ({"error_threshold": -1}, Counts(3, 3, 300), None),
        ({"allowed_failed_count": 1}, Counts(3, 1, 5), None),
        ({"allowed_failed_count": 1}, Counts(3, 2, 5), "allowed_failed_count=1"),
        ({"allowed_failed_count": -1}, Counts(3, 3, 5), None),
        ({"allowed_failed_percent": 10}, Counts(10, 1, 5), None),  # 1 of 10 mini-batches: 10%
        ({"allowed_failed_percent": 10}, Counts(10, 2, 5), "allowed_failed_percent=10"),
        ({"allowed_failed_percent": -1}, Counts(10, 10, 5), None),
    ],
)
def test_thresholds(config: dict[str, Any], counts: Counts, passed: str | None) -> None:
    merged = {"error_threshold": -1, "allowed_failed_count": None, "allowed_failed_percent": None, **config}
    reason = threshold_passed(merged, counts, total_batches=10)
    assert (reason is None) == (passed is None)
    assert passed is None or passed in str(reason)


def test_append_row_writes_one_line_per_result() -> None:
    assert rows_of(["1.csv: 0", "2.csv: 2"]) == ["1.csv: 0", "2.csv: 2"]
    assert rows_of(None) == []
    assert rows_of(["two\nlines"]) == ["two lines"]  # a row never splits in the output file
    assert rows_of(pd.DataFrame({"file": ["a.csv", "b.csv"], "score": [1, 2]})) == ["a.csv 1", "b.csv 2"]


def test_definition_fills_azure_ml_defaults() -> None:
    checked = definition.validate({"steps": [step()]})["steps"][0]
    assert checked["config"]["run_max_try"] == 3 and checked["config"]["run_invocation_timeout"] == 60
    assert checked["config"]["output_action"] == "append_row" and checked["config"]["process_count_per_node"] is None
    assert checked["output"]["datastore"] == layout.DEFAULT_DATASTORE_NAME
    assert checked["arguments"] == ["--x", "1"] and checked["allow_reuse"] is True
    assert definition.output_file_name(checked["config"]) == "parallel_run_step.txt"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"config": {"mini_batch_size": 0}}, "mini_batch_size"),
        ({"config": {"run_max_try": True}}, "run_max_try"),
        ({"config": {"allowed_failed_percent": 150}}, "allowed_failed_percent"),
        ({"config": {"append_row_file_name": "../x.txt"}}, "not a valid relative path"),
        ({"config": {"append_row_file_name": "a/x.txt"}}, "append_row_file_name"),
        ({"entry_script": "other.py"}, "other.py"),
        ({"models": ["no-version"]}, "models"),
        ({"input": None}, "one input"),
        ({"type": "CommandStep"}, "CommandStep"),
        ({"config": {"mini_batch_size": "1TB"}}, "mini_batch_size"),
        ({"config": {"mini_batch_size": 5, "partition_keys": ["user"]}}, "mutually exclusive"),
        ({"config": {"mini_batch_size": None, "partition_keys": ["user"]}}, "partitioned input dataset"),
        (
            {"input": {**step()["input"], "kind": "tabular", "tabular": {"format": "delimited"}, "mode": "mount"}},
            "direct",
        ),
        (
            {
                "input": {
                    **step()["input"],
                    "kind": "tabular",
                    "tabular": {"format": "delimited", "transforms": [{"op": "take", "count": 3}]},
                }
            },
            "take",
        ),
        (
            {"input": {**step()["input"], "paths": [{"datastore": "workspaceblobstore", "path": "a\x00b"}]}},
            "datastore path",
        ),
    ],
)
def test_definition_refuses_naming_the_problem(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        definition.validate({"steps": [step(**changes)]})


def test_fingerprint_follows_what_the_step_computes_from() -> None:
    base = definition.validate_step(step())
    same = copy.deepcopy(base)
    same["config"]["description"] = "another description"
    assert reuse.fingerprint(same) == reuse.fingerprint(base)
    for change in (
        lambda s: s["config"].update(mini_batch_size=6),
        lambda s: s.update(arguments=["--x", "2"]),
        lambda s: s["input"].update(dataset={"name": "d", "version": 2}),
        lambda s: s.update(models=["classification_model:2"]),
        lambda s: s["snapshot"].update(id="b" * 64),
    ):
        other = copy.deepcopy(base)
        change(other)
        assert reuse.fingerprint(other) != reuse.fingerprint(base)


def test_layout_of_batch_runs_is_pinned() -> None:
    assert layout.pipeline_run_record("r1") == "pipelineruns/r1.json"
    assert layout.plan_page("r1", "p1", 3) == "r1/plan/p1/000003.json"
    assert layout.work_lease("r1", "mb-00000007") == "r1/leases/mb-00000007.json"
    assert layout.lane_record("r1", 3) == "r1/lanes/00003.json"
    assert layout.lane_chunk("r1", 3, 120) == "r1/lanes/00003/0000000120.json"
    assert layout.lane_blob("r1", layout.lane_chunk("r1", 3, 120)) == (3, 120)
    assert layout.lane_blob("r1", layout.lane_record("r1", 3)) == (3, None)
    assert layout.step_output_prefix("s1", "inferences") == "azureml/s1/inferences/"
    assert positions(total=33, cap=16, lane=0) == 3 and positions(total=33, cap=16, lane=1) == 2


def test_tabular_defaults_sizes_and_partitions() -> None:
    tabular_input = {**step()["input"], "kind": "tabular", "tabular": {"format": "delimited"}}
    checked = definition.validate_step(step(input=tabular_input, config={"node_count": 1}))
    assert checked["config"]["mini_batch_size"] == 1024 * 1024  # Azure ML's default for a TabularDataset: 1 MB
    assert definition.validate_step(step(config={"node_count": 1}))["config"]["mini_batch_size"] == 10  # files
    sized = definition.validate_step(step(input=tabular_input, config={"mini_batch_size": "4MB"}))
    assert sized["config"]["mini_batch_size"] == 4 * 1024 * 1024
    partitioned_input = {**step()["input"], "partition_format": "/{user}/{genres}/*.wav"}
    keyed = definition.validate_step(step(input=partitioned_input, config={"partition_keys": ["user"]}))
    assert keyed["config"]["partition_keys"] == ["user"] and keyed["config"]["mini_batch_size"] is None
    with pytest.raises(InvalidInput, match=r"\['season'\] are not keys"):
        definition.validate_step(step(input=partitioned_input, config={"partition_keys": ["season"]}))


def test_config_parameters_take_sizes_and_key_lists() -> None:
    template = {
        "parameters": {
            "size": {"kind": "value", "default": "1MB"},
            "keys": {"kind": "value", "default": '["user"]'},
        },
        "steps": [step(config={"mini_batch_size": {"$parameter": "size"}, "partition_keys": {"$parameter": "keys"}})],
    }
    bound, _ = parameters.bind(None, template, {"size": "2KB"})  # type: ignore[arg-type]
    assert bound["steps"][0]["config"]["mini_batch_size"] == 2048
    assert bound["steps"][0]["config"]["partition_keys"] == ["user"]
    with pytest.raises(InvalidInput, match="needs a JSON list of names"):
        parameters.bind(None, template, {"keys": "user"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="needs an int"):
        parameters.bind(None, template, {"size": "big"})  # type: ignore[arg-type]


def test_a_mini_batchs_files_land_by_name_and_same_names_stay_apart() -> None:
    from shared.pipelines.batch.inputs import local_names

    direct = {"name": "data"}  # a ParallelRunStep's own mode
    assert local_names(direct, "in/", ["in/a/x.csv", "in/b/y.csv"]) == ["x.csv", "y.csv"]
    assert local_names(direct, "in/", ["in/a/x.csv", "in/b/x.csv", "in/c.csv"]) == ["0/x.csv", "1/x.csv", "2/c.csv"]
    mounted = {"name": "data", "mode": "mount", "path_on_compute": "/files/"}
    assert local_names(mounted, "in/", ["in/a/x.csv", "in/b/x.csv"]) == ["files/a/x.csv", "files/b/x.csv"]
    assert local_names({"name": "raw", "mode": "download"}, "", ["a/x.csv"]) == ["raw/a/x.csv"]
