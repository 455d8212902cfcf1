"""A singleton lock: a blob lease in `azure-webjobs-hosts`, held by one host instance at a time.

The real host keeps timer listeners and the blob scanner to one instance this way (notes §1 singleton, §4, §5). Once
taken, the lease is renewed in the background every third of its period, as the host's singleton manager does, so a
long invocation or scan never lets it lapse while its holder is alive. A holder that dies stops renewing and the lease
lapses after its period, so another instance takes over. The lock blob records the holder in `FunctionInstance`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobLeaseClient

from fninfer_host import storage_names
from fninfer_host.storage import HostStorage

log = logging.getLogger("fninfer_host")

#: Storage answers these when another instance holds (or has taken over) the lease.
_CONFLICT = (409, 412)


class SingletonLease:
    def __init__(self, storage: HostStorage, lock_path: str, period: float, holder: str) -> None:
        # Azure Storage leases last 15-60 s.
        self.period = int(min(60, max(15, period)))
        self.holder = holder
        self.blob = storage.container(storage_names.HOSTS_CONTAINER).get_blob_client(lock_path)
        self._lease: BlobLeaseClient | None = None
        self._lock = threading.Lock()
        self._released = threading.Event()

    @property
    def held(self) -> bool:
        """True while this instance holds the lock; turns False by itself when renewal fails."""
        return self._lease is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False when another instance does (or storage is unreachable)."""
        if self.held:
            return True
        try:
            with contextlib.suppress(ResourceExistsError):
                self.blob.upload_blob(b"", overwrite=False)
            lease = self.blob.acquire_lease(lease_duration=self.period)
            self.blob.set_blob_metadata({"FunctionInstance": self.holder}, lease=lease)
        except HttpResponseError as exc:
            if exc.status_code not in _CONFLICT:
                log.warning("Singleton lock %s could not be taken: %s", self.blob.blob_name, exc.reason)
            return False
        except AzureError as exc:
            log.warning("Singleton lock %s could not be taken: %s", self.blob.blob_name, exc)
            return False
        released = threading.Event()
        with self._lock:
            self._lease, self._released = lease, released
        threading.Thread(target=self._keep, args=(lease, released), name="lease-renewal", daemon=True).start()
        return True

    def _keep(self, lease: BlobLeaseClient, released: threading.Event) -> None:
        """Renew until released; give the lock up on a conflict or once a whole period passed without renewal."""
        renewed_at = time.monotonic()
        interval = self.period / 3
        while not released.wait(interval):
            with self._lock:
                if released.is_set():
                    return
                try:
                    lease.renew()
                    renewed_at, interval = time.monotonic(), self.period / 3
                    continue
                except AzureError as exc:
                    conflict = isinstance(exc, HttpResponseError) and exc.status_code in _CONFLICT
                    if conflict or time.monotonic() - renewed_at >= self.period:
                        log.warning("Singleton lock %s was lost: %s", self.blob.blob_name, exc)
                        self._lease = None
                        return
                    interval = 1.0  # a transient error: retry soon, while the lease is still ours

    def release(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
            self._released.set()
        if lease is not None:
            with contextlib.suppress(AzureError):
                lease.release()
