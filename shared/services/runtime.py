"""Running a service's entry script inside a host instance: load once per code version, then score.

Calls go to the service's serving version (see records.py). Each (service, code version) is imported as its own
module, so two services can both have a `score.py`, and `init()` runs once per instance per version, under a lock,
before the first `run()`. `run(raw_data)` runs on a worker thread bounded by the service's scoring timeout.

The response body, per the deployment setting `response_encoding` (numpy values are converted either way):
- "json-string" (the default): a JSON string holding the JSON of what run returned, so the seeds' clients work as
  written with the seeds' entry script (`json.loads(service.run(...))`, `json.loads(response.json())`).
- "json": what Azure ML's inference server documents: the JSON of what run returned (a list stays a list).
A run that returns a str gives the same body in both: that string, JSON-encoded. The two differ only for other
values, where Azure ML's own clients of a list-returning script call `response.json()` without `json.loads`.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from shared.errors import FninferError, InvalidInput, NotFound, PayloadTooLarge
from shared.models import deployed_models
from shared.services.auth import authenticate
from shared.services.environment import check_environment
from shared.services.imports import snapshot_imports
from shared.services.logs import ServiceLogs
from shared.services.records import ServiceState, get_service, mark_healthy, set_state
from shared.services.snapshots import materialize
from shared.storage import Storage

log = logging.getLogger("fninfer.app")

RECORD_CACHE_SECONDS = 1.0
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_MAX_BODY = 100 * 1024 * 1024


class ScoringTimeout(FninferError):
    """run() did not return within the service's scoring timeout."""

    status = 504
    code = "scoring_timeout"


class ScoringFailed(FninferError):
    """run() raised; the traceback is in the service's logs under the error id."""

    status = 500
    code = "scoring_failed"


class ServiceUnavailable(FninferError):
    """The service is not Healthy (still deploying, or failed)."""

    status = 503
    code = "service_unavailable"


@dataclass
class LoadedService:
    module: ModuleType
    code_version: int
    models: tuple[str, ...] = ()  # the model ids deployed with this version, what get_model_path(name) resolves to


@dataclass
class Runtime:
    """Per-process state: loaded entry scripts, cached records, the scoring pool and the log collector."""

    storage: Storage
    logs: ServiceLogs = field(init=False)
    _loaded: dict[tuple[str, int], LoadedService] = field(default_factory=dict)
    _loading: dict[tuple[str, int], threading.Lock] = field(default_factory=dict)
    _records: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _serving: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(thread_name_prefix="scoring")
    )

    def __post_init__(self) -> None:
        self.logs = ServiceLogs(self.storage)
        self.logs.install()

    # -- loading ----------------------------------------------------------------------------------------------

    def load(self, record: dict[str, Any]) -> LoadedService:
        """The service's entry script at its current code version, imported and initialized (once)."""
        key = (record["name"], record["code_version"])
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            if key in self._loaded:
                return self._loaded[key]
            folder = materialize(self.storage, record["snapshot"])
            script = folder / record["entry_script"]
            module_name = "fninfer_service_{}_{}".format(re.sub(r"\W", "_", record["name"]), record["code_version"])
            spec = importlib.util.spec_from_file_location(module_name, script)
            if spec is None or spec.loader is None:
                raise InvalidInput(f"entry script {record['entry_script']!r} cannot be imported")
            module = importlib.util.module_from_spec(spec)
            models = tuple(record.get("models") or ())
            with self.logs.capture(record["name"]), snapshot_imports(folder), deployed_models(models):
                spec.loader.exec_module(module)
                for required in ("init", "run"):
                    if not callable(getattr(module, required, None)):
                        raise InvalidInput(f"entry script {record['entry_script']!r} has no {required}() function")
                module.init()
            loaded = LoadedService(module, record["code_version"], models)
            self._loaded[key] = loaded
            return loaded

    def deploy(self, name: str, code_version: int) -> None:
        """The deployment health check: environment problems or an init() that raises fail the deployment."""
        try:
            record = get_service(self.storage, name)
        except NotFound:
            return  # deleted while its deployment waited in the queue
        if record["code_version"] != code_version:
            return  # superseded by a newer update or reload
        report = check_environment(record["requirements"], record["deployment"].get("environment_check"))
        for line in report.log_lines():  # the deployment log: what the environment asked that the app lacks
            self.logs.add(name, line)
        if report.problems:
            self.logs.flush()
            set_state(self.storage, name, ServiceState.FAILED, "; ".join(report.problems), code_version)
            return
        try:
            self.load(record)
        except Exception as exc:
            with self.logs.capture(name):
                log.exception("init() of service %r failed", name)
            self.logs.flush()
            set_state(
                self.storage, name, ServiceState.FAILED, f"init() failed: {type(exc).__name__}: {exc}", code_version
            )
            return
        self.logs.flush()
        mark_healthy(self.storage, name, code_version)
        self._records.pop(name, None)  # this instance serves the new version at once; others within a second

    # -- scoring ----------------------------------------------------------------------------------------------

    def record(self, name: str) -> dict[str, Any]:
        """The service record, re-read at most once a second (key changes and reloads apply within a second)."""
        cached = self._records.get(name)
        if cached is not None and time.monotonic() - cached[0] < RECORD_CACHE_SECONDS:
            return cached[1]
        try:
            record = get_service(self.storage, name)
        except NotFound as exc:
            # Scoring is open to anyone: unlike the admin API, do not name the services that exist.
            raise NotFound(f"service {name!r} does not exist", service=name) from exc
        self._records[name] = (time.monotonic(), record)
        return record

    def score(self, name: str, authorization: str | None, content_type: str, body: bytes) -> str:
        record = self.record(name)
        authenticate(record, authorization)
        if not record.get("serving"):
            reason = f": {record['error']}" if record.get("error") else ""
            raise ServiceUnavailable(f"service {name!r} is {record['state']}{reason}")
        limit = int(record["deployment"].get("max_request_bytes") or DEFAULT_MAX_BODY)
        if len(body) > limit:
            raise PayloadTooLarge(f"the request body has {len(body)} bytes; this service accepts {limit}")
        try:
            raw_data = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the request body is not UTF-8 text: {exc}") from exc
        if "json" in content_type.lower() or not content_type:
            try:
                json.loads(raw_data)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"the request body is not valid JSON: {exc}") from exc
        loaded = self._load_for_scoring(record)
        timeout = int(record["deployment"].get("scoring_timeout_ms") or DEFAULT_TIMEOUT_MS) / 1000
        encoding = record["deployment"].get("response_encoding", "json-string")
        future = self._pool.submit(self._run, name, loaded, raw_data, encoding)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            raise ScoringTimeout(f"run() of service {name!r} did not finish within {timeout:g} s") from exc

    def _load_for_scoring(self, record: dict[str, Any]) -> LoadedService:
        """Load the serving version on this instance; an init() that fails here although the deployment passed
        makes the service Unhealthy (and a later success makes it Healthy again): the state is what the instances
        see. Only the latest version's outcome is recorded: a newer one in transition keeps its own state."""
        name, version = record["name"], record["serving"]["code_version"]
        try:
            loaded = self.load({"name": name, **record["serving"]})
        except Exception as exc:
            with self.logs.capture(name):
                log.exception("init() of service %r failed on instance %s", name, self.logs.instance)
            reason = f"init() failed on instance {self.logs.instance}: {type(exc).__name__}: {exc}"
            set_state(self.storage, name, ServiceState.UNHEALTHY, reason, version)
            self._records.pop(name, None)
            raise ServiceUnavailable(f"service {name!r} is Unhealthy: {reason}") from exc
        if record["state"] == ServiceState.UNHEALTHY:
            set_state(self.storage, name, ServiceState.HEALTHY, None, version)
            self._records.pop(name, None)
        if self._serving.get(name) != version:
            self._serving[name] = version
            for key in list(self._loaded):
                if key[0] == name and key[1] < version:
                    self._loaded.pop(key, None)  # calls have moved on to `version`: free the older modules
        return loaded

    def _run(self, name: str, loaded: LoadedService, raw_data: str, encoding: str) -> str:
        """run() and the encoding of its result: a result that cannot be encoded fails like run() raising."""
        with self.logs.capture(name), deployed_models(loaded.models):
            try:
                return encode_result(loaded.module.run(raw_data), encoding)
            except Exception as exc:
                error_id = uuid.uuid4().hex
                log.exception("run() failed (error id %s)", error_id)
                raise ScoringFailed(
                    f"run() of service {name!r} raised an exception; see service.get_logs() for error id {error_id}",
                    error_id=error_id,
                ) from exc


def _to_json(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"run() returned a {type(value).__name__}, which is not JSON serializable")


def encode_result(result: Any, encoding: str = "json-string") -> str:
    """The response body for run()'s result, per the service's `response_encoding` (see the module docstring)."""
    if isinstance(result, str) or encoding == "json":
        return json.dumps(result, default=_to_json)
    return json.dumps(json.dumps(result, default=_to_json))
