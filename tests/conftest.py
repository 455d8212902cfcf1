"""Test world: one real Azurite per test session (per worker under pytest-xdist), fresh names per test.

Integration tests talk to a real Azurite (started from node_modules on free ports, in memory) and, where they need
one, a real local host (`fninfer start`) over loopback; nothing in storage is mocked.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fninfer_host.azurite import Azurite, start_azurite
from shared.core.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION_DIR = ROOT / "tests" / "integration"


#: The thread-count settings of the BLAS libraries numpy and scikit-learn load (OpenBLAS, or MKL through OpenMP).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    """One BLAS thread per process, set before a test module imports numpy and inherited by every process the suite
    starts (xdist workers, hosts and their instances, scripts): the suite runs many processes on few cores, where
    OpenBLAS' extra threads spin while they wait for work, and a scikit-learn fit costs many times its CPU."""
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups set here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`integration` marks every test that needs a real Azurite (so `make unit` runs none): all of
    tests/integration, and any other test that asks for an Azurite fixture, directly or through another.

    And how pytest-xdist shares the tests out (`--dist loadgroup --no-loadscope-reorder`, Makefile): it hands each
    worker its next unit as it frees up, in the order of the items. Each `slow` test is a unit of its own, so the
    long trials start early and on every worker; every other test runs with its module on one worker (its module
    fixtures start once), as do slow modules that name an `xdist_group` of their own because their module fixture
    is the expensive part (a zip, a browser, a server). The order is `_dispatch_order`'s."""
    for item in items:
        needs_storage = bool({"azurite", "lone_azurite"} & set(getattr(item, "fixturenames", ())))
        if needs_storage or INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
        if not item.get_closest_marker("slow") and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    order = {unit: position for position, unit in enumerate(_dispatch_order(items))}
    items.sort(key=lambda item: order[_unit(item)])


def _unit(item: pytest.Item) -> str:
    """What pytest-xdist hands a worker with the item: its group, or the item alone."""
    group = item.get_closest_marker("xdist_group")
    return str(group.args[0]) if group else item.nodeid


def _dispatch_order(items: list[pytest.Item]) -> list[str]:
    """The slow groups first: each runs its tests one after another on one worker, the longest stretches of the
    suite, which, started late, ended it with the other workers idle. Then the slow tests, each followed by a group of
    the rest: the trials mostly wait (for leases, outages, killed instances), and run together they left the cores
    idle while the computing tests queued behind them. Collection order otherwise."""
    slow_groups: dict[str, None] = {}
    slow_tests: dict[str, None] = {}
    groups: dict[str, None] = {}
    for item in items:
        if item.get_closest_marker("slow") is None:
            groups[_unit(item)] = None
        elif item.get_closest_marker("xdist_group") is not None:
            slow_groups[_unit(item)] = None
        else:
            slow_tests[_unit(item)] = None
    order = list(slow_groups)
    rest = iter(groups)
    for test in slow_tests:
        order += [test, *itertools.islice(rest, 1)]
    return [*order, *rest]


@pytest.fixture(scope="session")
def _session_caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Model and snapshot caches of this session's own (of this worker's, under pytest-xdist): by default they are
    ~/.cache/fninfer/models and $TMPDIR/fninfer-snapshots, folders a developer's runs and other test sessions share,
    where one session's `name:version` would replace another's."""
    root = tmp_path_factory.mktemp("caches")
    return {"FNINFER_MODEL_CACHE": str(root / "models"), "FNINFER_SNAPSHOT_CACHE": str(root / "snapshots")}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, _session_caches: dict[str, str]) -> None:
    """No test sees a developer's storage or workspace settings, nor shares caches with another session."""
    for name in list(os.environ):
        if name.startswith(("AzureWebJobs", "FNINFER_", "AzureFunctionsJobHost", "AZUREML_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in _session_caches.items():
        monkeypatch.setenv(name, value)


#: Storage accounts of the session's Azurite besides the well-known one: one for each test that asks for storage of
#: its own.
LONE_ACCOUNTS = [f"devstoreaccount{number}" for number in range(2, 34)]


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = start_azurite(ROOT, accounts=LONE_ACCOUNTS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _unused_accounts() -> Iterator[str]:
    return iter(LONE_ACCOUNTS)


@pytest.fixture
def lone_azurite(azurite: Azurite, _unused_accounts: Iterator[str]) -> Iterator[Azurite]:
    """Storage of the test's own, for a host under test: hosts on one storage share its queues and sweep each
    other's runs, so the session's host (on the session's storage account) would take work from it and run that work
    with its own environment, and kill or memory measurements would be about the wrong processes. An unused account
    of the session's Azurite (an account's containers and queues are its own), else an Azurite of its own."""
    account = next(_unused_accounts, None)
    if account is not None:
        yield azurite.for_account(account)
        return
    server = start_azurite(ROOT)
    yield server
    server.stop()


@pytest.fixture
def storage(azurite: Azurite) -> Storage:
    return Storage.from_connection_string(azurite.connection_string)


@pytest.fixture
def unique() -> str:
    """A short lower-case token to keep each test's names (queues, models, containers) apart."""
    return uuid.uuid4().hex[:10]
