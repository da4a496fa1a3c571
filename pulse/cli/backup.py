"""`pulse backup DIR` and `pulse restore DIR`: a consistent, verified copy of the warehouse and
the people, posts and job stores, taken while jobs may run (a thin layer over `jobs.backup`)."""

from __future__ import annotations

import click

from pulse.cli.common import fail, load_config
from pulse.core import registry


def _say(message: str) -> None:
    click.echo(f"pulse: {message}", err=True)


@click.command("backup")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.pass_context
def backup_command(ctx: click.Context, folder: str) -> None:
    """Copy the warehouse and the SQLite stores into DIR (new or empty), and verify the copy.

    Safe while jobs run: a running ingest or build is waited for (up to
    warehouse.lock_timeout_seconds); the stores are copied online. DIR gets manifest.json with
    every file's SHA-256, which `pulse restore` checks first.
    """
    from jobs.backup import BackupError, backup

    config = load_config(ctx)
    try:
        report = backup(config, folder, on_wait=_say)
    except BackupError as error:
        fail(str(error))
    click.echo(report.line())


@click.command("restore")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.pass_context
def restore_command(ctx: click.Context, folder: str) -> None:
    """Put the backup in DIR in place of the data folder's warehouse and stores.

    The backup is verified first (every file's SHA-256); the files it replaces are moved to
    before-restore-STAMP/ in the data folder, never deleted. Stop `pulse scheduler`, cron's
    `pulse run` and `pulse serve` first: a running job is refused.
    """
    from jobs.backup import BackupError, restore

    config = load_config(ctx)
    try:
        report = restore(config, folder, on_wait=_say)
    except BackupError as error:
        fail(str(error))
    click.echo(report.line())


@registry.hookimpl
def pulse_commands():
    return [backup_command, restore_command]
