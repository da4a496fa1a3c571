"""`pulse backup DIR` and `pulse restore DIR`: a consistent, verified copy of the warehouse and
the people, posts and job stores, taken while jobs may run (a thin layer over `jobs.backup`)."""

from __future__ import annotations

import click

from pulse.cli.common import fail, load_config
from pulse.core import registry


def _say(message: str) -> None:
    click.echo(f"pulse: {message}", err=True)


def _carry_out(ctx: click.Context, what: str, folder: str) -> None:
    """`jobs.backup.backup` or `.restore` (`what`) of FOLDER: its report's line, or its
    BackupError as one line and exit 1."""
    from jobs import backup as backups

    config = load_config(ctx)
    try:
        report = getattr(backups, what)(config, folder, on_wait=_say)
    except backups.BackupError as error:
        fail(str(error))
    click.echo(report.line())


@click.command("backup")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.pass_context
def backup_command(ctx: click.Context, folder: str) -> None:
    """Copy the warehouse and the SQLite stores into DIR (new or empty), and verify the copy.

    Safe while jobs run: a running ingest or build is waited for (up to
    warehouse.lock_timeout_seconds); the stores are copied online. DIR gets manifest.json with
    every file's SHA-256, which `pulse restore` checks first.
    """
    _carry_out(ctx, "backup", folder)


@click.command("restore")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.pass_context
def restore_command(ctx: click.Context, folder: str) -> None:
    """Put the backup in DIR in place of the data folder's warehouse and stores.

    The backup is verified first (every file's SHA-256); the files it replaces are moved to
    before-restore-STAMP/ in the data folder, never deleted. Stop `pulse scheduler`, cron's
    `pulse run` and `pulse serve` first: a running job is refused.
    """
    _carry_out(ctx, "restore", folder)


@registry.hookimpl
def pulse_commands():
    return [backup_command, restore_command]
