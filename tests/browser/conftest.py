"""The studio in a real browser: Debian's chromium driven by Playwright, on a real local host and its own Azurite.

`make test` installs chromium when /usr/bin/chromium is missing (FNINFER_CHROMIUM names another); Playwright never
downloads a browser here. Screenshots are kept under artifacts/studio/ (gitignored)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from fninfer._workspace import Workspace
from fninfer_host.azurite import start_azurite
from tests.browser.browsing import CHROMIUM_ARGS, ROOT, Studio
from tests.hosting import RunningHost, run_host


@pytest.fixture(scope="module")
def studio_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """fninfer's app on `fninfer start`, on an Azurite of its own (the pages count everything in the workspace)."""
    azurite = start_azurite(ROOT)
    workdir = tmp_path_factory.mktemp("studio-host")
    env = {"FNINFER_MODEL_CACHE": str(workdir / "models"), "FNINFER_SNAPSHOT_CACHE": str(workdir / "snapshots")}
    try:
        with run_host(ROOT, workdir, storage=azurite.connection_string, env=env) as host:
            yield host
    finally:
        azurite.stop()


@pytest.fixture(scope="module")
def studio_ws(studio_host: RunningHost) -> Workspace:
    return Workspace.from_config(studio_host.config_path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("FNINFER_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"no chromium at {executable}: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def studio(browser: Browser, studio_host: RunningHost) -> Iterator[Studio]:
    opened = Studio(browser, studio_host)
    yield opened
    opened.close()
    assert not opened.errors, f"the browser reported errors: {opened.errors}"
