"""A small progress bar on stderr for uploads and downloads."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled and total > 0
        self._last = 0.0
        self._finished = False  # the full bar (and its newline) is printed once, however often it is asked for

    def update(self, current: int, force: bool = False) -> None:
        self.done = current
        now = time.monotonic()
        if not self.enabled or self._finished or (not force and now - self._last < 0.2 and current < self.total):
            return
        self._last = now
        width = 30
        filled = int(width * min(current, self.total) / self.total)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {current / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        )
        if current >= self.total:
            self._finished = True
            sys.stderr.write("\n")
        sys.stderr.flush()
