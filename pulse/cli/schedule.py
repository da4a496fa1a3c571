"""`pulse scheduler`: run the jobs on their `[schedule]` times until stopped."""

from __future__ import annotations

import logging
import os
import sys

import click

from pulse.cli.common import LOG_FORMATS, configure_logging, fail, load_config
from pulse.core import registry


@click.command()
@click.option("--once", "once", metavar="JOB", multiple=True,
              help="Run this job now, once, and exit (repeatable); exit 1 if it had problems.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              help="Log lines on stderr as plain text or JSON lines.")
@click.pass_context
def scheduler(ctx: click.Context, once: tuple[str, ...], log_format: str) -> None:
    """Run the jobs on the times of [schedule] until SIGTERM or Ctrl-C.

    By default refresh (ingest, build, dashboards' snapshot, alerts) every 15 minutes, publish
    every 5 and digest every 30. One run of each job at a time, here or in any `pulse run`; on
    SIGTERM a running job finishes first ([schedule] stop_grace_seconds), then exit 0.
    For cron instead: `pulse run refresh`, `pulse run publish`.
    """
    from jobs.runner import jobs, run_job

    config = load_config(ctx)
    unknown = [name for name in once if name not in jobs()]
    if unknown:
        fail(f"--once: no job {unknown[0]!r}; the jobs are {', '.join(sorted(jobs()))}", code=2)
    configure_logging(log_format, level=logging.INFO, timestamps=True)
    if once:
        ok = all([run_job(name, config, trigger="once") for name in once])
        sys.exit(0 if ok else 1)
    from jobs.scheduler import run_forever

    code = run_forever(config)
    if code:
        # A job thread that would not finish in the grace period is not waited for.
        sys.stderr.flush()
        os._exit(code)
    sys.exit(0)


@registry.hookimpl
def pulse_commands():
    return [scheduler]
