"""A service's own bound on concurrent calls (shared/services/gate.py): a full service is refused, others are not."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shared.core.errors import ServiceBusy
from shared.services.gate import Gate


def test_calls_over_the_bound_wait_for_a_slot_then_are_refused() -> None:
    gate = Gate("slow", 2)
    release = threading.Event()

    async def scenario() -> list[object]:
        calls = [asyncio.create_task(gate.call(release.wait, wait=5, timeout=30)) for _ in range(3)]
        await asyncio.sleep(0.2)
        assert not any(call.done() for call in calls)  # two run, the third waits for a slot
        release.set()
        return list(await asyncio.gather(*calls))

    assert asyncio.run(scenario()) == [True, True, True]

    async def refused() -> None:
        blocker = threading.Event()
        running = [asyncio.create_task(gate.call(blocker.wait, wait=5, timeout=30)) for _ in range(2)]
        await asyncio.sleep(0.1)
        with pytest.raises(ServiceBusy):
            await gate.call(lambda: None, wait=0.1, timeout=30)
        blocker.set()
        await asyncio.gather(*running)

    asyncio.run(refused())


def test_a_stuck_service_is_refused_at_once_while_another_answers() -> None:
    stuck, healthy = Gate("stuck", 2), Gate("healthy", 2)
    never = threading.Event()

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(TimeoutError):
                await stuck.call(never.wait, wait=1, timeout=0.1)  # the caller stops waiting; run() goes on
        assert stuck.stuck() == 2
        started = time.monotonic()
        with pytest.raises(ServiceBusy) as caught:
            await stuck.call(lambda: None, wait=10, timeout=1)
        # no point waiting: refused at once
        assert caught.value.details["stuck"] == 2 and time.monotonic() - started < 5  # not the 10 s it may wait
        assert await healthy.call(lambda: "ok", wait=0.1, timeout=1) == "ok"

    asyncio.run(scenario())
    never.set()


def test_threads_are_reused_and_bounded() -> None:
    gate = Gate("reuse", 3)

    async def scenario() -> set[int]:
        idents: set[int] = set()
        for _ in range(20):
            results = await asyncio.gather(*(gate.call(threading.get_ident, wait=5, timeout=5) for _ in range(3)))
            idents.update(results)
        return idents

    assert len(asyncio.run(scenario())) <= 3
    gate.close()


def test_an_exception_reaches_the_caller() -> None:
    gate = Gate("raises", 1)

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(gate.call(fail, wait=1, timeout=1))
    assert asyncio.run(gate.call(lambda: 1, wait=1, timeout=1)) == 1  # the slot was given back


def test_a_slot_comes_back_when_run_returns_after_its_caller_timed_out_or_went_away() -> None:
    gate = Gate("late", 1)
    finish = threading.Event()

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await gate.call(finish.wait, wait=1, timeout=0.1)
        assert time.monotonic() - started < 5  # the deadline, not run()'s return (never, here), ended the wait
        with pytest.raises(ServiceBusy):  # run() still holds the one slot
            await gate.call(lambda: None, wait=0.1, timeout=1)
        finish.set()
        await asyncio.sleep(0.1)  # run() returns on its thread
        assert await gate.call(lambda: "after", wait=1, timeout=1) == "after"

        finish.clear()
        caller = asyncio.create_task(gate.call(finish.wait, wait=1, timeout=30))
        await asyncio.sleep(0.1)
        caller.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await caller
        finish.set()  # run() returns to nobody; its slot is free again
        assert await gate.call(lambda: "free", wait=1, timeout=1) == "free"

    asyncio.run(scenario())
    gate.close()


def test_a_call_queued_behind_a_stuck_run_gets_a_thread_of_its_own() -> None:
    """A call arriving just after another waits for that thread (it usually frees at once); when it does not, the
    call is handed to a thread of its own after HAND_OVER_SECONDS instead of waiting behind it."""
    gate = Gate("behind", 2)
    never = threading.Event()

    async def scenario() -> None:
        stuck = asyncio.create_task(gate.call(never.wait, wait=1, timeout=30))
        await asyncio.sleep(0)  # the stuck call has its thread
        started = time.monotonic()
        assert await gate.call(threading.get_ident, wait=1, timeout=5) != threading.get_ident()
        assert time.monotonic() - started < 5  # not behind the stuck call, which never returns here
        assert not stuck.done()
        never.set()
        assert await stuck is True

    asyncio.run(scenario())
    gate.close()


def test_queued_calls_run_in_order_and_each_answers_its_own_caller() -> None:
    gate = Gate("order", 8)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(gate.call(lambda n=n: n * n, wait=5, timeout=5) for n in range(200))))

    assert asyncio.run(scenario()) == [n * n for n in range(200)]
    gate.close()
