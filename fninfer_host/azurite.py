"""Start and stop an Azurite (the npm package the project installs into `node_modules`).

Azurite is asked for port 0 on each service and reports the ports it got, so several stacks (a developer's
`fninfer start`, the test suite, `make demo`) run side by side without colliding.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fninfer_host.lifetime import die_with_parent
from fninfer_host.settings import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string

_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at https?://[^:]+:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite could not be found or did not start."""


def find_azurite(start: Path) -> Path:
    """`node_modules/.bin/azurite` in `start` or one of its parents (or on PATH)."""
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / ".bin" / "azurite"
        if candidate.exists():
            return candidate
    on_path = shutil.which("azurite")
    if on_path:
        return Path(on_path)
    raise AzuriteError(
        f"Azurite is not installed in {start} or its parents: run `npm ci` (or `make install`) in the project folder"
    )


@dataclass
class Azurite:
    """A running Azurite process and the ports its services listen on."""

    process: subprocess.Popen[str]
    blob_port: int
    queue_port: int
    output: list[str] = field(default_factory=list)
    #: The storage account `connection_string` names (see for_account).
    account: str = AZURITE_ACCOUNT

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.blob_port, self.queue_port, account=self.account)

    def for_account(self, account: str) -> Azurite:
        """The same Azurite, seen through another of the `accounts` it was started with: storage of its own
        (containers and queues belong to an account) without a process of its own."""
        return replace(self, account=account)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_azurite(
    project_dir: Path,
    data_dir: Path | None = None,
    timeout: float = 30.0,
    accounts: Sequence[str] = (),
) -> Azurite:
    """Start Azurite on free ports. `data_dir` keeps data across restarts; None keeps it in memory only. `accounts`
    are storage accounts besides the well-known one, with its key (Azure's rules for names: 3-24 lower-case
    letters and digits)."""
    if shutil.which("node") is None:
        raise AzuriteError("Node.js is not installed: fninfer's local storage (Azurite) needs `node` on PATH")
    binary = find_azurite(project_dir)
    args = [str(binary), "--blobPort", "0", "--queuePort", "0", "--tablePort", "0", "--skipApiVersionCheck"]
    # --silent: no access log, a line per request that Azurite writes and this process reads, for nothing
    args += ["--loose", "--disableTelemetry", "--silent"]
    if data_dir is None:
        args.append("--inMemoryPersistence")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(data_dir)]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        # Its own process group, so a Ctrl-C meant for the caller reaches Azurite only through stop().
        start_new_session=True,
        preexec_fn=die_with_parent(),  # and it stops when its starter dies, even by SIGKILL
        env={**os.environ, "AZURITE_SKIP_API_VERSION_CHECK": "true", **_accounts_setting(accounts)},
    )
    ports: dict[str, int] = {}
    output: list[str] = []
    ready = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            del output[:-200]
            match = _LISTENING.search(line)
            if match:
                ports[match.group(1)] = int(match.group(2))
                if "Blob" in ports and "Queue" in ports:
                    ready.set()
        ready.set()  # the process ended: wake the waiter so it can report why

    threading.Thread(target=read_output, name="azurite-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            raise AzuriteError(f"Azurite did not start within {timeout:.0f} s: " + " | ".join(output[-5:]))
    if "Blob" not in ports or "Queue" not in ports:
        process.kill()
        raise AzuriteError("Azurite exited during start-up: " + " | ".join(output[-5:]))
    return Azurite(process=process, blob_port=ports["Blob"], queue_port=ports["Queue"], output=output)


def _accounts_setting(accounts: Sequence[str]) -> dict[str, str]:
    """AZURITE_ACCOUNTS for `accounts`; the well-known account is listed too, since Azurite drops it when given
    others."""
    if not accounts:
        return {}
    return {"AZURITE_ACCOUNTS": ";".join(f"{name}:{AZURITE_KEY}" for name in (AZURITE_ACCOUNT, *accounts))}
