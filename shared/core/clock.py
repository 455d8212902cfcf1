"""The app's one clock. Every timestamp a record carries, every lease's or lane's expiry and the watchdog's stall time
are read here, so a test moves time forward (monkeypatching `time` and `monotonic`) rather than sleeping through a
lease; `now` and `stamp` follow `time`."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime


def time() -> float:
    """Seconds since the epoch: what leases and lanes count their expiries in."""
    return _time.time()


def monotonic() -> float:
    """Seconds that never go back: how long something has waited in this process (the watchdog's stall time)."""
    return _time.monotonic()


def now() -> datetime:
    return datetime.fromtimestamp(time(), UTC)


def stamp() -> str:
    """Now as a record writes it (ISO 8601, UTC)."""
    return now().isoformat()
