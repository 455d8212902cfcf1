"""Which binding types the Functions host can load, and the extension bundle that brings the others.

The host has HTTP and timer bindings built in; every other binding (Storage queues and blobs among them) comes from
an extension, which a Python app gets through host.json's `extensionBundle`. Without one the real host cannot index
such a function ("The binding type(s) 'queueTrigger' are not registered") and the app's queue and blob functions
never run on Azure, so the local host refuses the app the same way, at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BUNDLE_ID = "Microsoft.Azure.Functions.ExtensionBundle"
#: The bundle range fninfer's app declares and the docs recommend for the v4 runtime.
RECOMMENDED_VERSION = "[4.*, 5.0.0)"
#: The v4 runtime loads bundles 2.x and later (1.x is for runtime v2/v3 only).
LOWEST_MAJOR = 2

#: Built into the Functions host: no extension needed.
BUILT_IN = frozenset({"httpTrigger", "http", "timerTrigger", "warmupTrigger"})
#: What the extension bundle provides (Storage, Event Hubs, Service Bus, Event Grid, Cosmos DB, Durable Functions,
#: SignalR, SendGrid, Twilio, Kafka, RabbitMQ, SQL, Dapr), by the binding type names function metadata uses.
BUNDLE = frozenset(
    {
        "blobTrigger",
        "blob",
        "queueTrigger",
        "queue",
        "table",
        "eventHubTrigger",
        "eventHub",
        "serviceBusTrigger",
        "serviceBus",
        "eventGridTrigger",
        "eventGrid",
        "cosmosDBTrigger",
        "cosmosDB",
        "orchestrationTrigger",
        "activityTrigger",
        "entityTrigger",
        "durableClient",
        "signalRTrigger",
        "signalR",
        "signalRConnectionInfo",
        "sendGrid",
        "twilioSms",
        "kafkaTrigger",
        "kafka",
        "rabbitMQTrigger",
        "rabbitMQ",
        "sqlTrigger",
        "sql",
        "daprServiceInvocationTrigger",
        "daprBindingTrigger",
        "daprTopicTrigger",
        "daprState",
        "daprInvoke",
        "daprPublish",
        "daprBinding",
        "daprSecret",
    }
)


class ExtensionBundleError(ValueError):
    """host.json's extensionBundle is malformed, or a function needs an extension the host does not have."""


@dataclass(frozen=True)
class ExtensionBundle:
    id: str
    version: str  # a NuGet version range, e.g. "[4.*, 5.0.0)"


def parse_extension_bundle(value: Any) -> ExtensionBundle | None:
    """host.json's `extensionBundle` object (None when absent); the message names what is wrong."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ExtensionBundleError('host.json extensionBundle must be an object like {"id": ..., "version": ...}')
    lowered = {str(key).lower(): item for key, item in value.items()}
    bundle_id, version = str(lowered.get("id") or ""), str(lowered.get("version") or "")
    if bundle_id not in (BUNDLE_ID, f"{BUNDLE_ID}.Preview", f"{BUNDLE_ID}.Experimental"):
        raise ExtensionBundleError(f"host.json extensionBundle.id: {bundle_id!r} is not {BUNDLE_ID!r}")
    match = re.fullmatch(r"\s*[\[(]\s*(\d+)(?:\.[\d*]+)*\s*,\s*(\d+(?:\.\d+)*)?\s*[\])]\s*", version)
    if match is None:
        raise ExtensionBundleError(
            f"host.json extensionBundle.version: {version!r} is not a version range like {RECOMMENDED_VERSION!r}"
        )
    if int(match.group(1)) < LOWEST_MAJOR:
        raise ExtensionBundleError(
            f"host.json extensionBundle.version: {version!r} names bundle {match.group(1)}.x, which the Functions "
            f"v4 runtime does not load; use {RECOMMENDED_VERSION!r}"
        )
    return ExtensionBundle(bundle_id, version)


def missing_extensions(
    functions: Iterable[tuple[str, Iterable[dict[str, Any]]]], bundle: ExtensionBundle | None
) -> str:
    """Why the host could not load these functions' bindings ('' when it can): each function named with the binding
    types it lacks. `functions` are (name, binding JSON) pairs, as the Python worker reports them."""
    available = BUILT_IN | (BUNDLE if bundle is not None else frozenset())
    problems = []
    for name, bindings in functions:
        unknown = sorted({str(binding.get("type")) for binding in bindings} - available)
        if unknown:
            problems.append(f"'{name}' ({', '.join(unknown)})")
    if not problems:
        return ""
    if bundle is None:
        return (
            f"the binding types of {', '.join(problems)} are not registered: only HTTP and timer bindings are built "
            'into the Functions host, the others come from an extension bundle. Add "extensionBundle": '
            f'{{"id": "{BUNDLE_ID}", "version": "{RECOMMENDED_VERSION}"}} to host.json'
        )
    return f"the binding types of {', '.join(problems)} are not in extension bundle {bundle.id} {bundle.version}"


#: Azure Storage queue and container names: 3-63 characters, lower-case letters, digits and single hyphens, starting
#: and ending with a letter or digit.
STORAGE_NAME = re.compile(r"(?=[a-z0-9-]{3,63}\Z)[a-z0-9]+(?:-[a-z0-9]+)*\Z")
QUEUE_TYPES = ("queueTrigger", "queue")
BLOB_TYPES = ("blobTrigger", "blob")


def storage_names(binding: dict[str, Any]) -> tuple[str, str] | None:
    """("queue" | "container", name) a Storage binding addresses; None for other bindings, and for names that
    come from an app setting (`%Name%`) or a binding expression (`{name}`), which only the running host resolves."""
    if binding.get("type") in QUEUE_TYPES:
        kind, name = "queue", str(binding.get("queueName") or "")
    elif binding.get("type") in BLOB_TYPES:
        kind, name = "container", str(binding.get("path") or "").split("/", 1)[0]
    else:
        return None
    return None if "%" in name or "{" in name else (kind, name)


def invalid_storage_names(functions: Iterable[tuple[str, Iterable[dict[str, Any]]]]) -> str:
    """Queue and container names Azure Storage refuses, with their functions ('' when all are valid). The real
    host fails to index such a function ("Invalid queue name")."""
    problems = []
    for name, bindings in functions:
        for binding in bindings:
            addressed = storage_names(binding)
            if addressed is not None and not STORAGE_NAME.match(addressed[1]):
                problems.append(f"'{name}' uses {addressed[0]} name {addressed[1]!r}")
    if not problems:
        return ""
    return (
        f"{'; '.join(problems)}: Azure Storage names have 3-63 lower-case letters, digits and single hyphens, "
        "and start and end with a letter or digit"
    )
