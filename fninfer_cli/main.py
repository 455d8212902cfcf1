"""The `fninfer` command line: start (the local host, fninfer_host), package (packaging/), install, and the migration
commands (check, migrate, ml; commands.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import click
except ModuleNotFoundError:  # the command is part of the `local` extra, not of the SDK
    sys.exit("fninfer's command line (fninfer start, fninfer package) needs its extra: pip install 'fninfer[local]'")

if TYPE_CHECKING:
    from shared.core.storage import Storage

#: The migration commands, in the command's own package, imported when called: `fninfer check`, `fninfer migrate`,
#: `fninfer ml ...` (Azure ML's v1 `az ml` commands) bring libcst, knack and the SDK, which `fninfer start` and
#: `fninfer package` (and every host the tests start) do not need.
LAZY_COMMANDS = {
    "check": "fninfer_cli.commands:check_command",
    "migrate": "fninfer_cli.commands:migrate_command",
    "ml": "fninfer_cli.ml:ml",
}


class _LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported when named (click's documented pattern for lazy subcommands)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, name = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
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
    # Imported here, as each command's own modules are: `fninfer ml ...` and the rest do not start a host.
    from fninfer_host.supervisor import StartError
    from fninfer_host.supervisor import start as start_host

    try:
        code = start_host(app_dir, port, instances, storage)
    except StartError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.command()
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The Functions app folder (holds function_app.py, host.json and pyproject.toml).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the zip (default: <app-dir>/.fninfer/package.zip).",
)
@click.option("--python-version", default="3.11", show_default=True, help="The Function App's Python version.")
@click.option("--include-model", "models", multiple=True, metavar="NAME:VERSION", help="Bake a registered model in.")
@click.option("--include-service", "services", multiple=True, metavar="NAME", help="Bake a deployed service in.")
@click.option(
    "--storage", default=None, metavar="CONNECTION_STRING", help="The registry to bake from (default: the workspace)."
)
@click.option("--find-links", multiple=True, metavar="DIR", help="Also take wheels from this folder (pip's option).")
@click.option("--no-index", is_flag=True, help="Take wheels from --find-links only (an offline build).")
@click.option(
    "--from-environments",
    is_flag=True,
    help="Add every registered environment's packages to the app's dependencies; conflicting pins fail the build.",
)
@click.option(
    "--with",
    "extras",
    multiple=True,
    metavar="EXTRA",
    help="Include this extra of the app's (e.g. parquet: pyarrow, for Parquet files) whatever the registry needs.",
)
def package(
    app_dir: Path,
    output: Path | None,
    python_version: str,
    models: tuple[str, ...],
    services: tuple[str, ...],
    storage: str | None,
    find_links: tuple[str, ...],
    no_index: bool,
    from_environments: bool,
    extras: tuple[str, ...],
) -> None:
    """Build the zip Azure Functions runs as it is: the app, its dependencies for Linux, and optionally models and
    services, so nothing is built or downloaded on Azure."""
    from fninfer_cli.packaging.build import PackageRequest, build_package
    from fninfer_cli.packaging.dependencies import Target
    from shared.core.errors import FninferError
    from shared.core.storage import Storage

    registry = None
    try:
        if storage is not None:
            registry = Storage.from_connection_string(storage)
        elif models or services or from_environments:
            from fninfer._workspace import Workspace

            registry = Workspace.from_config().storage
        else:
            registry = _workspace_registry()  # to see whether something registered needs an optional feature
        wanted = None
        if from_environments:
            from fninfer_cli.packaging.environments import environment_requirements

            wanted = environment_requirements(app_dir, registry, python_version, click.echo)
        request = PackageRequest(
            app_dir=app_dir,
            output=output or app_dir / ".fninfer" / "package.zip",
            target=Target(python_version, find_links, no_index),
            models=models,
            services=services,
            storage=registry,
            requirements=wanted,
            extras=extras,
        )
        report = build_package(request)
    except FninferError as exc:
        raise click.ClickException(exc.message) from None
    for line in report.lines():
        click.echo(line)


@main.command()
@click.option(
    "--from-environments",
    is_flag=True,
    help="Install every registered environment's packages (with the app's own, in one resolve).",
)
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The Functions app folder (its pyproject.toml's dependencies are kept satisfied).",
)
@click.option(
    "--storage", default=None, metavar="CONNECTION_STRING", help="The registry to read (default: the workspace)."
)
@click.option(
    "--python",
    "python",
    default=None,
    metavar="PATH",
    help="The interpreter whose environment gets the packages (default: this one, which `fninfer start` runs).",
)
@click.option("--find-links", multiple=True, metavar="DIR", help="Also take wheels from this folder (pip's option).")
@click.option("--no-index", is_flag=True, help="Take wheels from --find-links only.")
@click.option("--dry-run", is_flag=True, help="Print the requirements and the pip command; install nothing.")
def install(
    from_environments: bool,
    app_dir: Path,
    storage: str | None,
    python: str | None,
    find_links: tuple[str, ...],
    no_index: bool,
    dry_run: bool,
) -> None:
    """Install packages into the local environment `fninfer start` runs, as `fninfer package` builds them into the
    app: a script step or service that imports a package of its environment then runs locally too."""
    from fninfer_cli.install import install_plan, run_install
    from shared.core.errors import FninferError
    from shared.core.storage import Storage

    if not from_environments:
        raise click.UsageError("say what to install: --from-environments (the registered environments' packages)")
    try:
        if storage is not None:
            registry = Storage.from_connection_string(storage)
        else:
            from fninfer._workspace import Workspace

            registry = Workspace.from_config().storage
        plan = install_plan(app_dir, registry, python, find_links, no_index)
    except FninferError as exc:
        raise click.ClickException(exc.message) from None
    if dry_run:
        for note in plan.notes:
            click.echo(f"note: {note}")
        click.echo("\n".join(plan.requirements))
        click.echo(" ".join(plan.command))
        return
    sys.exit(run_install(plan, click.echo))


def _workspace_registry() -> Storage | None:
    """The workspace's registry when a workspace config is found here, else None."""
    from fninfer._workspace import Workspace
    from shared.core.errors import FninferError

    try:
        return Workspace.from_config().storage
    except FninferError:
        return None
