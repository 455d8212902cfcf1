"""Test helpers: the real local host (`fninfer_host.testing`, re-exported under the names the tests use), polling, and
calls made at the same moment."""

import threading
import time
from collections.abc import Callable
from typing import Any

from fninfer_host.testing import RunningHost, free_port, run_host

__all__ = ["RunningHost", "at_once", "eventually", "free_port", "run_host"]


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        time.sleep(0.1)
    return result


def at_once(call: Callable[[], object], count: int = 2) -> None:
    """`call` from `count` threads released together, as host instances doing the same thing at the same moment;
    fails with what any of them raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def instance() -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
