"""The studio's pure parts: sessions and form tokens, the graph's layout, charts, recurrences in words and their next
times, submit forms' values, and which HTTP functions are the API's and which the studio's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.api import http_functions
from shared.core.errors import Forbidden, Unauthorized
from studio import sessions
from studio.charts import Series, layers, line_chart, step_graph
from studio.render import url
from studio.views import next_fire_times, parameter_values, recurrence_words
from tests.declared import http_triggers


@pytest.fixture
def admin_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FNINFER_ADMIN_KEY", "the-admin-key")
    return "the-admin-key"


def test_a_session_is_signed_with_the_admin_key_and_expires(admin_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions.check_admin_key(admin_key)
    with pytest.raises(Unauthorized):
        sessions.check_admin_key("the-admin-kez")
    value = sessions.new_session(now=1000.0)
    viewer = sessions.session_viewer(value, now=1000.0 + sessions.SESSION_SECONDS - 1)
    assert viewer is not None and viewer.subject.startswith("session:")
    assert sessions.session_viewer(value, now=1000.0 + sessions.SESSION_SECONDS + 1) is None  # expired
    expires, nonce, mac = value.split(".")
    assert sessions.session_viewer(f"{int(expires) + 10**6}.{nonce}.{mac}", now=1000.0) is None  # forged expiry
    assert sessions.session_viewer("garbage", now=1000.0) is None
    token = sessions.form_token(viewer)
    sessions.check_form_token(viewer, token)
    with pytest.raises(Forbidden):
        sessions.check_form_token(viewer, token[:-1] + "x")
    monkeypatch.setenv("FNINFER_ADMIN_KEY", "a-new-key")  # a new admin key signs every browser out
    assert sessions.session_viewer(value, now=1000.0) is None


def test_easy_auth_tokens_count_only_when_entra_is_configured(admin_key: str) -> None:
    assert sessions.entra_viewer("a.b.c") is None  # no FNINFER_ENTRA_ISSUER: the header is ignored, never trusted


def test_steps_are_laid_out_a_row_per_layer() -> None:
    depends = {"prepare": [], "train": ["prepare"], "check": ["prepare"], "report": ["train", "check"]}
    assert layers(depends) == {"prepare": 0, "train": 1, "check": 1, "report": 2}
    graph = step_graph([(name, "PythonScriptStep", "Finished", parents, name) for name, parents in depends.items()])
    position = {node.name: (node.x, node.y) for node in graph.nodes}
    assert position["prepare"][1] < position["train"][1] == position["check"][1] < position["report"][1]
    assert position["train"][0] < position["check"][0]
    assert position["prepare"][0] == position["report"][0]  # centred
    assert {(edge.source, edge.target) for edge in graph.edges} == {
        ("prepare", "train"),
        ("prepare", "check"),
        ("train", "report"),
        ("check", "report"),
    }


def test_a_chart_breaks_its_line_where_there_is_no_value() -> None:
    chart = line_chart("p99", "ms", ["a", "b", "c", "d", "e"], [Series("p99", [1.0, 2.0, None, 4.0, None])])
    assert chart.lines[0].path.count("M") == 1 and len(chart.lines[0].points) == 1  # "d" alone: a dot
    assert chart.rows == [("a", [1.0]), ("b", [2.0]), ("d", [4.0])]
    assert chart.y_ticks[-1].label == "5" and not chart.empty
    assert line_chart("calls", "", ["a"], [Series("calls", [None])]).empty


def test_recurrences_in_words() -> None:
    assert recurrence_words({"frequency": "Week", "interval": 1}) == "Every week (UTC)"
    document = {
        "frequency": "Week",
        "interval": 2,
        "week_days": ["Friday", "Monday"],
        "hours": [9, 17],
        "minutes": [30],
        "time_zone": "W. Europe Standard Time",
        "start_time": "2026-01-05T00:00:00",
    }
    assert recurrence_words(document) == (
        "Every 2 weeks on Monday and Friday at 09:30, 17:30 (W. Europe Standard Time) from 2026-01-05 00:00"
    )


def test_the_next_times_keep_the_wall_clock_across_daylight_saving() -> None:
    schedule = {
        "recurrence": {"frequency": "Day", "interval": 1, "time_of_day": "09:00", "time_zone": "Europe/Berlin"},
        "created_time": "2026-03-01T00:00:00+00:00",
        "recurrence_since": None,
    }
    times = next_fire_times(schedule, datetime(2026, 3, 27, 12, tzinfo=UTC))
    assert [t.strftime("%m-%d %H:%M %Z") for t in times] == [
        "03-28 09:00 CET",
        "03-29 09:00 CEST",  # the clocks went forward that night
        "03-30 09:00 CEST",
        "03-31 09:00 CEST",
        "04-01 09:00 CEST",
    ]
    hourly = {**schedule, "recurrence": {"frequency": "Minute", "interval": 15}}
    times = next_fire_times(hourly, datetime(2026, 3, 27, 12, 7, tzinfo=UTC))
    assert [t.strftime("%H:%M") for t in times] == ["12:15", "12:30", "12:45", "13:00", "13:15"]


def test_a_submit_form_sets_only_what_it_fills_in() -> None:
    declared = {
        "rows": {"kind": "value", "default": 50},
        "label": {"kind": "value", "default": "x"},
        "data": {"kind": "dataset", "default": {"dataset": None, "paths": []}},
        "unset": {"kind": "value", "default": 1.5},
    }
    form = {"parameter.rows": "60", "parameter.label": "007", "parameter.data": "batch-data:2", "parameter.unset": ""}
    assert parameter_values(declared, form) == {"rows": 60, "label": "007", "data": "batch-data:2"}
    path = '{"datastore": "workspaceblobstore", "path": "in/"}'
    assert parameter_values(declared, {"parameter.data": path}) == {
        "data": {"datastore": "workspaceblobstore", "path": "in/"}
    }


def test_every_http_function_is_the_apis_or_the_studios() -> None:
    api = {function.name for function in http_functions()}
    for function, trigger in http_triggers():
        assert (function.get_function_name() in api) != (trigger.route.split("/")[0] == "studio"), trigger.route
    assert url("runs", "abc", status="Failed", marker=None) == "/api/studio/runs/abc?status=Failed"
