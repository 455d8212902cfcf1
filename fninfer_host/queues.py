"""The queue trigger's listener, with the storage extension's semantics (notes §3).

One flat loop per queue: stop requested? room for more work? receive up to `batchSize` messages with a 10-minute
visibility, run each on its own thread, poll again at once while messages come, back off (100 ms, then randomized
exponential up to `maxPollingInterval`) while they don't. A backoff is cut short when code of this instance sends a
message to the queue (storage.watch_sends), as the Functions host does for messages its functions write through a
queue output binding: a batch run goes from submit to planning to its mini-batches without waiting out an idle
backoff. Per message: keep it invisible while it runs, delete it on success; on failure make it visible again after
`visibilityTimeout`, or after `maxDequeueCount` attempts copy it to
`<queue>-poison`. Delivery is at least once: a host that dies mid-message leaves it to reappear after its window.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient, QueueMessage

from fninfer_host.invoker import FunctionTimeout, InvocationFailed
from fninfer_host.options import QueueOptions
from fninfer_host.storage import HostStorage, watch_sends

log = logging.getLogger("fninfer_host")

#: How long a received message stays invisible while its invocation runs; renewed every third of it, counted from
#: when the last renewal was sent, so a slow round trip to storage eats into the margin rather than the window.
VISIBILITY_WINDOW = 600.0
MIN_POLL_DELAY = 0.1
#: How often a backoff wait looks at the stop event.
STOP_CHECK_SECONDS = 0.25


class Backoff:
    """The host's empty-queue delay: 100 ms, then 100 ms + U(0.8, 1.2) x 2^(k-1) x 100 ms, capped."""

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.empty_polls = 0

    def reset(self) -> None:
        self.empty_polls = 0

    def next_delay(self) -> float:
        self.empty_polls += 1
        if self.empty_polls == 1:
            return min(MIN_POLL_DELAY, self.maximum)
        growth = random.uniform(0.8, 1.2) * (2 ** (self.empty_polls - 2)) * MIN_POLL_DELAY
        return min(MIN_POLL_DELAY + growth, self.maximum)


@dataclass
class InFlight:
    """A received message while it runs: the latest pop receipt (renewals change it)."""

    message: QueueMessage
    pop_receipt: str
    lock: threading.Lock


Handler = Callable[[func.QueueMessage], None]


class QueueListener:
    def __init__(
        self,
        name: str,
        storage: HostStorage,
        queue_name: str,
        handler: Handler,
        options: QueueOptions,
        poison_queue: str | None,
        visibility_window: float = VISIBILITY_WINDOW,
    ) -> None:
        self.name = name
        self.storage = storage
        self.queue_name = queue_name
        self.handler = handler
        self.options = options
        self.poison_queue = poison_queue
        self.visibility_window = visibility_window
        self.receiver = storage.receiver(queue_name)
        self.queue: QueueClient = self.receiver.client  # renewals, deletes and releases, through the SDK
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=options.batch_size + options.new_batch_threshold, thread_name_prefix=f"queue-{queue_name}"
        )

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff(self.options.max_polling_interval)
        running: set[concurrent.futures.Future[None]] = set()
        sent = threading.Event()
        unwatch = watch_sends(self.queue.url, sent.set)
        try:
            while not stop.is_set():
                running = {future for future in running if not future.done()}
                if len(running) > self.options.new_batch_threshold:
                    concurrent.futures.wait(running, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
                    continue
                sent.clear()  # before receiving: a message sent from now on cuts the next backoff short
                messages = self.receive()
                if not messages:
                    if self._wait(stop, sent, backoff.next_delay()):
                        backoff.reset()
                    continue
                backoff.reset()
                for message in messages:
                    future = self.pool.submit(self.process, message)
                    future.add_done_callback(self._log_crash)
                    running.add(future)
        finally:
            unwatch()
        concurrent.futures.wait(running, timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _wait(stop: threading.Event, sent: threading.Event, delay: float) -> bool:
        """Wait `delay` seconds, or until a message is sent to the queue (True) or stop is set."""
        deadline = time.monotonic() + delay
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if sent.wait(min(remaining, STOP_CHECK_SECONDS)):
                return True
        return False

    def _log_crash(self, future: concurrent.futures.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("Queue listener '%s' failed on a message", self.name, exc_info=future.exception())

    def receive(self) -> list[QueueMessage]:
        try:
            return self.receiver.receive(self.options.batch_size, int(self.visibility_window))
        except ResourceNotFoundError:
            return []  # the queue does not exist (yet): back off and look again, as the host does
        except AzureError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("Receiving from queue '%s' failed: %s", self.queue_name, reason)
            return []

    # -- one message ----------------------------------------------------------------------------------------

    def process(self, message: QueueMessage) -> None:
        if message.dequeue_count > self.options.max_dequeue_count:
            self.move_to_poison(InFlight(message, message.pop_receipt, threading.Lock()))
            return
        in_flight = InFlight(message, message.pop_receipt, threading.Lock())
        body = self.decode(message.content)
        if body is None:
            log.error("Message decoding has failed! Check MessageEncoding settings. MessageId=%s.", message.id)
            self.move_to_poison(in_flight)
            return
        trigger_value = TriggerMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        done = threading.Event()
        renewer = threading.Thread(target=self._keep_invisible, args=(in_flight, done), daemon=True)
        renewer.start()
        try:
            self.handler(trigger_value)
            succeeded = True
        except (InvocationFailed, FunctionTimeout):
            succeeded = False  # the invoker has logged it
        except Exception:
            log.exception("Processing message %s from '%s' failed", message.id, self.queue_name)
            succeeded = False
        finally:
            done.set()
            renewer.join()
        if succeeded:
            self._delete(in_flight)
        elif message.dequeue_count >= self.options.max_dequeue_count and self.poison_queue:
            self.move_to_poison(in_flight)
        elif self.poison_queue:
            self._release(in_flight, self.options.visibility_timeout)
        # With no poison queue the host does not release a failed message: it reappears when its window lapses.

    def decode(self, content: str | bytes | None) -> bytes | None:
        raw = content.encode() if isinstance(content, str) else (content or b"")
        if self.options.message_encoding == "none":
            return raw
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None

    def _keep_invisible(self, in_flight: InFlight, done: threading.Event) -> None:
        interval = self.visibility_window / 3
        next_renewal = time.monotonic() + interval
        while not done.wait(max(next_renewal - time.monotonic(), 0.0)):
            sent = time.monotonic()
            with in_flight.lock:
                try:
                    receipt = self.queue.update_message(
                        in_flight.message.id, in_flight.pop_receipt, visibility_timeout=int(self.visibility_window)
                    )
                    in_flight.pop_receipt = receipt.pop_receipt
                    next_renewal = sent + interval
                except ResourceNotFoundError:
                    return  # deleted or taken by another instance: nothing left to renew
                except AzureError as exc:
                    log.warning("Renewing message %s failed: %s", in_flight.message.id, exc)
                    next_renewal = time.monotonic() + min(interval / 2, 1.0)

    def _delete(self, in_flight: InFlight) -> None:
        try:
            self.queue.delete_message(in_flight.message.id, in_flight.pop_receipt)
        except AzureError as exc:  # 404 or pop-receipt mismatch: someone else owns it now
            log.debug("Deleting message %s: %s", in_flight.message.id, exc)

    def _release(self, in_flight: InFlight, delay: float) -> None:
        try:
            self.queue.update_message(in_flight.message.id, in_flight.pop_receipt, visibility_timeout=int(delay))
        except AzureError as exc:
            log.debug("Releasing message %s: %s", in_flight.message.id, exc)

    def move_to_poison(self, in_flight: InFlight) -> None:
        if not self.poison_queue:
            return
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self.options.max_dequeue_count,
            self.poison_queue,
        )
        try:
            # The body is copied verbatim, still encoded, as the host does.
            self.storage.queue(self.poison_queue).send_message(in_flight.message.content)
        except AzureError as exc:
            log.error("Moving message %s to '%s' failed: %s", in_flight.message.id, self.poison_queue, exc)
            return
        self._delete(in_flight)
