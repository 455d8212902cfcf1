"""Test helpers: the real local host (`fninfer.testing`, re-exported under the names the tests use), and polling."""

import time
from collections.abc import Callable
from typing import Any

from fninfer.testing import RunningHost, free_port, run_host

__all__ = ["RunningHost", "eventually", "free_port", "run_host"]


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        time.sleep(0.1)
    return result
