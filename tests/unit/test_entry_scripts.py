"""The one loader and output capture of entry scripts (shared/core/user_scripts.py), for services and batch steps."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from shared.core.errors import EntryScriptFailed, InvalidInput
from shared.core.user_scripts import MAX_CAPTURE, CaptureBuffer, capturing, load_script


def snapshot(root: Path, name: str, files: dict[str, str]) -> Path:
    """A folder laid out as materialized snapshots are: side by side under one cache root."""
    folder = root / name
    folder.mkdir(parents=True)
    for path, text in files.items():
        (folder / path).write_text(text)
    return folder


SCRIPT = """
import helper

def init():
    print("init of", helper.WHO)

def run(mini_batch):
    import lazy  # imported when run() first needs it
    return [helper.WHO, lazy.WHO]
"""


def test_two_scripts_with_a_helper_of_the_same_name_each_import_their_own(tmp_path: Path) -> None:
    folders = [
        snapshot(tmp_path, who, {"score.py": SCRIPT, "helper.py": f"WHO = {who!r}", "lazy.py": f"WHO = {who!r}"})
        for who in ("first", "second")
    ]
    logs = [CaptureBuffer(), CaptureBuffer()]
    modules = [
        load_script(folder, "score.py", f"test_entry_{folder.name}", log)
        for folder, log in zip(folders, logs, strict=True)
    ]
    assert [log.getvalue() for log in logs] == ["init of first\n", "init of second\n"]
    assert modules[0].helper.WHO == "first" and modules[1].helper.WHO == "second"
    assert modules[0].run([]) == ["first", "first"]  # the first folder to import `lazy` lazily wins it, as before


def test_a_helper_from_a_snapshot_in_another_folder_is_forgotten_too(tmp_path: Path) -> None:
    """Snapshots come from the snapshot cache and from the app (baked in): a `helper` imported from one must not
    stand in for another's."""
    files = {"score.py": SCRIPT, "lazy.py": "WHO = 'lazy'"}
    baked = snapshot(tmp_path / "baked", "one", {**files, "helper.py": "WHO = 'baked'"})
    cached = snapshot(tmp_path / "cache", "two", {**files, "helper.py": "WHO = 'cached'"})
    modules = [
        load_script(folder, "score.py", f"test_entry_root_{folder.name}", CaptureBuffer()) for folder in (baked, cached)
    ]
    assert [module.helper.WHO for module in modules] == ["baked", "cached"]


def test_what_a_script_prints_or_logs_goes_to_its_thread_sink_only(capsys: pytest.CaptureFixture[str]) -> None:
    mine, theirs = CaptureBuffer(), CaptureBuffer()
    printed = threading.Event()

    def other_thread() -> None:
        with capturing(theirs):
            print("theirs")
            printed.set()

    with capturing(mine):
        print("mine")
        logging.getLogger("user.code").warning("a warning")
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    print("the host's own")
    assert printed.is_set()
    assert mine.getvalue().startswith("mine\n") and "WARNING user.code: a warning" in mine.getvalue()
    assert theirs.getvalue() == "theirs\n"
    assert capsys.readouterr().out == "the host's own\n"  # a CaptureBuffer does not echo


def test_a_capture_keeps_at_most_its_limit() -> None:
    buffer = CaptureBuffer()
    with capturing(buffer):
        for _ in range(MAX_CAPTURE // 10 + 100):
            print("123456789")
    assert MAX_CAPTURE <= len(buffer.getvalue()) < MAX_CAPTURE + 10


EXITS = """
def init():
    print("parsing")
    raise SystemExit(2)

def run(mini_batch):
    return mini_batch
"""


def test_whatever_init_raises_is_the_scripts_failure_with_what_it_printed(tmp_path: Path) -> None:
    folder = snapshot(tmp_path, "exits", {"score.py": EXITS})
    with pytest.raises(EntryScriptFailed, match=r"'score.py' failed to load: init\(\) raised SystemExit: 2") as caught:
        load_script(folder, "score.py", "test_entry_exits", CaptureBuffer())
    assert caught.value.details["log"] == "parsing\n" and "SystemExit" in caught.value.details["traceback"]
    broken = snapshot(tmp_path, "broken", {"score.py": "import no_such_module\n"})
    with pytest.raises(EntryScriptFailed, match="importing it raised ModuleNotFoundError"):
        load_script(broken, "score.py", "test_entry_broken", CaptureBuffer())


def test_a_script_without_its_required_functions_is_invalid_input(tmp_path: Path) -> None:
    folder = snapshot(tmp_path, "no-init", {"score.py": "def run(data):\n    return data\n"})
    with pytest.raises(InvalidInput, match=r"has no init\(\) function"):
        load_script(folder, "score.py", "test_entry_no_init", CaptureBuffer(), required=("init", "run"))
    assert load_script(folder, "score.py", "test_entry_run_only", CaptureBuffer()).run(3) == 3
