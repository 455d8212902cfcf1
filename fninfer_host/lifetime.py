"""Children of `fninfer start` die with it, however it dies.

Instances and Azurite run in their own sessions (so a Ctrl-C reaches only the supervisor, which stops them in
order), which also means nothing stops them when the supervisor is killed with SIGKILL or a CI runner's timeout.
Two guards close that gap:
- on Linux the kernel sends each child SIGTERM when the supervisor dies (`PR_SET_PDEATHSIG`, set between fork and
  exec), so Azurite and the instances stop as on Ctrl-C, instances releasing their singleton leases;
- each instance also watches its parent pid itself (any POSIX system): once orphaned it stops, and if a stop takes
  longer than `ORPHAN_GRACE` seconds (a function that does not return), it exits anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
#: How often an instance checks that its supervisor still lives, and how long an orphan may take to stop.
PARENT_POLL_INTERVAL = 0.5
ORPHAN_GRACE = 5.0


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc.prctl  # type: ignore[no-any-return]


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: the child gets SIGTERM when the process starting it dies (Linux;
    None elsewhere). Popen must be called from a thread that lives as long as the process, such as the main
    thread: the kernel ties the signal to the thread that forked."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:  # runs in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the guard was armed
            os._exit(1)

    return arm


def watch_parent(stop: Callable[[], None], poll: float = PARENT_POLL_INTERVAL, grace: float = ORPHAN_GRACE) -> None:
    """Call `stop` once this process's parent is gone, then exit hard if still running `grace` seconds later."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        stop()
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
