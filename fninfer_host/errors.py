"""The local host's own error type. The app has its own tree (shared/core/errors.py); the
host never raises or catches it.

Functions' own failures are not errors of the host: the invoker reports them (invoker.InvocationFailed,
invoker.FunctionTimeout).
"""

from __future__ import annotations


class HostError(Exception):
    """Something the host itself needs failed: a setting is missing or wrong, or storage did not do what was asked.
    The message names what and where, for the host's log or the one line `fninfer start` prints."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
