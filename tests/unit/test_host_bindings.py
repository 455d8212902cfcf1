"""host.json's extensionBundle, and which binding types the host can load with and without it."""

from __future__ import annotations

import pytest

from fninfer_host.bindings import (
    BUNDLE_ID,
    ExtensionBundle,
    ExtensionBundleError,
    invalid_storage_names,
    missing_extensions,
    storage_names,
)
from fninfer_host.bindings import parse_extension_bundle as parse

HTTP = [{"type": "httpTrigger", "name": "req"}, {"type": "http", "name": "$return"}]
QUEUE = [{"type": "queueTrigger", "name": "msg", "queueName": "q"}]


def test_the_recommended_bundle_and_its_neighbours_parse() -> None:
    assert parse({"id": BUNDLE_ID, "version": "[4.*, 5.0.0)"}) == ExtensionBundle(BUNDLE_ID, "[4.*, 5.0.0)")
    assert parse({"Id": BUNDLE_ID, "Version": "[3.3.0, 4.0.0)"}).version == "[3.3.0, 4.0.0)"  # type: ignore[union-attr]
    assert parse(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bundle", "must be an object"),
        ({"id": "Other.Bundle", "version": "[4.*, 5.0.0)"}, "'Other.Bundle' is not"),
        ({"id": BUNDLE_ID, "version": "4"}, "is not a version range"),
        ({"id": BUNDLE_ID, "version": "[1.*, 2.0.0)"}, "does not load"),
    ],
)
def test_a_bad_bundle_is_named(value: object, message: str) -> None:
    with pytest.raises(ExtensionBundleError, match=message):
        parse(value)


def test_http_and_timer_need_no_bundle_storage_bindings_do() -> None:
    timer = [{"type": "timerTrigger", "name": "t", "schedule": "0 * * * * *"}]
    assert missing_extensions([("web", HTTP), ("tick", timer)], None) == ""
    problem = missing_extensions([("web", HTTP), ("work", QUEUE), ("out", [*HTTP, {"type": "blob"}])], None)
    assert "'work' (queueTrigger)" in problem and "'out' (blob)" in problem and "'web'" not in problem
    assert '"extensionBundle"' in problem
    assert missing_extensions([("work", QUEUE)], ExtensionBundle(BUNDLE_ID, "[4.*, 5.0.0)")) == ""


def test_a_binding_no_bundle_has_is_named_with_the_bundle() -> None:
    problem = missing_extensions([("odd", [{"type": "madeUpTrigger"}])], ExtensionBundle(BUNDLE_ID, "[4.*, 5.0.0)"))
    assert problem == f"the binding types of 'odd' (madeUpTrigger) are not in extension bundle {BUNDLE_ID} [4.*, 5.0.0)"


@pytest.mark.parametrize("name", ["abc", "fninfer-deployments", "a1-b2-c3", "x" * 63])
def test_valid_storage_names(name: str) -> None:
    assert invalid_storage_names([("f", [{"type": "queueTrigger", "queueName": name}])]) == ""
    assert invalid_storage_names([("f", [{"type": "blobTrigger", "path": f"{name}/{{name}}"}])]) == ""


@pytest.mark.parametrize("name", ["ab", "x" * 64, "Upper", "a--b", "-ab", "ab-", "a_b", ""])
def test_invalid_storage_names_are_named(name: str) -> None:
    problem = invalid_storage_names([("work", [{"type": "queueTrigger", "queueName": name}])])
    assert problem.startswith(f"'work' uses queue name {name!r}: Azure Storage names have 3-63")
    problem = invalid_storage_names([("scan", [{"type": "blob", "path": f"{name}/x.txt"}])])
    assert problem.startswith(f"'scan' uses container name {name!r}")


def test_names_the_running_host_resolves_are_not_judged_here() -> None:
    assert storage_names({"type": "queueTrigger", "queueName": "%QUEUE%"}) is None
    assert storage_names({"type": "blobTrigger", "path": "{container}/x"}) is None
    assert storage_names({"type": "httpTrigger"}) is None
