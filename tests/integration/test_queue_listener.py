"""The queue listener in process against a real Azurite: renewal keeps a long message from a second consumer."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

import azure.functions as func

from fninfer.host.options import QueueOptions
from fninfer.host.queues import Backoff, QueueListener
from shared.storage import Storage


def test_a_long_invocation_keeps_its_message_invisible(storage: Storage, unique: str) -> None:
    queue_name = f"long-{unique}"
    calls: list[tuple[str, float]] = []
    options = QueueOptions(batch_size=4, new_batch_threshold=2, max_polling_interval=0.2, max_dequeue_count=5)

    def slow_handler(name: str) -> Callable[[func.QueueMessage], None]:
        def handle(message: func.QueueMessage) -> None:
            calls.append((name, time.monotonic()))
            time.sleep(6)  # three times the 2 s visibility window

        return handle

    # Two consumers (as two host instances would be), each with a 2 s window renewed every second.
    listeners = [
        QueueListener(f"c{i}", storage, queue_name, slow_handler(f"c{i}"), options, None, visibility_window=2)
        for i in range(2)
    ]
    storage.queue(queue_name).send_message(base64.b64encode(b"work").decode())
    stop = threading.Event()
    threads = [threading.Thread(target=listener.run, args=(stop,)) for listener in listeners]
    for thread in threads:
        thread.start()
    time.sleep(9)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1, calls  # without renewal the message would reappear after 2 s and run again
    assert list(storage.queue(queue_name).peek_messages()) == []  # deleted after success


def test_backoff_grows_to_the_cap_and_resets() -> None:
    backoff = Backoff(maximum=2.0)
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays[0] == 0.1 and delays[-1] == 2.0 and delays == sorted(delays)
    backoff.reset()
    assert backoff.next_delay() == 0.1
