"""The service runtime's record cache on a clock the test moves: re-read at most once per RECORD_CACHE_SECONDS."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shared.core.errors import Unauthorized
from shared.core.storage import Storage
from shared.services import auth
from shared.services import runtime as runtime_module
from shared.services.runtime import RECORD_CACHE_SECONDS, Plan, Runtime

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


def test_a_valid_key_is_checked_once_per_read_of_the_record_and_a_token_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FNINFER_SIGNING_KEY", "unit-test-secret")
    keyed = {"name": "svc", "deployment": {}, "auth": {"mode": "key", "nonces": auth.new_nonces()}}
    checks: list[str | None] = []
    real = auth.authenticate

    def counting(record: dict[str, Any], authorization: str | None) -> bool:
        checks.append(authorization)
        return real(record, authorization)

    monkeypatch.setattr(runtime_module, "authenticate", counting)
    runtime = CountingRuntime(cast(Storage, None), clock=Clock())
    runtime._plans["svc"] = Plan.of(keyed, runtime.clock())
    key = f"Bearer {auth.keys_of(keyed)[0]}"
    for _ in range(3):
        asyncio.run(runtime._authenticated("svc", key))
    assert checks == [key]  # the record has not changed: its key is still valid
    with pytest.raises(Unauthorized):
        asyncio.run(runtime._authenticated("svc", "Bearer not-a-key"))
    tokened = {**keyed, "auth": {"mode": "token", "nonces": keyed["auth"]["nonces"]}}
    runtime._plans["svc"] = Plan.of(tokened, runtime.clock())
    token = f"Bearer {auth.issue_token(tokened)[0]}"
    checks.clear()
    for _ in range(2):
        asyncio.run(runtime._authenticated("svc", token))
    assert checks == [token, token]  # a token expires: checked on every call
