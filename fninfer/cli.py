"""The `fninfer` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fninfer.host.supervisor import StartError
from fninfer.host.supervisor import start as start_host


@click.group()
@click.version_option(package_name="fninfer")
def main() -> None:
    """fninfer: Azure ML inference workflows on Azure Functions, locally on Azurite."""


@main.command()
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The Functions app folder (holds function_app.py and host.json).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=7071, show_default=True, help="HTTP port.")
@click.option(
    "--instances",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Host processes on the same storage: the local stand-in for scale-out.",
)
@click.option(
    "--storage", default=None, metavar="CONNECTION_STRING", help="Use this storage account instead of starting Azurite."
)
def start(app_dir: Path, port: int, instances: int, storage: str | None) -> None:
    """Run the app's local Functions host (like `func start`), starting Azurite when no storage is configured."""
    try:
        code = start_host(app_dir, port, instances, storage)
    except StartError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)
