"""A singleton lock: a blob lease in `azure-webjobs-hosts`, held by one host instance at a time.

The real host keeps timer listeners and the blob scanner to one instance this way (notes §1 singleton, §4, §5). The
lock blob records the holder in its `FunctionInstance` metadata; a holder that dies simply stops renewing, and the
lease lapses after its period so another instance takes over.
"""

from __future__ import annotations

import contextlib
import logging

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobLeaseClient

from shared import layout
from shared.storage import Storage

log = logging.getLogger("fninfer.host")


class SingletonLease:
    def __init__(self, storage: Storage, lock_path: str, period: float, holder: str) -> None:
        # Azure Storage leases last 15-60 s.
        self.period = int(min(60, max(15, period)))
        self.holder = holder
        self.blob = storage.container(layout.HOSTS_CONTAINER).get_blob_client(lock_path)
        self._lease: BlobLeaseClient | None = None

    @property
    def held(self) -> bool:
        return self._lease is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False when another instance does (or storage is unreachable)."""
        try:
            with contextlib.suppress(ResourceExistsError):
                self.blob.upload_blob(b"", overwrite=False)
            lease = self.blob.acquire_lease(lease_duration=self.period)
            self.blob.set_blob_metadata({"FunctionInstance": self.holder}, lease=lease)
        except HttpResponseError as exc:
            if exc.status_code != 409:  # 409: another instance holds it
                log.warning("Singleton lock %s could not be taken: %s", self.blob.blob_name, exc.reason)
            return False
        except AzureError as exc:
            log.warning("Singleton lock %s could not be taken: %s", self.blob.blob_name, exc)
            return False
        self._lease = lease
        return True

    def renew(self) -> bool:
        """Keep the lock; False (and no longer held) when it was lost."""
        if self._lease is None:
            return False
        try:
            self._lease.renew()
            return True
        except AzureError as exc:
            log.warning("Singleton lock %s was lost: %s", self.blob.blob_name, exc)
            self._lease = None
            return False

    def release(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(AzureError):
                self._lease.release()
            self._lease = None
