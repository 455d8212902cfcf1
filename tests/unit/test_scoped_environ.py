"""Values of os.environ per context: each service's AZUREML_MODEL_DIR, also when called at once on two threads."""

from __future__ import annotations

import os
import threading

import pytest

from shared.core import scoped_environ
from shared.core.settings import get_setting


def test_each_context_sees_its_own_value_through_every_way_of_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNINFER_TEST_SCOPED", "process")
    seen: dict[str, list[object]] = {}
    barrier = threading.Barrier(2)

    def service(name: str) -> None:
        with scoped_environ.scoped({"FNINFER_TEST_SCOPED": name, "FNINFER_TEST_ONLY_SCOPED": name}):
            barrier.wait()  # both are inside their blocks at once
            seen[name] = [
                os.getenv("FNINFER_TEST_SCOPED"),
                os.environ["FNINFER_TEST_SCOPED"],
                "FNINFER_TEST_ONLY_SCOPED" in os.environ,
                os.environ.get("FNINFER_TEST_ONLY_SCOPED"),
                dict(os.environ.copy())["FNINFER_TEST_SCOPED"],
                get_setting("FNINFER_TEST_SCOPED"),
                get_setting("FNINFER_TEST_SCOPED", environ=scoped_environ.process_environ()),
            ]

    threads = [threading.Thread(target=service, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {name: [name, name, True, name, name, name, "process"] for name in ("a", "b")}
    assert os.environ["FNINFER_TEST_SCOPED"] == "process" and "FNINFER_TEST_ONLY_SCOPED" not in os.environ


def test_writes_still_reach_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    scoped_environ.install()
    monkeypatch.setenv("FNINFER_TEST_WRITTEN", "1")
    os.environ["FNINFER_TEST_WRITTEN"] = "2"
    assert os.getenv("FNINFER_TEST_WRITTEN") == "2"
    del os.environ["FNINFER_TEST_WRITTEN"]
    assert "FNINFER_TEST_WRITTEN" not in os.environ
