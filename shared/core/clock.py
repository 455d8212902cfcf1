"""The app's one clock. Every timestamp a record carries and every lease's or lane's expiry is read here, so a test
moves time forward (monkeypatching `time`) rather than sleeping through a lease; `now` and `stamp` follow it."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime


def time() -> float:
    """Seconds since the epoch: what leases and lanes count their expiries in."""
    return _time.time()


def now() -> datetime:
    return datetime.fromtimestamp(time(), UTC)


def stamp() -> str:
    """Now as a record writes it (ISO 8601, UTC)."""
    return now().isoformat()
