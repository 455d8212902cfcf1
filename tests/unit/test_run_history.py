"""A run's metrics as Azure ML shows them, the checks on what is logged, and the offline run outside fninfer."""

from __future__ import annotations

import pytest

from fninfer.core import Run
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.runs.run_history import fold, metric_entry


def entries(*logged: tuple[str, str, object]) -> list[dict[str, object]]:
    return [metric_entry({"name": name, "kind": kind, "value": value}) for name, kind, value in logged]


def test_a_value_logged_once_is_itself_and_logged_again_a_list() -> None:
    folded = fold(entries(("accuracy", "scalar", 0.9), ("loss", "scalar", 0.5), ("loss", "scalar", 0.25)))
    assert folded == {"accuracy": 0.9, "loss": [0.5, 0.25]}


def test_lists_rows_and_tables_fold_as_azure_ml_shows_them() -> None:
    folded = fold(
        entries(
            ("accuracies", "list", [0.6, 0.7]),
            ("accuracies", "list", [0.87]),
            ("citrus", "row", {"fruit": "orange", "size": 10}),
            ("citrus", "row", {"fruit": "lemon", "size": 7}),
            ("Y over X", "table", {"x": [1, 2], "y": [0.6, 0.7]}),
            ("Y over X", "table", {"x": [3], "y": [0.89]}),
            ("one list", "list", [1]),
        )
    )
    assert folded["accuracies"] == [0.6, 0.7, 0.87]
    assert folded["citrus"] == {"fruit": ["orange", "lemon"], "size": [10, 7]}
    assert folded["Y over X"] == {"x": [1, 2, 3], "y": [0.6, 0.7, 0.89]}
    assert folded["one list"] == [1]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"name": "", "value": 1}, "metric name"),
        ({"name": "a", "kind": "histogram", "value": 1}, "kind"),
        ({"name": "a", "value": [1, 2]}, "not a number or a string"),
        ({"name": "a", "kind": "list", "value": 3}, "log_list takes a list"),
        ({"name": "a", "kind": "row", "value": {}}, "log_row"),
        ({"name": "a", "kind": "table", "value": {"x": 1}}, "log_table"),
        ({"name": "a", "value": 1, "step": "one"}, "step"),
        ("a", "each metric"),
    ],
)
def test_what_cannot_be_logged_is_named(document: object, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        metric_entry(document)


def test_nan_and_infinity_are_kept_as_text() -> None:
    assert fold(entries(("x", "scalar", float("nan")), ("y", "scalar", float("inf")))) == {"x": "nan", "y": "inf"}


def test_outside_fninfer_the_context_is_an_offline_run_that_prints(capsys: pytest.CaptureFixture[str]) -> None:
    run = Run.get_context()
    assert run.id.startswith("OfflineRun_")
    run.log("accuracy", 0.98)
    run.log_row("Performance", epoch=1, error=0.2)
    run.tag("candidate")
    run.upload_file("outputs/model.pkl", "model.pkl")
    printed = capsys.readouterr().out
    assert "Attempted to log scalar metric accuracy:\n0.98" in printed
    assert "Attempted to log row metric Performance:\n{'epoch': 1, 'error': 0.2}" in printed
    assert "Attempted to add tag candidate with value None" in printed
    assert "Attempted to track file outputs/model.pkl at model.pkl" in printed


def test_without_allow_offline_there_is_no_context_outside_fninfer() -> None:
    with pytest.raises(Exception, match="no run context"):
        Run.get_context(allow_offline=False)


def test_run_history_paths() -> None:
    assert layout.run_info("r1") == "r1/run.json"
    assert layout.run_tags("r1") == "r1/tags.json"
    assert layout.run_metrics_part("r1", 2) == "r1/metrics/000002.jsonl"
    assert layout.run_file("r1", "outputs/model.pkl") == "r1/files/outputs/model.pkl"
    with pytest.raises(InvalidInput):
        layout.run_file("r1", "../escape")
