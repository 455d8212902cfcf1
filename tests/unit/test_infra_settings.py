"""The app settings the code reads, the ones `shared/core/settings.py` declares, and the ones `infra/main.bicep` gives
the Function App are the same lists: a setting added on one side and forgotten on another fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from shared.core import settings

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = [
    ROOT / "function_app.py",
    *sorted((ROOT / "shared").rglob("*.py")),
    *sorted((ROOT / "functions").rglob("*.py")),
]
BICEP = ROOT / "infra" / "main.bicep"
#: Settings the app reads that nobody configures: the platform or the local host provides them.
PROVIDED = {
    "WEBSITE_INSTANCE_ID": "set by Azure Functions on each instance",
    "FNINFER_INSTANCE_INDEX": "set by `fninfer start` on each local instance",
}
#: Settings the code knows that the template deliberately leaves unset.
NOT_IN_TEMPLATE = {
    settings.MODEL_DIR_SETTING: "a packaged app finds its models beside its code; set it only to use another folder",
    settings.RESPONSE_ENCODING_SETTING: "Azure ML's scoring body unless set (the seeds' clients decode twice)",
}
#: Settings the template gives the Functions host itself (the app's code does not read them).
HOST_SETTINGS = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}
READERS = {"get_setting", "require_setting", "storage_connection"}


def _literal(node: ast.expr) -> str | None:
    """A setting name given as a string or as a constant of shared/core/settings.py."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    value = getattr(settings, name, None) if name else None
    return value if isinstance(value, str) else None


def settings_read_by_the_code() -> dict[str, str]:
    """{setting: where} for every setting read through shared.core.settings or os.environ in the app's code."""
    found: dict[str, str] = {}
    for path in APP_CODE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                environ = isinstance(func, ast.Attribute) and ast.unparse(func.value) in ("os.environ", "os")
                if called in READERS or (environ and called in ("get", "getenv")):
                    name = _literal(node.args[0])
                    if name is not None:
                        found.setdefault(name, where)
            if isinstance(node, ast.Call):  # a trigger's connection="<setting>" is read by the host for the app
                for keyword in node.keywords:
                    if keyword.arg == "connection" and (name := _literal(keyword.value)) is not None:
                        found.setdefault(name, where)
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                name = _literal(node.slice)
                if name is not None:
                    found.setdefault(name, where)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                binding = re.fullmatch(r"%(\w+)%", node.value)  # an app setting as a binding value: "%CRON%"
                if binding:
                    found.setdefault(binding.group(1), where)
    return found


def settings_in_the_template() -> set[str]:
    text = BICEP.read_text()
    block = re.search(r"appSettings:\s*\[(.*?)\n\s*\]", text, re.S)
    assert block, "infra/main.bicep has no appSettings list"
    return set(re.findall(r"\{\s*name:\s*'([^']+)'", block.group(1)))


def test_every_setting_the_code_reads_is_declared_and_every_declared_one_is_read() -> None:
    read = settings_read_by_the_code()
    undeclared = {name: where for name, where in read.items() if name not in settings.KNOWN_SETTINGS}
    assert set(undeclared) <= set(PROVIDED), f"read but not in KNOWN_SETTINGS: {undeclared}"
    assert set(settings.KNOWN_SETTINGS) - set(read) == set(), "declared in KNOWN_SETTINGS but never read"


def test_the_template_sets_what_the_code_reads_and_nothing_it_does_not() -> None:
    template = settings_in_the_template()
    # The storage connection is identity-based in Azure: its settings are `AzureWebJobsStorage__<property>`.
    connection = {name for name in template if name.startswith(f"{settings.STORAGE_CONNECTION}__")}
    assert {f"{settings.STORAGE_CONNECTION}__{p}" for p in ("accountName", "credential", "clientId")} <= connection
    expected = set(settings.KNOWN_SETTINGS) - {settings.STORAGE_CONNECTION} - set(NOT_IN_TEMPLATE)
    app_settings = template - connection - HOST_SETTINGS
    assert expected - app_settings == set(), "the code reads these but infra/main.bicep does not set them"
    assert app_settings - expected == set(), "infra/main.bicep sets these but the code does not read them"
    assert settings.STORAGE_CONNECTION not in template, "shared-key access is off: no connection string in Azure"


def test_the_parameters_file_names_only_template_parameters() -> None:
    declared = set(re.findall(r"^param (\w+) ", BICEP.read_text(), re.M))
    parameters = json.loads((BICEP.parent / "main.parameters.json").read_text())["parameters"]
    assert set(parameters) <= declared
    required = {name for name in declared if not re.search(rf"^param {name} [^\n=]*=", BICEP.read_text(), re.M)} - {
        "signingKey"
    }  # a secret: given on the command line, never in a file
    assert required <= set(parameters)


def test_the_finder_sees_each_kind_of_read() -> None:
    """The scan above would pass vacuously if it found nothing: it must see the app's known reads."""
    read = settings_read_by_the_code()
    assert read[settings.SCHEDULES_CRON].startswith("functions/schedules.py")
    assert read[settings.LEASE_SETTING].startswith("shared/runs/work_leases.py")
    assert read["WEBSITE_INSTANCE_ID"].startswith("shared/services/service_logs.py")
    assert read[settings.STORAGE_CONNECTION].startswith("functions/")  # connection="AzureWebJobsStorage"


def test_blob_events_reach_the_drops_function_for_the_default_datastore() -> None:
    """The Event Grid subscription names the container and the function the app really has (functions/drops.py)."""
    from shared.core import layout
    from tests.declared import declared_functions

    text = BICEP.read_text()
    assert f"var defaultDatastoreContainer = '{layout.DEFAULT_DATASTORE_CONTAINER}'" in text
    function = re.search(r"var droppedBlobFunction = '(\w+)'", text)
    assert function, "infra/main.bicep does not name the blob-triggered function"
    triggers = {
        declared.get_function_name(): json.loads(declared.get_function_json())["bindings"][0]
        for declared in declared_functions()
        if declared.get_trigger().get_binding_name() == "blobTrigger"
    }
    assert function.group(1) in triggers, triggers
    assert triggers[function.group(1)]["source"] == "EventGrid"  # what Flex Consumption requires
    assert triggers[function.group(1)]["path"].startswith(f"{layout.DEFAULT_DATASTORE_CONTAINER}/")
