"""Pipelines of several steps, without storage: the order inferred from data and run_after, what a definition may
not hold, and how the SDK's steps name their data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fninfer.data import OutputFileDatasetConfig
from fninfer.pipeline.core import Pipeline, PipelineData, StepSequence
from fninfer.pipeline.steps import PythonScriptStep
from shared.core.errors import InvalidInput
from shared.core.hashing import combined_sha256
from shared.pipelines.engine import definition, graph

STEPS = Path(__file__).resolve().parents[1] / "fixtures" / "steps"
SHA = "b" * 64
SNAPSHOT = {"id": combined_sha256([("s.py", SHA)]), "files": [{"path": "s.py", "size": 1, "sha256": SHA}]}


def script(name: str, inputs: list[str] = (), outputs: list[str] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "type": "PythonScriptStep",
        "name": name,
        "snapshot": SNAPSHOT,
        "script_name": "s.py",
        "inputs": [{"name": data, "data": data} for data in inputs],
        "outputs": [{"name": data} for data in outputs],
        **extra,
    }


def names(checked: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(step["name"], step["depends_on"]) for step in checked["steps"]]


def test_order_follows_the_data_and_run_after() -> None:
    steps = [
        script("summarise", inputs=["scores"]),
        script("score", inputs=["prepared"], outputs=["scores"]),
        script("prepare", outputs=["prepared"]),
        script("notify", run_after=["summarise"]),
        script("independent"),
    ]
    checked = definition.validate({"steps": steps})
    assert names(checked) == [
        ("prepare", []),
        ("independent", []),
        ("score", ["prepare"]),
        ("summarise", ["score"]),
        ("notify", ["summarise"]),
    ]
    assert checked["continue_on_step_failure"] is False


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        ([script("a", inputs=["x"])], "which no step of the pipeline writes"),
        ([script("a", outputs=["x"]), script("b", outputs=["x"])], "both write an output named 'x'"),
        ([script("a"), script("a")], "step names must be unique"),
        ([script("a", run_after=["b"]), script("b", run_after=["a"])], "cycle"),
        ([script("a", run_after=["nope"])], "'nope', which is not in the pipeline"),
        ([script("a", outputs=["x"], arguments=[{"$data": "y"}])], "not an input or output of the step"),
        ([script("a", script_name="other.py")], "not in source_directory"),
        ([script("a", timeout=0)], "timeout"),
        ([script("a", outputs=["x"], inputs=["x"])], "repeated"),
        ([{**script("a"), "outputs": [{"name": "o", "destination": "out/*"}]}], "not a pattern"),
        ([{**script("a"), "outputs": [{"name": "o", "mode": "rw_mount"}]}], "output mode"),
        ([], "at least one step"),
    ],
)
def test_what_cannot_run_is_named(steps: list[dict[str, Any]], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        definition.validate({"steps": steps})


def test_outputs_and_inputs_of_each_kind_of_step() -> None:
    checked = definition.validate(
        {
            "steps": [
                script("a", outputs=["x"], params={"n": "1"}),
                script("b", inputs=["x"], arguments=["--in", {"$data": "x"}]),
            ]
        }
    )
    a, b = checked["steps"]
    assert graph.outputs_of(a) == [{"name": "x", "datastore": "workspaceblobstore"}]
    assert graph.data_inputs_of(b) == [
        {"name": "x", "data": "x", "kind": "file", "mode": "mount", "path_on_compute": None}
    ]
    assert a["params"] == {"n": "1"} and b["arguments"] == ["--in", {"$data": "x"}]


# -- the SDK ------------------------------------------------------------------------------------------------------


def test_data_named_only_in_arguments_joins_inputs_and_outputs() -> None:
    prepared = OutputFileDatasetConfig(name="prepared")
    scores = PipelineData("scores")
    prepare = PythonScriptStep("prepare.py", name="prepare", arguments=["--out", prepared], source_directory=STEPS)
    summarise = PythonScriptStep(
        "summarise.py", name="summarise", arguments=["--in", prepared.as_input("p"), scores], source_directory=STEPS
    )
    assert [o.name for o in prepare.outputs] == ["prepared"] and prepare.inputs == []
    assert [i.name for i in summarise.inputs] == ["p"] and [o.name for o in summarise.outputs] == ["scores"]
    assert prepare._argument(prepared) == {"$data": "prepared"} and prepare._argument(3) == "3"
    with pytest.raises(InvalidInput, match="already an output of step 'prepare'"):
        PythonScriptStep("prepare.py", name="again", outputs=[prepared], source_directory=STEPS)


def test_a_pipeline_brings_the_steps_upstream_in_order() -> None:
    prepared = OutputFileDatasetConfig(name="prepared")
    prepare = PythonScriptStep("prepare.py", name="prepare", arguments=[prepared], source_directory=STEPS)
    use = PythonScriptStep("summarise.py", name="use", inputs=[prepared.as_mount().as_input()], source_directory=STEPS)
    last = PythonScriptStep("summarise.py", name="last", source_directory=STEPS)
    last.run_after(use)
    assert Pipeline(workspace=None, steps=[last]).steps == [prepare, use, last]  # type: ignore[arg-type]
    assert Pipeline(workspace=None, steps=[last], resolve_closure=False).steps == [last]  # type: ignore[arg-type]


def test_a_step_sequence_orders_groups() -> None:
    a, b, c, d = (PythonScriptStep("prepare.py", name=n, source_directory=STEPS) for n in "abcd")
    sequence = StepSequence(steps=[a, [b, c], d])
    assert sequence.steps == [a, b, c, d]
    assert b._run_after == [a] and c._run_after == [a] and d._run_after == [b, c]
    with pytest.raises(InvalidInput, match="itself"):
        a.run_after(a)
