"""The project's Azurite is installed without its telemetry client: package.json puts tools/azurite-without-telemetry
in its place, which Azurite loads when it starts and, with --disableTelemetry (fninfer_host/azurite.py), never uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / "azurite"


def test_azurite_resolves_the_stand_in_which_refuses_to_be_used() -> None:
    # `node -e` resolves from its working folder: Azurite's, as its own require("applicationinsights") does.
    result = subprocess.run(
        ["node", "-e", "require('applicationinsights').setup('InstrumentationKey=x')"],
        cwd=AZURITE,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "run Azurite with --disableTelemetry" in result.stderr, result.stderr


def test_the_telemetry_clients_dependencies_are_not_installed() -> None:
    assert (AZURITE / "package.json").exists(), "npm ci has not run"
    assert not list((ROOT / "node_modules").glob("@opentelemetry/*"))
    assert not list((ROOT / "node_modules").glob("@azure/monitor-*"))
