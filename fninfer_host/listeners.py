"""Every non-HTTP trigger of an app as a listener the instance runs on its own thread.

A listener has a `name` and `run(stop)`, which blocks until `stop` is set and survives storage errors.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from fninfer_host import storage_names
from fninfer_host.blobs import BlobScanner, blob_executor
from fninfer_host.indexing import IndexedFunction
from fninfer_host.invoker import Invoker
from fninfer_host.options import HostOptions, resolve_app_settings
from fninfer_host.queues import QueueListener
from fninfer_host.settings import STORAGE_CONNECTION, storage_connection
from fninfer_host.storage import HostStorage
from fninfer_host.timers import TimerListener


class Listener(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


def build_listeners(
    functions: list[IndexedFunction], host_id: str, options: HostOptions, invoker: Invoker
) -> list[Listener]:
    accounts: dict[str, HostStorage] = {}

    def storage_for(function: IndexedFunction) -> HostStorage:
        name = str(function.trigger.get("connection") or STORAGE_CONNECTION)
        if name not in accounts:
            accounts[name] = HostStorage.from_connection(storage_connection(name))
        return accounts[name]

    holder = f"{host_id}/{os.getpid()}"
    listeners: list[Listener] = []
    blob_functions: dict[str, list[IndexedFunction]] = {}
    for function in functions:
        if function.trigger_type == "queueTrigger":
            queue_name = resolve_app_settings(str(function.trigger["queueName"]))

            def invoke(message: object, target: IndexedFunction = function, queue: str = queue_name) -> None:
                details = (
                    f"MessageId: {getattr(message, 'id', '')}, DequeueCount: {getattr(message, 'dequeue_count', '')}"
                )
                invoker.invoke(target, message, f"New queue message detected on '{queue}'.", details)

            listeners.append(
                QueueListener(
                    f"queue-{function.name}",
                    storage_for(function),
                    queue_name,
                    invoke,
                    options.queues,
                    poison_queue=storage_names.poison_queue(queue_name),
                )
            )
        elif function.trigger_type == "timerTrigger":
            listeners.append(
                TimerListener(
                    function,
                    storage_for(function),
                    host_id,
                    invoker,
                    lock_period=options.listener_lock_period,
                    recovery_interval=options.listener_lock_recovery_polling_interval,
                    holder=holder,
                )
            )
        elif function.trigger_type == "blobTrigger":
            blob_functions.setdefault(str(function.trigger.get("connection") or STORAGE_CONNECTION), []).append(
                function
            )
    for group in blob_functions.values():
        storage = storage_for(group[0])
        listeners.append(
            BlobScanner(
                group,
                storage,
                host_id,
                scan_interval=options.blob_scan_interval,
                lock_period=options.listener_lock_period,
                recovery_interval=options.listener_lock_recovery_polling_interval,
                holder=holder,
            )
        )
        listeners.append(blob_executor(group, storage, host_id, options, invoker))
    return listeners
