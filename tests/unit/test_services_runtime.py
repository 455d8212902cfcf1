"""The service runtime's record cache on a clock the test moves: re-read at most once per RECORD_CACHE_SECONDS."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from shared.services.runtime import RECORD_CACHE_SECONDS, Plan, Runtime
from shared.storage import Storage

RECORD: dict[str, Any] = {"name": "svc", "deployment": {"compute_type": "AKS"}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingRuntime(Runtime):
    """The runtime with its record read counted instead of fetched (no storage: nothing here reaches it)."""

    reads = 0

    def read_plan(self, name: str) -> Plan:
        self.reads += 1
        plan = self._plans[name] = Plan.of(RECORD, self.clock())
        return plan


def test_a_record_is_read_again_only_once_its_ttl_has_passed() -> None:
    clock = Clock()
    runtime = CountingRuntime(cast(Storage, None), clock=clock)

    def plan() -> Plan:
        return asyncio.run(runtime._plan("svc"))

    first = plan()
    assert runtime.reads == 1 and (first.bound, first.wait) == (1, 0.5)  # AKS's defaults
    clock.now += RECORD_CACHE_SECONDS * 0.9
    assert plan() is first and runtime.reads == 1  # within the TTL: the cached record
    clock.now += RECORD_CACHE_SECONDS * 0.2
    assert plan() is not first and runtime.reads == 2  # past it: read again, once
    assert plan() and runtime.reads == 2
