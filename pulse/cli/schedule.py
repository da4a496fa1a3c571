"""`pulse scheduler`: run the jobs on their `[schedule]` times until stopped."""

from __future__ import annotations

import logging
import sys

import click

from pulse.core import registry

from jobs.runner import JOBS, run_job
from jobs.scheduler import run_forever
from pulse.cli.common import load_config


@click.command()
@click.option("--once", "once", type=click.Choice(sorted(JOBS)), multiple=True,
              help="Run this job now, once, and exit (repeatable); exit 1 if it had problems.")
@click.pass_context
def scheduler(ctx: click.Context, once: tuple[str, ...]) -> None:
    """Run `refresh` (ingest, build, dashboard snapshot) and `publish` on the times of [schedule].

    For cron instead: `pulse ingest && pulse build` and `pulse publish`, one line each.
    """
    config = load_config(ctx)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        ok = all([run_job(name, config) for name in once])
        sys.exit(0 if ok else 1)
    run_forever(config)


@registry.hookimpl
def pulse_commands():
    return [scheduler]
