"""The function metadata the real Functions host reads is valid for it.

For every function of `function_app.py`, the binding JSON the Python worker reports (azure.functions' own indexing,
`FunctionApp.get_functions()`, which the local host uses too) must load on Azure: its binding types exist (built in,
or in host.json's extension bundle), its queue and container names are valid Azure Storage names, its route templates
compile without conflicts, its timer schedules parse, and its `connection` resolves from the app settings
`infra/main.bicep` gives the Function App (identity-based `AzureWebJobsStorage__*` included).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from fninfer_host.bindings import (
    BUILT_IN,
    BUNDLE,
    BUNDLE_ID,
    QUEUE_TYPES,
    RECOMMENDED_VERSION,
    invalid_storage_names,
    storage_names,
)
from fninfer_host.indexing import IndexedFunction, index_functions
from fninfer_host.ncrontab import parse_schedule
from fninfer_host.options import load_host_options
from fninfer_host.routing import build_routes

ROOT = Path(__file__).resolve().parents[2]
BICEP = ROOT / "infra" / "main.bicep"
STORAGE_TYPES = ("queueTrigger", "queue", "blobTrigger", "blob", "table")


@cache
def functions() -> list[IndexedFunction]:
    return index_functions(ROOT)


@cache
def bicep_app_settings() -> dict[str, str]:
    """name -> value expression of every app setting the template gives the Function App."""
    block = re.search(r"appSettings:\s*\[(.*?)\n\s*\]", BICEP.read_text(), re.S)
    assert block, "infra/main.bicep has no appSettings list"
    entries = re.findall(r"\{\s*name:\s*'([^']+)'\s*,?\s*value:\s*(.+?)\s*\}", block.group(1), re.S)
    return {name: value.strip() for name, value in entries}


def resolves(connection: str, binding_type: str, settings: dict[str, str]) -> str:
    """'' when the host can build a client for `connection` from `settings`, else what is missing (notes §7)."""
    name = connection or "Storage"
    if any(candidate in settings for candidate in (f"AzureWebJobs{name}", name)):
        return ""  # a connection string
    prefix = next((p for p in (f"AzureWebJobs{name}", name) if any(s.startswith(p + "__") for s in settings)), None)
    if prefix is None:
        return f"no setting {name!r} or {name + '__accountName'!r}"
    services = ("queue",) if binding_type in QUEUE_TYPES else ("blob", "queue")  # blob triggers queue their work
    missing = [
        s for s in services if f"{prefix}__accountName" not in settings and f"{prefix}__{s}ServiceUri" not in settings
    ]
    if missing:
        return f"{prefix}__accountName (or {prefix}__{missing[0]}ServiceUri) is not set"
    if settings.get(f"{prefix}__credential") == "'managedidentity'" and f"{prefix}__clientId" not in settings:
        return (
            f"{prefix}__credential is managedidentity but {prefix}__clientId does not name the user-assigned identity"
        )
    return ""


def test_the_app_has_functions_of_each_trigger_it_relies_on() -> None:
    triggers = {function.trigger_type for function in functions()}
    assert triggers == {"httpTrigger", "queueTrigger", "timerTrigger", "blobTrigger", "warmupTrigger"}


def test_every_binding_type_is_built_in_or_in_the_declared_bundle() -> None:
    bundle = load_host_options(ROOT, environ={}).extension_bundle
    assert bundle is not None and (bundle.id, bundle.version) == (BUNDLE_ID, RECOMMENDED_VERSION)
    unknown = {(f.name, b["type"]) for f in functions() for b in f.bindings if b["type"] not in BUILT_IN | BUNDLE}
    assert unknown == set()


def test_queue_and_container_names_are_valid_for_azure_storage() -> None:
    addressed = [(f.name, storage_names(b)) for f in functions() for b in f.bindings if b["type"] in STORAGE_TYPES]
    assert addressed and all(names is not None for _, names in addressed)  # fixed names, checked here
    assert invalid_storage_names((f.name, f.bindings) for f in functions()) == ""
    for function, (kind, name) in addressed:  # type: ignore[misc]
        assert kind != "queue" or len(f"{name}-poison") <= 63, f"{function}: {name} gets no poison queue"


def test_route_templates_compile_without_conflicts_or_reserved_prefixes() -> None:
    http = [f for f in functions() if f.trigger_type == "httpTrigger"]
    routes = build_routes((f.name, f.trigger.get("route") or f.name, f.trigger.get("methods")) for f in http)
    assert len(routes) == len(http)
    assert all(f.trigger.get("authLevel", "").upper() in ("ANONYMOUS", "FUNCTION", "ADMIN") for f in http)


def test_timer_schedules_parse() -> None:
    settings = bicep_app_settings()
    for function in functions():
        if function.trigger_type == "timerTrigger":
            schedule = str(function.trigger["schedule"])
            setting = re.fullmatch(r"%(\w+)%", schedule)
            assert setting is None or setting.group(1) in settings, f"{function.name}: {schedule} is not set"
            if setting is None:
                parse_schedule(schedule)


def test_connections_resolve_from_the_templates_app_settings() -> None:
    settings = bicep_app_settings()
    used: list[tuple[str, dict[str, Any]]] = [
        (f.name, b) for f in functions() for b in f.bindings if b["type"] in STORAGE_TYPES
    ]
    assert used  # the queue triggers
    for function, binding in used:
        problem = resolves(str(binding.get("connection") or ""), str(binding["type"]), settings)
        assert problem == "", f"{function}: connection {binding.get('connection')!r}: {problem}"


def test_the_resolver_itself_fails_on_what_the_host_could_not_use() -> None:
    identity = {
        "AzureWebJobsStorage__accountName": "storage.name",
        "AzureWebJobsStorage__credential": "'managedidentity'",
        "AzureWebJobsStorage__clientId": "identity.properties.clientId",
    }
    assert resolves("AzureWebJobsStorage", "queueTrigger", identity) == ""
    assert resolves("", "blobTrigger", identity) == ""  # "" means Storage, i.e. AzureWebJobsStorage
    assert resolves("Other", "queueTrigger", identity) == "no setting 'Other' or 'Other__accountName'"
    assert "clientId" in resolves("", "queueTrigger", {k: v for k, v in identity.items() if "clientId" not in k})
    only_blob = {"AzureWebJobsStorage__blobServiceUri": "'https://x'"}
    assert "queueServiceUri" in resolves("AzureWebJobsStorage", "blobTrigger", only_blob)
    assert resolves("MyConn", "queue", {"MyConn": "'DefaultEndpointsProtocol=https;...'"}) == ""
