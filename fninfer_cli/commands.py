"""`fninfer check`, `fninfer migrate` and `fninfer ml`: click commands fninfer_cli/main.py loads when called."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fninfer_cli.check import as_json, check, summarize
from fninfer_cli.migrate import migrate
from fninfer_cli.ml import ml

__all__ = ["check_command", "migrate_command", "ml"]

_PATHS = click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))


@click.command("check")
@_PATHS
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(["unsupported", "differs", "never"]),
    default="unsupported",
    show_default=True,
    help="Exit with status 1 when a use has this verdict (differs: also on unsupported).",
)
@click.option("--quiet", "-q", is_flag=True, help="Leave out the uses that run; print the rest and the summary.")
def check_command(paths: tuple[Path, ...], output: str, fail_on: str, quiet: bool) -> None:
    """Report each use of Azure ML under PATHS (folders, .py files, notebooks, environment and configuration files)
    as `runs`, `differs` (how, and what to do) or `unsupported` (why, and what to use instead)."""
    findings = list(check(list(paths) or [Path(".")]))
    if output == "json":
        click.echo(as_json(findings))
    else:
        for finding in findings:
            if not (quiet and finding.verdict == "runs"):
                click.echo(finding.text())
        click.echo(summarize(findings).text())
    failing = {"unsupported": {"unsupported"}, "differs": {"unsupported", "differs"}, "never": set()}[fail_on]
    sys.exit(1 if any(f.verdict in failing for f in findings) else 0)


@click.command("migrate")
@_PATHS
@click.option("--diff", "show_diff", is_flag=True, help="Print the changes as a unified diff; write nothing.")
def migrate_command(paths: tuple[Path, ...], show_diff: bool) -> None:
    """Rewrite the azureml imports under PATHS (.py files and notebooks) to fninfer's, keeping everything else as it
    is. Running it again changes nothing."""
    changes = migrate(list(paths) or [Path(".")])
    changed = [c for c in changes if c.new_text is not None]
    for change in changes:
        if change.error:
            click.echo(f"{change.path}: {change.error}", err=True)
        for module in dict.fromkeys(change.left):
            click.echo(f"{change.path}: left `{module}` as it is: fninfer does not provide it (see fninfer check)")
        if change.new_text is None:
            continue
        if show_diff:
            click.echo(change.diff(), nl=False)
        else:
            change.path.write_text(change.new_text, encoding="utf-8")
    verb = "would rewrite" if show_diff else "rewrote"
    click.echo(f"fninfer migrate: {verb} the imports of {len(changed)} of {len(changes)} files", err=show_diff)
