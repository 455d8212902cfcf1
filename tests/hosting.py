"""The tests' way to run a real local host: `fninfer.testing`, re-exported under the name the tests use."""

from fninfer.testing import RunningHost, free_port, run_host

__all__ = ["RunningHost", "free_port", "run_host"]
