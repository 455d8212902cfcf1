"""The queue listener in process against a real Azurite: success, poison, decoding, renewal, back-off."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.storage.blob import AccountSasPermissions
from azure.storage.queue import QueueMessage

from fninfer_host.azurite import Azurite
from fninfer_host.options import QueueOptions
from fninfer_host.queues import Backoff, QueueListener
from fninfer_host.settings import azurite_connection_string
from fninfer_host.storage import HostStorage
from fninfer_host.storage_names import poison_queue
from shared.core.storage import Storage
from tests.hosting import eventually, free_port, sas_connection_string

FAST = QueueOptions(batch_size=4, new_batch_threshold=2, max_polling_interval=0.2, max_dequeue_count=3)


@pytest.fixture
def storage(azurite: Azurite) -> HostStorage:
    """The host's own storage access (what its listeners are given), on the session's Azurite."""
    return HostStorage.from_connection_string(azurite.connection_string)


class Listener(QueueListener):
    """The listener, counting its polls (an empty queue is no event; a number of polls is)."""

    polls = 0

    def receive(self) -> list[QueueMessage]:
        messages = super().receive()
        self.polls += 1
        return messages


def drain(listener: Listener, until: Callable[[], object], timeout: float = 30.0) -> None:
    """Run the listener on a thread of its own until `until()` holds and it has polled once more (anything a
    message would still do is then done), failing after `timeout` seconds."""
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,))
    thread.start()
    try:
        eventually(until, timeout)
        polled = listener.polls
        eventually(lambda: listener.polls > polled + 1, timeout)
    finally:
        stop.set()
        thread.join()


def encoded(body: bytes) -> str:
    return base64.b64encode(body).decode()


def test_a_message_runs_once_with_its_metadata_and_is_deleted(storage: HostStorage, unique: str) -> None:
    queue_name = f"ok-{unique}"
    storage.queue(queue_name).send_message(encoded(b"hello"))
    seen: list[func.QueueMessage] = []
    listener = Listener("q", storage, queue_name, seen.append, FAST, poison_queue(queue_name))
    drain(listener, lambda: seen)
    [message] = seen
    assert (message.get_body(), message.dequeue_count) == (b"hello", 1)
    assert message.id and message.pop_receipt and message.insertion_time and message.expiration_time
    assert list(storage.queue(queue_name).peek_messages()) == []


def test_a_failing_message_is_tried_max_dequeue_count_times_then_poisoned(storage: HostStorage, unique: str) -> None:
    queue_name = f"fail-{unique}"
    storage.queue(queue_name).send_message(encoded(b"boom"))
    attempts: list[int] = []

    def fail(message: func.QueueMessage) -> None:
        attempts.append(message.dequeue_count)
        raise RuntimeError("always fails")

    poison = storage.queue(f"{queue_name}-poison")
    drain(Listener("q", storage, queue_name, fail, FAST, poison_queue(queue_name)), poison.peek_messages)
    assert attempts == [1, 2, 3]  # visibilityTimeout 0: retried at once, exactly maxDequeueCount times
    poisoned = list(storage.queue(f"{queue_name}-poison").peek_messages())
    assert [m.content for m in poisoned] == [encoded(b"boom")]  # copied still encoded
    assert list(storage.queue(queue_name).peek_messages()) == []


def test_undecodable_and_over_counted_messages_go_to_poison_without_running(storage: HostStorage, unique: str) -> None:
    queue_name = f"bad-{unique}"
    queue = storage.queue(queue_name)
    # A message already delivered more than maxDequeueCount times (by hosts that died mid-run).
    queue.send_message(encoded(b"tired"))
    for _ in range(FAST.max_dequeue_count + 1):
        [message] = queue.receive_messages(visibility_timeout=30)
        queue.update_message(message, visibility_timeout=0)
    queue.send_message("not base64 !!")
    ran: list[func.QueueMessage] = []
    poison = storage.queue(f"{queue_name}-poison")
    listener = Listener("q", storage, queue_name, ran.append, FAST, poison_queue(queue_name))
    drain(listener, lambda: len(poison.peek_messages(max_messages=5)) == 2)
    assert ran == []
    poisoned = sorted(m.content for m in poison.peek_messages(max_messages=5))
    assert poisoned == sorted(["not base64 !!", encoded(b"tired")])


def test_a_missing_queue_is_polled_not_created(storage: HostStorage, unique: str) -> None:
    queue_name = f"absent-{unique}"
    listener = Listener("q", storage, queue_name, lambda message: None, FAST, None)
    drain(listener, lambda: listener.polls >= 3)
    assert queue_name not in [queue.name for queue in storage.queues.list_queues(name_starts_with=queue_name)]


def test_a_long_invocation_keeps_its_message_invisible(storage: HostStorage, unique: str) -> None:
    queue_name = f"long-{unique}"
    calls: list[tuple[str, float]] = []
    options = QueueOptions(batch_size=4, new_batch_threshold=2, max_polling_interval=0.2, max_dequeue_count=5)

    finished = threading.Event()

    def slow_handler(name: str) -> Callable[[func.QueueMessage], None]:
        def handle(message: func.QueueMessage) -> None:
            calls.append((name, time.monotonic()))
            time.sleep(7)  # the workload under test, not a wait: an invocation over two 3 s visibility windows long
            finished.set()

        return handle

    # Two consumers (as two host instances would be), each with a 3 s window renewed every second.
    listeners = [
        QueueListener(f"c{i}", storage, queue_name, slow_handler(f"c{i}"), options, None, visibility_window=3)
        for i in range(2)
    ]
    storage.queue(queue_name).send_message(base64.b64encode(b"work").decode())
    stop = threading.Event()
    threads = [threading.Thread(target=listener.run, args=(stop,)) for listener in listeners]
    for thread in threads:
        thread.start()
    assert finished.wait(60)
    # Deleted after success (the count includes invisible messages); until then a copy would have shown in `calls`.
    eventually(lambda: storage.queue(queue_name).get_queue_properties().approximate_message_count == 0)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1, calls  # without renewal the message would reappear after 3 s and run again


class PatientListener(Listener):
    """Waits 30 s after every empty poll unless a send cuts the wait short."""

    @staticmethod
    def _wait(stop: threading.Event, sent: threading.Event, delay: float) -> bool:
        return QueueListener._wait(stop, sent, 30.0)


def test_a_message_the_app_sends_cuts_the_backoff_short(azurite: Azurite, storage: HostStorage, unique: str) -> None:
    """The app's Storage.send raises the audit event the host's listeners watch (neither imports the other)."""
    queue_name = f"wake-{unique}"
    storage.queue(queue_name)
    seen: list[func.QueueMessage] = []
    listener = PatientListener("q", storage, queue_name, seen.append, FAST, None)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,))
    thread.start()
    try:
        eventually(lambda: listener.polls >= 1)  # the queue was empty: the listener now waits 30 s
        Storage.from_connection_string(azurite.connection_string).send(queue_name, encoded(b"wake up"))
        eventually(lambda: seen, timeout=15)  # long before the 30 s are out
    finally:
        stop.set()
        thread.join()
    assert [message.get_body() for message in seen] == [b"wake up"]


def test_backoff_grows_to_the_cap_and_resets() -> None:
    backoff = Backoff(maximum=2.0)
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays[0] == 0.1 and delays[-1] == 2.0 and delays == sorted(delays)
    backoff.reset()
    assert backoff.next_delay() == 0.1


# -- Get Messages as the listeners send it (fninfer_host/storage.py, MessageReceiver) -------------------------------


def test_a_received_message_carries_what_the_sdk_would_give(storage: HostStorage, unique: str) -> None:
    queue_name = f"recv-{unique}"
    text = '<run id="a&b"> ünïcode \' ]]>'
    storage.queue(queue_name).send_message(text)
    before = datetime.now(UTC) - timedelta(seconds=5)
    [message] = storage.receiver(queue_name).receive(count=4, visibility_timeout=30)
    assert (message.content, message.dequeue_count) == (text, 1)
    assert before <= message.inserted_on <= datetime.now(UTC) < message.expires_on
    assert message.next_visible_on >= before + timedelta(seconds=30)
    assert storage.receiver(queue_name).receive(count=4, visibility_timeout=30) == []  # invisible for 30 s
    storage.queue(queue_name).delete_message(message.id, message.pop_receipt)  # the pop receipt is the real one
    assert list(storage.queue(queue_name).peek_messages()) == []


def test_a_shared_access_signature_connection_string_receives_with_its_own_sas(
    azurite: Azurite, storage: HostStorage, unique: str
) -> None:
    def with_sas(permission: AccountSasPermissions) -> HostStorage:
        return HostStorage.from_connection_string(sas_connection_string(azurite, permission))

    queue_name = f"sas-{unique}"
    storage.queue(queue_name).send_message("hello")
    with pytest.raises(HttpResponseError, match="403"):
        with_sas(AccountSasPermissions(read=True, list=True)).receiver(queue_name).receive(1, 30)
    [message] = with_sas(AccountSasPermissions(process=True)).receiver(queue_name).receive(1, 30)
    assert message.content == "hello"


def test_a_missing_queue_or_unreachable_storage_raise_the_sdks_errors(storage: HostStorage, unique: str) -> None:
    with pytest.raises(ResourceNotFoundError, match="404 QueueNotFound"):
        storage.receiver(f"absent-{unique}").receive(1, 30)
    nowhere = HostStorage.from_connection_string(
        azurite_connection_string(blob_port=free_port(), queue_port=free_port())
    )
    with pytest.raises(ServiceRequestError, match="no answer"):
        nowhere.receiver(f"absent-{unique}").receive(1, 30)
