"""`pulse scheduler`: run the jobs on their `[schedule]` times until stopped."""

from __future__ import annotations

import logging
import sys

import click

from pulse.cli.common import fail, load_config
from pulse.core import registry


@click.command()
@click.option("--once", "once", metavar="JOB", multiple=True,
              help="Run this job now, once, and exit (repeatable); exit 1 if it had problems.")
@click.pass_context
def scheduler(ctx: click.Context, once: tuple[str, ...]) -> None:
    """Run `refresh` (ingest, build, dashboard snapshot) and `publish` on the times of [schedule].

    For cron instead: `pulse ingest && pulse build` and `pulse publish`, one line each.
    """
    from jobs.runner import jobs, run_job
    from jobs.scheduler import run_forever

    config = load_config(ctx)
    unknown = [name for name in once if name not in jobs()]
    if unknown:
        fail(f"--once: no job {unknown[0]!r}; the jobs are {', '.join(sorted(jobs()))}", code=2)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        ok = all([run_job(name, config) for name in once])
        sys.exit(0 if ok else 1)
    run_forever(config)


@registry.hookimpl
def pulse_commands():
    return [scheduler]
