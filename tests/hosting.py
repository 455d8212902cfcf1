"""Test helpers: the real local host (`fninfer_host.testing`, re-exported under the names the tests use), polling,
calls made at the same moment, and connection strings that authorize with a SAS."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

from fninfer_host.azurite import Azurite
from fninfer_host.settings import AZURITE_ACCOUNT, AZURITE_KEY
from fninfer_host.testing import RunningHost, free_port, run_host

__all__ = ["RunningHost", "at_once", "eventually", "free_port", "run_host", "sas_connection_string"]


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


def sas_connection_string(azurite: Azurite, permission: AccountSasPermissions) -> str:
    """`azurite`'s connection string with an account SAS (blobs and queues, an hour) allowing `permission` in place
    of its key: `BlobEndpoint=...;QueueEndpoint=...;SharedAccessSignature=...`."""
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(service=True, container=True, object=True),
        permission,
        expiry=datetime.now(UTC) + timedelta(hours=1),
        services="bq",
    )
    endpoints = azurite.connection_string.split("AccountKey=")[1].split(";", 1)[1]
    return f"{endpoints}SharedAccessSignature={sas}"
