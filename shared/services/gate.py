"""Each service's own bound on concurrent calls, so one service cannot take another's capacity.

A service runs at most `replica_max_concurrent_requests` calls at once on an instance, on threads of its own; a call
over the bound waits up to `max_request_wait_time` for a slot (AKS's two settings), without holding a thread, then is
answered 503. A slot is freed when run() returns, not when its caller stops waiting: a run() that never returns keeps
its slot and its thread, so a service whose calls are stuck answers 503 at once while the others keep their threads
and their latency. Python cannot stop a thread; an update or reload of the service starts a new code version with
fresh slots and threads, and the stuck ones end with their run() or with the instance.

Threads are handed calls as a thread pool that grows on demand would: a call that arrives while a thread of the service
started its call less than HAND_OVER_SECONDS ago waits for that thread (it runs the call next, without going to sleep
and being woken); one that waited that long, or finds no thread so recently started, gets an idle thread or a new one.
Calls that follow one another then run on one thread, and a slow or stuck run() holds up the call behind it by no more
than HAND_OVER_SECONDS.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.core.errors import ServiceBusy

T = TypeVar("T")

#: How long a call may wait for a busy thread of its service rather than wake or start another (see the docstring).
HAND_OVER_SECONDS = 0.002


@dataclass
class _Call:
    """A call handed to a gate thread, and where its outcome goes."""

    function: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[Any]
    call_id: int
    queued: bool = False  # waiting in the gate's queue for a thread


@dataclass
class _Worker:
    """A gate thread: it sleeps on `wake` (held while it has nothing to do) until handed a call."""

    wake: threading.Lock = field(default_factory=threading.Lock)
    call: _Call | None = None
    started: float = 0.0  # when it took its call (time.monotonic())
    alive: bool = False  # its thread was started


@dataclass
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


@dataclass
class Gate:
    """The slots and threads of one service's code version on this instance (any event loop may wait on it)."""

    name: str
    bound: int
    _free: int = field(init=False)
    _waiters: collections.deque[_Waiter] = field(default_factory=collections.deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: dict[int, float] = field(default_factory=dict)  # call id -> when it must have returned
    _next_id: int = 0
    # Daemon threads of its own (a stuck run() must not keep the process from exiting): started when no thread is
    # idle, so never more than `bound`. The idle thread that finished last takes the next call (a stack): calls that
    # follow one another keep one thread busy and the others asleep, instead of waking each in turn.
    _idle: list[_Worker] = field(default_factory=list)
    _busy: list[_Worker] = field(default_factory=list)
    _queue: collections.deque[_Call] = field(default_factory=collections.deque)  # slots held, waiting for a thread
    _closed: bool = False

    def __post_init__(self) -> None:
        self._free = self.bound

    def stuck(self) -> int:
        """How many running calls are past the time they had to return."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for deadline in self._running.values() if deadline < now)

    async def _acquire(self, wait: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            now = time.monotonic()
            if sum(1 for deadline in self._running.values() if deadline < now) >= self.bound:
                return False  # every slot is held by a run() past its timeout: waiting cannot help
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), wait)
            return True
        except TimeoutError:
            with self._lock:
                if waiter.granted:
                    return True
                self._waiters.remove(waiter)
                return False
        except BaseException:  # the caller went away (cancelled): give back what it was given
            with self._lock:
                if not waiter.granted:
                    self._waiters.remove(waiter)
            if waiter.granted:
                self._release()
            raise

    def _release(self) -> None:
        """A slot is free: hand it to the longest waiter, else keep it."""
        with self._lock:
            waiter = self._pass_slot()
        if waiter is not None:
            _call_soon(waiter.loop, _settle, waiter.future)

    def _pass_slot(self) -> _Waiter | None:
        """(Under the lock) a freed slot to the longest waiter, returned for the caller to wake, else kept."""
        if not self._waiters:
            self._free += 1
            return None
        waiter = self._waiters.popleft()
        waiter.granted = True
        return waiter

    async def call(self, function: Callable[[], T], wait: float, timeout: float) -> T:
        """`function()` on one of this gate's threads: ServiceBusy when no slot frees within `wait` seconds,
        TimeoutError when it does not return within `timeout` (it goes on, holding its slot, until it does)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        with self._lock:  # a free slot is taken and the call handed out under one lock: the usual case
            granted = self._free > 0 and not self._waiters
            if granted:
                self._free -= 1
                call = self._start(function, loop, done, timeout)
                worker = self._place(call)
        if not granted:
            if not await self._acquire(wait):
                stuck = self.stuck()
                why = f"{stuck} of them running past the scoring timeout" if stuck else "all busy"
                raise ServiceBusy(
                    f"{self.bound} calls running on this instance ({why}); "
                    f"no slot freed within max_request_wait_time={wait * 1000:g} ms",
                    replica_max_concurrent_requests=self.bound,
                    stuck=stuck,
                )
            with self._lock:
                call = self._start(function, loop, done, timeout)
                worker = self._place(call)
        if worker is not None:
            self._run_on(worker)
        else:
            loop.call_at(loop.time() + HAND_OVER_SECONDS, self._hand_over, call)
        # The deadline settles `done` itself: no task cancellation, no Timeout object per call.
        expiry = loop.call_at(loop.time() + timeout, _expire, done)
        try:
            return await done
        finally:
            expiry.cancel()

    def _start(
        self, function: Callable[[], Any], loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], timeout: float
    ) -> _Call:
        """(Under the lock, a slot held) the call, with its id and the time it must have returned by."""
        call_id = self._next_id = self._next_id + 1
        self._running[call_id] = time.monotonic() + timeout
        return _Call(function, loop, done, call_id)

    def _place(self, call: _Call) -> _Worker | None:
        """(Under the lock) queue `call` behind a thread that started its call less than HAND_OVER_SECONDS ago
        (None), else give it a thread: the idle one that finished last, or a new one (to set going with _run_on)."""
        now = time.monotonic()
        if any(now - busy.started < HAND_OVER_SECONDS for busy in self._busy):
            call.queued = True
            self._queue.append(call)
            return None
        return self._take_thread(call, now)

    def _take_thread(self, call: _Call, now: float) -> _Worker:
        """(Under the lock) the idle thread that finished last, else a new one, with `call` to run."""
        worker = self._idle.pop() if self._idle else _Worker()
        worker.call, worker.started = call, now
        self._busy.append(worker)
        return worker

    def _run_on(self, worker: _Worker) -> None:
        """Set a worker going on the call it was given: wake its thread, or start one."""
        if worker.alive:
            worker.wake.release()
        else:
            worker.alive = True
            worker.wake.acquire()
            threading.Thread(target=self._serve, args=(worker,), name=f"scoring-{self.name}", daemon=True).start()

    def _hand_over(self, call: _Call) -> None:
        """(On the caller's loop, HAND_OVER_SECONDS after `call` was queued) a thread for it if it still waits."""
        with self._lock:
            if not call.queued:
                return
            call.queued = False
            self._queue.remove(call)
            worker = self._take_thread(call, time.monotonic())
        self._run_on(worker)

    def _serve(self, worker: _Worker) -> None:
        while (call := worker.call) is not None:
            try:
                result, error = call.function(), None
            except BaseException as exc:  # the function contains user code's failures; pass on anything else
                result, error = None, exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            with self._lock:  # the next queued call, else idle before the slot frees (the next call reuses it)
                self._running.pop(call.call_id, None)
                waiter = self._pass_slot()
                queued = self._queue.popleft() if self._queue else None
                if queued is not None:
                    queued.queued = False
                    worker.call, worker.started = queued, time.monotonic()
                else:
                    worker.call = None
                    self._busy.remove(worker)
                    if not self._closed:
                        self._idle.append(worker)
                closed = self._closed
            if waiter is not None:
                _call_soon(waiter.loop, _settle, waiter.future)
            _call_soon(call.loop, _settle, call.done, result, error)
            if queued is not None:
                continue
            if closed:
                return
            worker.wake.acquire()  # until handed the next call (None: the gate closed)

    def close(self) -> None:
        """Let this gate's threads end: idle ones now, one still in a run() when it returns."""
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for worker in idle:
            worker.wake.release()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits for the answer any more
        loop.call_soon_threadsafe(callback, *args)


def _expire(done: asyncio.Future[Any]) -> None:
    if not done.done():
        done.set_exception(TimeoutError())


def _settle(target: asyncio.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Complete `target` (unless its waiter gave up) with a result or an error (a granted slot: None)."""
    if target.done():
        return
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(result)
