"""Running a service's entry script inside a host instance: load once per code version, then score.

Calls go to the service's serving version (see service_records.py). Each (service, code version) is imported as its own
module, so two services can both have a `score.py`, and `init()` runs once per instance per version, before the first
`run()`. How run() is called and what the answer is follow Azure ML's scoring server (calling.py); the Swagger
document is generated once per version (swagger.py).

Isolation: every service version has its own slots and threads (gate.py), so a slow or stuck service answers 503
itself while the others keep theirs; waiting for a slot or for run() holds no thread (the scoring endpoint is async).
Blocking work (reading a record, loading a version) runs on threads of its own, once however many calls wait for it.
Whatever the entry script raises, `SystemExit` and `KeyboardInterrupt` included, is contained: a deployment whose
`init()` raises ends Failed, a `run()` that raises is a 500 with a log line naming the request's id.

Per call, the hot path is: the cached record (re-read at most once a second), the credential check (a key once per
read of the record, a token every call), the input as run() takes it, a slot, run() and the encoding of its result
on the service's thread: one hop from the event loop to a thread of the service's and one back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from shared.core.errors import (
    FninferError,
    InvalidInput,
    KeyRegenerated,
    NotFound,
    PayloadTooLarge,
    ServiceBusy,
    ServiceUnavailable,
)
from shared.core.ids import random_uuid
from shared.core.settings import RESPONSE_ENCODING_SETTING, get_setting
from shared.core.storage import Storage
from shared.core.user_scripts import load_script
from shared.registry.installed_packages import check_environment
from shared.registry.model_cache import deployed_models
from shared.registry.snapshots import materialize
from shared.services import swagger
from shared.services.auth import authenticate
from shared.services.calling import (
    AZURE_ML,
    INTERNAL_ERROR,
    RESPONSE_ENCODINGS,
    RUN_FAILED,
    Reply,
    RunSignature,
    ScoringRequest,
    message_reply,
    options_reply,
    reply_for,
    unencodable_hint,
)
from shared.services.gate import Gate
from shared.services.metrics import CallMetrics
from shared.services.service_logs import ServiceLogs
from shared.services.service_records import (
    ServedVersion,
    ServiceRecord,
    ServiceState,
    get_service,
    list_services,
    transition,
)

log = logging.getLogger("fninfer.app")
T = TypeVar("T")

#: How long an instance keeps a service record before reading it again: how soon settings, reloads and a revoked
#: key reach every instance (a key the record does not know makes the instance read it at once: a new key works
#: everywhere at once).
RECORD_CACHE_SECONDS = 1.0
#: Keys found revoked in a fresh record, remembered until the next read (an old key makes no extra read), and keys
#: found valid, checked once per read of the record rather than once per call (tokens, which expire, every call).
MAX_REVOKED = MAX_ACCEPTED = 256
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_MAX_BODY = 100 * 1024 * 1024
#: (replica_max_concurrent_requests, max_request_wait_time ms) per compute type when the deployment does not say.
#: AKS: Azure ML's own defaults. ACI and Local serve one request at a time per container in Azure ML, queued without
#: a bound; fninfer lets several run at once on an instance and bounds the wait.
CONCURRENCY_DEFAULTS = {"AKS": (1, 500), "ACI": (8, 10_000), "Local": (8, 10_000)}


@dataclass(frozen=True)
class Plan:
    """A service record and what calls need of it, worked out once per read of the record."""

    record: ServiceRecord
    read_at: float
    encoding: str
    timeout: float
    bound: int
    wait: float
    max_body: int
    revoked: set[str] = field(default_factory=set, compare=False)
    accepted: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def of(cls, record: ServiceRecord, read_at: float) -> Plan:
        deployment = record["deployment"]
        bound, wait_ms = CONCURRENCY_DEFAULTS.get(deployment.get("compute_type", "ACI"), CONCURRENCY_DEFAULTS["ACI"])
        return cls(
            record=record,
            read_at=read_at,
            encoding=response_encoding(deployment),
            timeout=int(deployment.get("scoring_timeout_ms") or DEFAULT_TIMEOUT_MS) / 1000,
            bound=int(deployment.get("replica_max_concurrent_requests") or bound),
            wait=int(deployment.get("max_request_wait_time") or wait_ms) / 1000,
            max_body=int(deployment.get("max_request_bytes") or DEFAULT_MAX_BODY),
        )


def response_encoding(deployment: dict[str, Any]) -> str:
    """The deployment's `response_encoding`, else the app setting, else Azure ML's body."""
    chosen = deployment.get("response_encoding") or get_setting(RESPONSE_ENCODING_SETTING) or AZURE_ML
    if chosen not in RESPONSE_ENCODINGS:
        raise InvalidInput(f"{RESPONSE_ENCODING_SETTING} must be one of {RESPONSE_ENCODINGS}, not {chosen!r}")
    return chosen


@dataclass
class LoadedService:
    """One code version of a service on this instance: its module, how run() is called, its Swagger documents and
    its gate (remade when the service's bound changes)."""

    name: str
    module: ModuleType
    code_version: int
    signature: RunSignature
    swagger: dict[str, Any]
    models: tuple[str, ...] = ()  # the model ids deployed with this version, what get_model_path(name) resolves to
    gate: Gate | None = None

    def gate_for(self, bound: int) -> Gate:
        gate = self.gate
        if gate is None or gate.bound != bound:
            if gate is not None:
                gate.close()  # calls already in it finish there
            gate = self.gate = Gate(f"{self.name}-{self.code_version}", bound)
        return gate


@dataclass
class Runtime:
    """Per-process state: loaded entry scripts, cached records, the log collector and the call metrics."""

    storage: Storage
    #: Monotonic seconds: when a cached record is due to be read again (tests pass a clock they move).
    clock: Callable[[], float] = time.monotonic
    logs: ServiceLogs = field(init=False)
    calls: CallMetrics = field(init=False)
    _loaded: dict[tuple[str, int], LoadedService] = field(default_factory=dict)
    _loading: dict[tuple[str, int], threading.Lock] = field(default_factory=dict)
    _attempts: dict[tuple[str, int], itertools.count[int]] = field(default_factory=dict)
    _plans: dict[str, Plan] = field(default_factory=dict)
    #: Bumped each time a service's cached plan is dropped: a read that began before cannot cache what it read.
    _plan_drops: dict[str, int] = field(default_factory=dict)
    _serving: dict[str, int] = field(default_factory=dict)
    _inflight: dict[Any, concurrent.futures.Future[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.logs = ServiceLogs(self.storage)
        self.logs.install()
        self.calls = CallMetrics(self.storage, self.logs.instance)
        self.calls.install()

    # -- loading ----------------------------------------------------------------------------------------------

    def load(self, name: str, version: ServedVersion) -> LoadedService:
        """Service `name`'s entry script at code version `version` (its record's latest, or the one it serves),
        imported and initialized (once); raises EntryScriptFailed (whatever the script raised) or another
        FninferError (the snapshot, a model, run()'s signature)."""
        key = (name, version["code_version"])
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            lock = self._loading.setdefault(key, threading.Lock())
            attempt = next(self._attempts.setdefault(key, itertools.count()))
        with lock:
            if key in self._loaded:
                return self._loaded[key]
            folder = materialize(self.storage, version["snapshot"])
            models = tuple(version.get("models") or ())
            # A retry (after a failed init()) is a module of its own: inference-schema refuses a run() defined twice.
            module_name = "fninfer_service_{}_{}{}".format(
                re.sub(r"\W", "_", name), version["code_version"], f"_retry{attempt}" if attempt else ""
            )
            with deployed_models(models, self.storage):
                module = load_script(
                    folder, version["entry_script"], module_name, self.logs.sink(name), ("init", "run")
                )
            with self.logs.capture(name):
                signature = RunSignature.of(module.run)
                documents = swagger.swagger_documents(module.run, folder, name, f"/api/services/{name}")
            loaded = LoadedService(name, module, version["code_version"], signature, documents, models)
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
            transition(self.storage, name, ServiceState.FAILED, "; ".join(report.problems), code_version)
            return
        try:
            self.load(name, record)
        except FninferError as exc:
            self.logs.flush()
            transition(self.storage, name, ServiceState.FAILED, str(exc), code_version)
            return
        self.logs.flush()
        # This instance serves the new version at once (others within a second): from here on a call reads the
        # record again, and once it says Healthy no call of this instance keeps a copy read before.
        self._drop_plan(name)
        transition(self.storage, name, ServiceState.HEALTHY, None, code_version)
        self._drop_plan(name)

    # -- shared blocking work ---------------------------------------------------------------------------------

    async def _once(self, key: Any, work: Callable[[], T]) -> T:
        """`work()` on a thread of its own, once for every caller that asks for `key` while it runs (the event loop
        never blocks on storage or on an init(), and a stuck init() holds only its own thread)."""
        with self._lock:
            future = self._inflight.get(key)
            if future is None:
                future = self._inflight[key] = concurrent.futures.Future()
                threading.Thread(target=self._complete, args=(key, future, work), daemon=True).start()
        return await asyncio.wrap_future(future)  # type: ignore[no-any-return]

    def _complete(self, key: Any, future: concurrent.futures.Future[Any], work: Callable[[], Any]) -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # work() contains user code's exceptions; this is ours to pass on
            result, error = None, exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
        # Forgotten before it is answered: a caller that asks again once answered gets fresh work, not this
        # finished future (a key regenerated just after a read must make a new read).
        with self._lock:
            self._inflight.pop(key, None)
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def read_plan(self, name: str) -> Plan:
        drops = self._plan_drops.get(name, 0)
        try:
            record = get_service(self.storage, name)
        except NotFound as exc:
            # Scoring is open to anyone: unlike the admin API, do not name the services that exist.
            raise NotFound(f"service {name!r} does not exist", service=name) from exc
        plan = Plan.of(record, self.clock())
        with self._lock:
            if self._plan_drops.get(name, 0) == drops:  # else the record read may predate the change that dropped it
                self._plans[name] = plan
        return plan

    def _drop_plan(self, name: str) -> None:
        """Forget the cached record after this instance changed it: the next call reads it again, and a read that
        was under way (which may have read the record before the change) does not cache it."""
        with self._lock:
            self._plan_drops[name] = self._plan_drops.get(name, 0) + 1
            self._plans.pop(name, None)

    async def _plan(self, name: str) -> Plan:
        plan = self._plans.get(name)
        if plan is not None and self.clock() - plan.read_at < RECORD_CACHE_SECONDS:
            return plan
        return await self._once(("plan", name), lambda: self.read_plan(name))

    async def _authenticated(self, name: str, authorization: str | None) -> Plan:
        """The plan after checking the caller's credential; a key the cached record does not know makes this
        instance read the record again at once (a key regenerated on another instance works everywhere at once).
        A key found valid is not checked again until the record is read again."""
        plan = await self._plan(name)
        if authorization in plan.accepted:
            return plan
        try:
            _accept(plan, authorization)
        except KeyRegenerated:
            if authorization in plan.revoked:
                raise
            plan = await self._once(("plan", name), lambda: self.read_plan(name))
            try:
                _accept(plan, authorization)
            except KeyRegenerated:
                if authorization is not None and len(plan.revoked) < MAX_REVOKED:
                    plan.revoked.add(authorization)  # an old key: refused from this record without reading again
                raise
        return plan

    async def _served(self, plan: Plan) -> LoadedService:
        record, serving = plan.record, plan.record.get("serving")
        if not serving:
            reason = f": {record['error']}" if record.get("error") else ""
            raise ServiceUnavailable(f"service {record['name']!r} is {record['state']}{reason}")
        name, version = record["name"], serving["code_version"]
        loaded = self._loaded.get((name, version))
        if loaded is None or record["state"] == ServiceState.UNHEALTHY:
            loaded = await self._once(("load", name, version), lambda: self._load_for_scoring(record))
        if self._serving.get(name) != version:
            self._serving[name] = version
            for key in list(self._loaded):
                if key[0] == name and key[1] < version:
                    older = self._loaded.pop(key, None)  # calls have moved on to `version`: free the older modules
                    if older is not None and older.gate is not None:
                        older.gate.close()
        return loaded

    def _load_for_scoring(self, record: ServiceRecord) -> LoadedService:
        """Load the serving version on this instance; an init() that fails here although the deployment passed
        makes the service Unhealthy (and a later success makes it Healthy again): the state is what the instances
        see. Only the latest version's outcome is recorded: a newer one in transition keeps its own state."""
        name, serving = record["name"], record["serving"]
        if serving is None:
            raise ServiceUnavailable(f"service {name!r} has no version that passed its health check")
        version = serving["code_version"]
        try:
            loaded = self.load(name, serving)
        except FninferError as exc:
            reason = f"{exc} (on instance {self.logs.instance})"
            transition(self.storage, name, ServiceState.UNHEALTHY, reason, version)
            self._drop_plan(name)
            raise ServiceUnavailable(f"service {name!r} is Unhealthy: {reason}") from exc
        if record["state"] == ServiceState.UNHEALTHY:
            transition(self.storage, name, ServiceState.HEALTHY, None, version)
            self._drop_plan(name)
        return loaded

    async def preload(self) -> list[str]:
        """Load every service's serving version now (the app's warm-up), as its first call would: the first calls
        then find them loaded. Returns the services loaded; one that cannot load is Unhealthy, as on a call."""
        loaded = []
        for record in await asyncio.to_thread(list_services, self.storage):
            if not record.get("serving"):
                continue
            plan = self._plans[record["name"]] = Plan.of(record, self.clock())
            with contextlib.suppress(FninferError):
                await self._served(plan)
                loaded.append(record["name"])
        return loaded

    # -- scoring ----------------------------------------------------------------------------------------------

    async def score(self, name: str, request: ScoringRequest) -> Reply:
        """Answer one call to the service's scoring URI. FninferErrors (401, 403, 404, 413, 503) are fninfer's
        own answers; everything Azure ML's server would answer is a Reply as that server writes it. Every call to
        a service that exists is counted (metrics.py), whatever its answer."""
        started = time.perf_counter()
        request_id = _request_id(request)
        try:
            reply = await self._score(name, request, request_id)
        except Exception as exc:
            if not isinstance(exc, NotFound):  # a name that is no service's is not counted (anyone may call it)
                self.calls.record(name, started, exc.status if isinstance(exc, FninferError) else 500, request_id)
            raise
        self.calls.record(name, started, reply.status, request_id)
        return reply

    async def _score(self, name: str, request: ScoringRequest, request_id: str) -> Reply:
        plan = await self._authenticated(name, request.headers.get("Authorization"))
        if len(request.body) > plan.max_body:
            raise PayloadTooLarge(
                f"the request body has {len(request.body)} bytes; this service accepts {plan.max_body}"
            )
        loaded = await self._served(plan)
        if request.method == "OPTIONS" and loaded.signature.kind != "raw":
            reply = options_reply()
        else:
            try:
                arguments = loaded.signature.arguments(request)
            except InvalidInput as exc:  # 400 or 415, in Azure ML's server's words and body
                arguments, reply = None, message_reply(exc.status, exc.message)
            if arguments is not None:
                reply = await self._call(loaded, plan, arguments, request_id)
        reply.headers["x-request-id"] = reply.headers["x-ms-request-id"] = request_id
        if "x-ms-client-request-id" in request.headers:
            reply.headers["x-ms-client-request-id"] = request.headers["x-ms-client-request-id"]
        return reply

    async def _call(self, loaded: LoadedService, plan: Plan, arguments: dict[str, Any], request_id: str) -> Reply:
        gate = loaded.gate_for(plan.bound)
        try:
            return await gate.call(
                lambda: self._run(loaded, arguments, plan.encoding, request_id), plan.wait, plan.timeout
            )
        except ServiceBusy as exc:
            raise ServiceBusy(f"service {loaded.name!r} has {exc.message}", **exc.details) from None
        except TimeoutError:
            with self.logs.capture(loaded.name):
                log.error("run() did not return within %g ms (request id %s)", plan.timeout * 1000, request_id)
            return message_reply(504, f"Scoring timeout after {plan.timeout * 1000:g} ms", run_failed=True)

    def _run(self, loaded: LoadedService, arguments: dict[str, Any], encoding: str, request_id: str) -> Reply:
        """run() and the encoding of its result, on the service's own thread; whatever run() raises is its failure
        (a 500 with a log line naming the request id), never the instance's."""
        with self.logs.capture(loaded.name), deployed_models(loaded.models):
            started = time.perf_counter()
            try:
                result = loaded.module.run(**arguments)
            except BaseException:
                log.exception("run() failed (request id %s)", request_id)
                return message_reply(500, RUN_FAILED, run_failed=True)
            elapsed_ms = (time.perf_counter() - started) * 1000
            try:
                reply = reply_for(result, encoding)
            except (TypeError, ValueError, RecursionError):
                log.exception("%s (request id %s)", unencodable_hint(result), request_id)
                return message_reply(500, INTERNAL_ERROR)
        reply.headers["x-ms-run-fn-exec-ms"] = f"{elapsed_ms:.3f}"
        return reply

    async def swagger(self, name: str, version: str | None) -> Reply:
        """The service's Swagger document (no credential needed, as the document holds no secret)."""
        loaded = await self._served(await self._plan(name))
        try:
            document = swagger.pick(loaded.swagger, version)
        except NotFound as exc:
            return message_reply(404, exc.message)
        return Reply(200, json.dumps(document).encode(), "application/json")


def _accept(plan: Plan, authorization: str | None) -> None:
    """Check the credential against the plan's record; remember one of its keys as valid for this record."""
    if authenticate(plan.record, authorization) and authorization and len(plan.accepted) < MAX_ACCEPTED:
        plan.accepted.add(authorization)


def _request_id(request: ScoringRequest) -> str:
    """The caller's `x-request-id` when it is a sane one (Azure ML's server takes up to 100 characters), else new:
    the id the answer carries, under which the service's logs record a failure."""
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 100 and given.isprintable():
        return given
    return random_uuid()
