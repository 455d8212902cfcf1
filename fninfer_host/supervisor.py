"""`fninfer start`: start storage if needed, run N host instances of the app, and stop everything on Ctrl-C.

The supervisor owns what it started: the Azurite process (unless given a connection string) and the instances.
Each instance is a separate process on the same storage and the same port, the local stand-in for scale-out. When an
instance dies after it was ready (a crash, or a function timeout that needs a fresh worker), the supervisor starts a
replacement, as the platform would; an instance that fails while starting ends `fninfer start` with its error.
"""

from __future__ import annotations

import codecs
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from fninfer_host.azurite import Azurite, AzuriteError, start_azurite
from fninfer_host.errors import HostError
from fninfer_host.indexing import SCRIPT_FILE_NAME
from fninfer_host.instance import READY_LINE, RESTART_EXIT_CODE
from fninfer_host.lifetime import die_with_parent
from fninfer_host.logs import utc_stamp
from fninfer_host.options import HostConfigError, load_host_options
from fninfer_host.settings import ADMIN_KEY, APP_HOSTNAME, CONFIG_ENV, STORAGE_CONNECTION, storage_connection
from fninfer_host.workspace_config import CONFIG_FILE_NAME, STATE_DIR_NAME, LocalWorkspaceConfig

INSTANCES_FILE_NAME = "instances.json"
ADMIN_KEY_FILE_NAME = "admin_key"
READY_TIMEOUT = 90.0


class StartError(Exception):
    """`fninfer start` cannot go on; the message is the one line the user sees."""


def read_local_settings(app_dir: Path) -> dict[str, str]:
    """`Values` of `<app_dir>/local.settings.json`, as Core Tools applies them."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StartError(f"{path} is not valid JSON: {exc}") from exc
    values = document.get("Values", {}) if isinstance(document, dict) else {}
    if not isinstance(values, dict):
        raise StartError(f"{path}: 'Values' must be an object")
    return {str(key): str(value) for key, value in values.items()}


def check_port_free(port: int) -> None:
    """Refuse a port something else listens on. The probe has no SO_REUSEPORT, so it fails even against another
    fninfer stack's instances and two stacks never share a port by accident. It has SO_REUSEADDR, so connections
    of a host stopped a moment ago (TIME_WAIT) do not block a restart on the same port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StartError(f"port {port} is already in use; choose another with --port") from exc


def check_storage(connection_string: str) -> None:
    try:
        client = BlobServiceClient.from_connection_string(
            connection_string, retry_total=0, connection_timeout=5, read_timeout=10
        )
        next(iter(client.list_containers(results_per_page=1)), None)
    except (AzureError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartError(f"storage does not answer: {first_line}") from exc


def admin_key(settings: dict[str, str], state_dir: Path) -> str:
    """The configured admin key, else one generated once and kept in `.fninfer/admin_key` across restarts."""
    if settings.get(ADMIN_KEY):
        return settings[ADMIN_KEY]
    path = state_dir / ADMIN_KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key


ALL_METHODS = "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"


def function_list(port: int, route_prefix: str) -> list[str]:
    """The function list Core Tools prints once the host runs, read from the host's own `/admin/functions`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/functions", timeout=10) as response:
        functions: list[dict[str, Any]] = json.load(response)
    lines = ["", "Functions:", ""]
    for function in functions:
        trigger = next(b for b in function["bindings"] if str(b.get("type", "")).endswith("Trigger"))
        if trigger["type"] == "httpTrigger":
            methods = ",".join(m.upper() for m in trigger.get("methods") or []) or ALL_METHODS
            prefix = f"/{route_prefix}" if route_prefix else ""
            route = str(trigger.get("route") or function["name"]).strip("/")
            lines.append(f"        {function['name']}: [{methods}] http://127.0.0.1:{port}{prefix}/{route}")
        else:
            lines.append(f"        {function['name']}: {trigger['type']}")
    return lines


@dataclass
class InstanceProcess:
    index: int
    process: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    output: list[str] = field(default_factory=list)


class Supervisor:
    def __init__(self, app_dir: Path, port: int, instances: int, storage: str | None, state_dir: Path) -> None:
        self.app_dir = app_dir
        self.port = port
        self.count = instances
        self.explicit_storage = storage
        self.state_dir = state_dir
        self.azurite: Azurite | None = None
        self.instances: list[InstanceProcess] = []
        self.stopping = threading.Event()
        self.print_lock = threading.Lock()

    # -- start-up ------------------------------------------------------------------------------------------------

    def prepare(self) -> dict[str, str]:
        """Validate the inputs and start storage; returns the instances' environment."""
        if self.count < 1:
            raise StartError("--instances must be at least 1")
        if not (self.app_dir / SCRIPT_FILE_NAME).is_file():
            raise StartError(f"{self.app_dir / SCRIPT_FILE_NAME} does not exist: --app-dir must be a Functions app")
        try:
            load_host_options(self.app_dir)
        except HostConfigError as exc:
            raise StartError(str(exc)) from exc
        check_port_free(self.port)
        settings = {**read_local_settings(self.app_dir), **os.environ}
        settings.pop(CONFIG_ENV, None)
        if self.explicit_storage:
            settings[STORAGE_CONNECTION] = self.explicit_storage
        try:
            connection = storage_connection(environ=settings)
        except HostError:
            connection = None
        if connection is None:
            try:
                self.azurite = start_azurite(self.app_dir, data_dir=self.state_dir / "azurite")
            except AzuriteError as exc:
                raise StartError(str(exc)) from exc
            settings[STORAGE_CONNECTION] = self.azurite.connection_string
            ports = f"blob :{self.azurite.blob_port}, queue :{self.azurite.queue_port}"
            self.log(f"Azurite started: {ports} (data in {self.state_dir / 'azurite'})")
        elif connection.connection_string is not None:
            settings[STORAGE_CONNECTION] = connection.connection_string
        if settings.get(STORAGE_CONNECTION):
            check_storage(settings[STORAGE_CONNECTION])
        settings[ADMIN_KEY] = admin_key(settings, self.state_dir)
        settings["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
        settings[APP_HOSTNAME] = f"127.0.0.1:{self.port}"  # as Core Tools does: code inside the app can call it
        settings["PYTHONUNBUFFERED"] = "1"
        return settings

    def spawn(self, index: int, environment: dict[str, str]) -> InstanceProcess:
        command = [sys.executable, "-m", "fninfer_host.instance", "--app-dir", str(self.app_dir)]
        command += ["--port", str(self.port), "--index", str(index)]
        process = subprocess.Popen(
            command,
            cwd=self.app_dir,
            env={**environment, "FNINFER_INSTANCE_INDEX": str(index)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            # Own session: Ctrl-C reaches the supervisor, which then stops instances in order. Dies with it.
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        instance = InstanceProcess(index, process)
        threading.Thread(target=self._forward, args=(instance,), daemon=True, name=f"output-{index}").start()
        return instance

    def _forward(self, instance: InstanceProcess) -> None:
        """Print the instance's output as it comes, whole lines at a time: what one read brings (a busy instance
        writes many lines at once) goes out in one write, so forwarding costs little per line."""
        assert instance.process.stdout is not None
        prefix = f"[i{instance.index}] " if self.count > 1 else ""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while chunk := os.read(instance.process.stdout.fileno(), 65536):
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            if not lines:
                continue
            instance.output.extend(lines[-50:])
            del instance.output[:-50]
            self.say("\n".join(prefix + line for line in lines))
            if any(READY_LINE in line for line in lines):
                instance.ready.set()
        if pending:
            instance.output.append(pending)
            self.say(prefix + pending)

    def say(self, line: str) -> None:
        with self.print_lock:
            print(line, flush=True)

    def log(self, message: str) -> None:
        """A supervisor event, stamped like the instances' log lines."""
        self.say(f"{utc_stamp(time.time())} {message}")

    def wait_ready(self, instance: InstanceProcess) -> None:
        """Wait until the instance serves; returns early when a stop was requested meanwhile."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not instance.ready.wait(0.05) and not self.stopping.is_set():
            if instance.process.poll() is not None:
                time.sleep(0.2)  # let the output thread take the last lines
                errors = [line for line in instance.output if line.startswith("Error:")]
                raise StartError(
                    errors[-1].removeprefix("Error: ")
                    if errors
                    else f"instance {instance.index} exited: " + " | ".join(instance.output[-5:])
                )
            if time.monotonic() > deadline:
                raise StartError(f"instance {instance.index} did not start within {READY_TIMEOUT:.0f} s")

    def write_state(self, environment: dict[str, str]) -> None:
        options = load_host_options(self.app_dir)
        LocalWorkspaceConfig(
            endpoint=f"http://127.0.0.1:{self.port}",
            route_prefix=options.route_prefix,
            admin_key=environment[ADMIN_KEY],
            storage=environment.get(STORAGE_CONNECTION),
        ).write(self.state_dir / CONFIG_FILE_NAME)
        self._write_instances()

    def _write_instances(self) -> None:
        document = {
            "supervisor_pid": os.getpid(),
            "instances": [{"index": i.index, "pid": i.process.pid} for i in self.instances],
        }
        temporary = self.state_dir / (INSTANCES_FILE_NAME + ".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        temporary.replace(self.state_dir / INSTANCES_FILE_NAME)

    # -- running and stopping ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, then watch the instances until a stop is requested. Ctrl-C while starting is a
        clean stop too: every step checks for it, since the signal handler only sets a flag."""
        try:
            environment = self.prepare()
            if self.stopping.is_set():
                return 0
            self.instances = [self.spawn(index, environment) for index in range(self.count)]
            for instance in self.instances:
                self.wait_ready(instance)
            if self.stopping.is_set():
                return 0
            self.write_state(environment)
            try:
                lines = function_list(self.port, load_host_options(self.app_dir).route_prefix)
            except (OSError, ValueError) as exc:
                raise StartError(f"the host does not answer on port {self.port}: {exc}") from exc
            for line in lines:
                self.say(line)
            prefix = load_host_options(self.app_dir).route_prefix
            studio = f"http://127.0.0.1:{self.port}{'/' + prefix if prefix else ''}/studio"
            if any(line.endswith(f" {studio}") for line in lines):  # fninfer's own app (not any app) has one
                config = self.state_dir / CONFIG_FILE_NAME
                self.say(f"\nStudio: {studio} (sign in with the admin key: admin_key in {config})")
            self.say(f"\nfninfer host running at http://127.0.0.1:{self.port} ({self.count} instance(s)); Ctrl-C stops")
            while not self.stopping.wait(0.5):
                self._replace_dead(environment)
            return 0
        finally:
            self.shutdown()

    def _replace_dead(self, environment: dict[str, str]) -> None:
        for position, instance in enumerate(self.instances):
            code = instance.process.poll()
            if code is None or self.stopping.is_set():
                continue
            reason = "after a function timeout" if code == RESTART_EXIT_CODE else f"with exit code {code}"
            self.log(f"Instance {instance.index} stopped {reason}; starting a replacement.")
            replacement = self.spawn(instance.index, environment)
            self.instances[position] = replacement
            try:
                self.wait_ready(replacement)
            except StartError as exc:
                raise StartError(f"instance {instance.index} could not be restarted: {exc}") from exc
            self._write_instances()

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def shutdown(self) -> None:
        self.stopping.set()
        for path in (self.state_dir / CONFIG_FILE_NAME, self.state_dir / INSTANCES_FILE_NAME):
            path.unlink(missing_ok=True)
        for instance in self.instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for instance in self.instances:
            try:
                instance.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()
        if self.azurite is not None:
            self.azurite.stop()
        self.log("Host stopped.")


def start(app_dir: Path, port: int, instances: int, storage: str | None) -> int:
    """Run the host in the foreground until Ctrl-C or SIGTERM. Raises StartError for a one-line failure."""
    state_dir = Path.cwd() / STATE_DIR_NAME
    supervisor = Supervisor(app_dir.resolve(), port, instances, storage, state_dir)
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    return supervisor.run()
