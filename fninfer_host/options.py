"""host.json, read with the real host's defaults and its `AzureFunctionsJobHost__<path>` overrides.

Defaults follow the Functions runtime v4 host running under Core Tools (`AZURE_FUNCTIONS_ENVIRONMENT=Development`):
see ../shared/notes/functions-host-semantics.md §0-§1. Durations are seconds (float); None means unbounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fninfer_host.bindings import ExtensionBundle, ExtensionBundleError, parse_extension_bundle
from fninfer_host.logs import LogLevels

OVERRIDE_PREFIX = "AzureFunctionsJobHost__"
#: Local-host only: seconds between blob container scans (the real host scans every 10 s).
BLOB_SCAN_INTERVAL_SETTING = "FNINFER_BLOB_SCAN_INTERVAL"


class HostConfigError(ValueError):
    """host.json is missing, malformed or has a value out of range (the message names the key)."""


def parse_timespan(value: Any, key: str) -> float | None:
    """`hh:mm:ss[.fff]` or `d.hh:mm:ss` to seconds; `-1` means unbounded (None)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "-1":
        return None
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", text)
    if not match:
        raise HostConfigError(f"host.json {key}: {text!r} is not a timespan like '00:05:00'")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8  # computed below from batchSize and CPU count unless set
    max_polling_interval: float = 2.0  # Development environment default (1 min in Azure)
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"


@dataclass(frozen=True)
class BlobOptions:
    max_degree_of_parallelism: int = 8
    poison_blob_threshold: int = 5


@dataclass(frozen=True)
class HostOptions:
    route_prefix: str = "api"
    function_timeout: float | None = 1800.0
    max_request_body_size: int = 104_857_600
    queues: QueueOptions = QueueOptions()
    blobs: BlobOptions = BlobOptions()
    custom_headers: tuple[tuple[str, str], ...] = ()
    listener_lock_period: float = 60.0
    listener_lock_recovery_polling_interval: float = 60.0
    blob_scan_interval: float = 10.0
    extension_bundle: ExtensionBundle | None = None
    log_levels: LogLevels = field(default_factory=LogLevels)


class _Section(dict[str, Any]):
    """A host.json object. Keys compare case-insensitively, as in the host's .NET configuration, so
    `"FunctionTimeout"` and `AzureFunctionsJobHost__extensions__http__routeprefix` count; the first spelling is kept."""

    def _key(self, key: str) -> str:
        lowered = key.lower()
        return next((existing for existing in self if existing.lower() == lowered), key)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._key(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._key(key), default)


def _apply_overrides(document: _Section, environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        path = name[len(OVERRIDE_PREFIX) :].split("__")
        target = document
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = _Section()
            target = target[part]
        target[path[-1]] = value


def _int(section: Mapping[str, Any], key: str, default: int, low: int, high: int | None, where: str) -> int:
    if key not in section:
        return default
    try:
        value = int(section[key])
    except (TypeError, ValueError):
        raise HostConfigError(f"host.json {where}.{key}: {section[key]!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise HostConfigError(f"host.json {where}.{key}: {value} is out of range ({bound})")
    return value


def load_host_options(app_dir: Path, environ: Mapping[str, str] | None = None) -> HostOptions:
    env = os.environ if environ is None else environ
    path = app_dir / "host.json"
    try:
        document = (
            json.loads(path.read_text(), object_pairs_hook=_Section) if path.exists() else _Section(version="2.0")
        )
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or str(document.get("version")) != "2.0":
        raise HostConfigError(f'{path} must have "version": "2.0"')
    _apply_overrides(document, env)
    extensions = document.get("extensions", {})
    http = extensions.get("http", {})
    queues = extensions.get("queues", {})
    blobs = extensions.get("blobs", {})
    cpus = 1 if env.get("WEBSITE_SKU") == "Dynamic" else (os.cpu_count() or 1)
    batch_size = _int(queues, "batchSize", 16, 1, 32, "extensions.queues")
    max_poll = parse_timespan(queues.get("maxPollingInterval", "00:00:02"), "extensions.queues.maxPollingInterval")
    if max_poll is None or max_poll < 0.1:
        raise HostConfigError("host.json extensions.queues.maxPollingInterval must be at least 00:00:00.1")
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise HostConfigError(f"host.json extensions.queues.messageEncoding: {encoding!r} is not 'base64' or 'none'")
    queue_options = QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=_int(queues, "newBatchThreshold", (batch_size // 2) * cpus, 0, None, "extensions.queues"),
        max_polling_interval=max_poll,
        visibility_timeout=parse_timespan(queues.get("visibilityTimeout", "00:00:00"), "visibilityTimeout") or 0.0,
        max_dequeue_count=_int(queues, "maxDequeueCount", 5, 1, None, "extensions.queues"),
        message_encoding=encoding,
    )
    blob_options = BlobOptions(
        max_degree_of_parallelism=_int(blobs, "maxDegreeOfParallelism", 8 * cpus, 1, None, "extensions.blobs"),
        poison_blob_threshold=_int(blobs, "poisonBlobThreshold", 5, 1, None, "extensions.blobs"),
    )
    timeout = parse_timespan(document.get("functionTimeout", "00:30:00"), "functionTimeout")
    if timeout is not None and timeout < 1:
        raise HostConfigError("host.json functionTimeout must be at least 00:00:01")
    body_limit = env.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "")
    if body_limit and not body_limit.isdigit():
        raise HostConfigError(f"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: {body_limit!r} is not a number of bytes")
    try:
        bundle = parse_extension_bundle(document.get("extensionBundle"))
    except ExtensionBundleError as exc:
        raise HostConfigError(str(exc)) from exc
    log_level = (document.get("logging") or {}).get("logLevel") or {}
    if not isinstance(log_level, dict):
        raise HostConfigError("host.json logging.logLevel must be an object of category: level")
    try:
        log_levels = LogLevels.parse(log_level)
    except ValueError as exc:
        raise HostConfigError(str(exc)) from exc
    headers = http.get("customHeaders", {}) or {}
    singleton = document.get("singleton", {})
    return HostOptions(
        route_prefix=str(http.get("routePrefix", "api")).strip("/"),
        function_timeout=timeout,
        max_request_body_size=int(body_limit) if body_limit else 104_857_600,
        queues=queue_options,
        blobs=blob_options,
        custom_headers=tuple((str(k), str(v)) for k, v in headers.items()),
        listener_lock_period=parse_timespan(singleton.get("listenerLockPeriod", "00:01:00"), "listenerLockPeriod")
        or 60.0,
        blob_scan_interval=float(env.get(BLOB_SCAN_INTERVAL_SETTING) or 10.0),
        listener_lock_recovery_polling_interval=parse_timespan(
            singleton.get("listenerLockRecoveryPollingInterval", "00:01:00"), "listenerLockRecoveryPollingInterval"
        )
        or 60.0,
        extension_bundle=bundle,
        log_levels=log_levels,
    )


def compute_host_id(app_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The host ID every storage path of the host is keyed by: `AzureFunctionsWebHost__hostid` if set, else
    `<machine name>-<stable hash of the app path>`, at most 32 lower-case characters, as the real host does."""
    env = os.environ if environ is None else environ
    explicit = env.get("AzureFunctionsWebHost__hostid") or env.get("AzureFunctionsWebHost:hostid")
    if explicit:
        raw = explicit
    else:
        machine = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "localhost"
        digest = int.from_bytes(hashlib.sha256(str(app_dir.resolve()).encode()).digest()[:4], "big")
        raw = f"{machine}-{digest}"
    return raw[:32].lower().rstrip("-")


def resolve_app_settings(expression: str, environ: Mapping[str, str] | None = None) -> str:
    """`%Name%` in a binding property is replaced by app setting Name, as the host resolves binding expressions."""
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if value is None:
            raise HostConfigError(f"app setting {match.group(1)!r} used in a binding is not set")
        return value

    return re.sub(r"%([^%]+)%", lookup, expression)
