"""The host's console: host.json's logging.logLevel by category, Core Tools' line shape, written off the caller."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fninfer_host.logs import ConsoleHandler, Invocation, LogLevels, current_invocation, utc_stamp
from fninfer_host.options import HostConfigError, load_host_options


def test_the_longest_configured_prefix_decides_a_categorys_level() -> None:
    levels = LogLevels.parse(
        {"default": "Warning", "Function": "Error", "Function.score": "Information", "function.score.user": "None"}
    )
    assert levels.level("Host.General") == logging.WARNING  # default
    assert levels.level("Function.train") == logging.ERROR  # Function
    assert levels.level("Function.score") == logging.INFO  # Function.score, not Function
    assert levels.level("Function.score.User") > logging.CRITICAL  # None: nothing, keys compare case-insensitively
    assert levels.level("Function.scorer") == logging.ERROR  # a prefix is a whole category segment
    assert LogLevels().level("anything") == logging.INFO  # no logLevel: Information, as the real host
    assert levels.lowest() == logging.INFO


def test_host_json_log_levels_are_read_and_checked(tmp_path: Path) -> None:
    document = {"version": "2.0", "logging": {"logLevel": {"default": "Information", "Function.score": "Warning"}}}
    (tmp_path / "host.json").write_text(json.dumps(document))
    options = load_host_options(tmp_path, environ={})
    assert not options.log_levels.enabled("Function.score", logging.INFO)
    assert options.log_levels.enabled("Function.other", logging.INFO)
    document["logging"]["logLevel"]["Function.score"] = "Loud"
    (tmp_path / "host.json").write_text(json.dumps(document))
    with pytest.raises(HostConfigError, match=r"logLevel\.Function\.score: 'Loud' is not one of"):
        load_host_options(tmp_path, environ={})


@pytest.fixture
def console() -> Iterator[tuple[ConsoleHandler, io.StringIO, logging.Logger]]:
    stream = io.StringIO()
    handler = ConsoleHandler(stream, LogLevels.parse({"Function.quiet": "Warning", "Host": "Error"}))
    logger = logging.getLogger("test.host.console")
    logger.propagate, logger.handlers = False, [handler]
    logger.setLevel(logging.DEBUG)
    yield handler, stream, logger
    handler.stop()


def test_lines_are_filtered_by_category_and_attributed_to_their_invocation(
    console: tuple[ConsoleHandler, io.StringIO, logging.Logger],
) -> None:
    handler, stream, logger = console
    host = logging.getLogger("fninfer_host.test")
    host.propagate, host.handlers = False, [handler]
    host.info("Executing 'Functions.quiet'", extra={"category": "Function.quiet"})  # below Warning: dropped
    host.warning("Executed 'Functions.loud'", extra={"category": "Function.loud"})
    host.warning("a host line below Error")  # Host.General under Host: Error
    token = current_invocation.set(Invocation("loud", "id-1"))
    try:
        logger.info("from the function")  # Function.loud.User: default Information
    finally:
        current_invocation.reset(token)
    logger.info("outside any invocation")  # Host.Function.Console: Error under Host
    handler.stop()
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "Executed 'Functions.loud'",
        "Functions.loud (Id=id-1): from the function",
    ]
    assert all(line.startswith("[") and line[24:26] == "Z]" for line in lines)  # [2026-11-22T09:00:00.123Z]


def test_host_lines_written_without_a_record_keep_their_place_and_their_filter(
    console: tuple[ConsoleHandler, io.StringIO, logging.Logger],
) -> None:
    """The invoker writes its Executing/Executed lines straight to the console: filtered by the same category levels
    and in order with the records around them."""
    handler, stream, logger = console
    logger.error("before")
    handler.write(1_700_000_000.25, "Function.quiet", logging.INFO, "Executing 'Functions.quiet'")  # below Warning
    handler.write(1_700_000_000.5, "Function.loud", logging.INFO, "Executing 'Functions.loud'")
    handler.write(1_700_000_000.5, "Host.General", logging.WARNING, "a host line below Error")
    logger.error("after")
    handler.stop()
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["before", "Executing 'Functions.loud'", "after"]
    assert lines[1].startswith("[2023-11-14T22:13:20.500Z] ")


def test_a_caller_only_queues_its_line_and_nothing_is_lost_at_stop(
    console: tuple[ConsoleHandler, io.StringIO, logging.Logger],
) -> None:
    handler, stream, logger = console
    for i in range(5000):
        logger.error("line %d", i)
    handler.stop()  # what is queued is written before the writer ends
    assert [line.rsplit(" ", 1)[1] for line in stream.getvalue().splitlines()] == [str(i) for i in range(5000)]


def test_stamps_are_datetimes_rounded_as_python_rounds_them() -> None:
    """The stamp formats its date and time once per second; its milliseconds still come out as datetime's do
    (microseconds rounded half to even, then cut), across second boundaries and carries."""
    moments = [0.0, 0.9999996, 1e9 + 0.9999995, 1_700_000_000.0005, 1_700_000_000.9994]
    moments += [random.Random(7).uniform(0, 2e9) for _ in range(5_000)]
    moments += [1_700_000_000 + step / 997 for step in range(5_000)]
    for moment in moments:
        expected = "[" + datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z]"
        assert utc_stamp(moment) == expected, moment
