"""Run a real local host (`fninfer start`) in the background, the way a user does: for tests and CI.

    from fninfer_host.testing import run_host

    with run_host(app_dir=Path("."), workdir=tmp_path) as host:
        ws = Workspace.from_config(host.config_path)
        ...

Without `storage` the host starts its own Azurite from the project's node_modules.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fninfer_host.workspace_config import CONFIG_FILE_NAME, STATE_DIR_NAME, LocalWorkspaceConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: httpx builds one per client otherwise, loading the whole CA bundle."""
    return httpx.create_ssl_context()


@dataclass
class RunningHost:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log_path: Path

    @property
    def config_path(self) -> Path:
        return self.workdir / STATE_DIR_NAME / CONFIG_FILE_NAME

    @property
    def config(self) -> LocalWorkspaceConfig:
        return LocalWorkspaceConfig.read(self.config_path)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, verify=_tls_context(), **kwargs)  # type: ignore[arg-type]

    def wait_for_log(self, text: str, timeout: float = 30.0, count: int = 1) -> str:
        """Wait until `text` appears `count` times in the host's console output; returns the output."""
        deadline = time.monotonic() + timeout
        while True:
            output = self.logs()
            if output.count(text) >= count:
                return output
            if time.monotonic() > deadline:
                tail = output[-4000:]
                raise AssertionError(f"{text!r} did not appear {count}x within {timeout} s; host output:\n{tail}")
            time.sleep(0.1)


@contextmanager
def run_host(
    app_dir: Path,
    workdir: Path,
    storage: str | None = None,
    instances: int = 1,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 90.0,
) -> Iterator[RunningHost]:
    """Start `fninfer start` for `app_dir` from `workdir` and wait until it has written its config.json."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "host.log"
    command = [sys.executable, "-m", "fninfer_cli", "start", "--app-dir", str(app_dir), "--port", str(port)]
    command += ["--instances", str(instances)]
    if storage:
        command += ["--storage", storage]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    host = RunningHost(process=process, port=port, workdir=workdir, log_path=log_path)
    try:
        deadline = time.monotonic() + ready_timeout
        while not host.config_path.exists():
            if process.poll() is not None:
                raise AssertionError(f"fninfer start exited with {process.returncode}:\n{host.logs()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"fninfer start was not ready within {ready_timeout} s:\n{host.logs()[-4000:]}")
            time.sleep(0.1)
        yield host
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
