"""`pulse run JOB`: one run of a job, for cron.

Quiet when it did its work (cron mails whatever a job prints), one line on stderr when it did
not; `--verbose` tells each step, `--log-format json` writes JSON lines. Exit codes: 0 done, 1
failed, 2 bad usage or configuration, 75 (EX_TEMPFAIL) another run of the job holds its lock,
or another process kept the warehouse past `warehouse.lock_timeout_seconds`: try again later.
"""

from __future__ import annotations

import logging
import signal
import sys

import click

from pulse.cli.common import LOG_FORMATS, configure_logging, load_config
from pulse.core import registry


class _JobName(click.ParamType):
    """A registered job's name (checked when used: the registry is loaded only then)."""

    name = "JOB"

    def convert(self, value, param, ctx):
        from jobs.runner import jobs

        known = jobs()
        if value not in known:
            self.fail(f"no job {value!r}; the jobs are {', '.join(sorted(known))}", param, ctx)
        return value


@click.command("run")
@click.argument("job", type=_JobName())
@click.option("--verbose", "-v", is_flag=True, help="Log each step (start, waits, what it did), not only failures.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              help="Log lines on stderr as plain text or JSON lines.")
@click.pass_context
def run_command(ctx: click.Context, job: str, verbose: bool, log_format: str) -> None:
    """Run JOB once, recorded in the job history (`pulse status`); for cron.

    The jobs: refresh (ingest, build, dashboards' snapshot, alerts), ingest, build, snapshot,
    publish, digest. Silent when it did its work; exit 0 done, 1 failed (one line on stderr),
    2 bad usage or configuration, 75 another run of JOB is going on (or the warehouse stayed
    busy): cron simply tries again at the next time.
    """
    from jobs.runner import EXIT_BUSY, Interrupted, JobBusy, execute

    configure_logging(log_format, level=logging.DEBUG if verbose else logging.WARNING)
    log = logging.getLogger("pulse.jobs")
    config = load_config(ctx)

    def stop(number, _frame):
        raise Interrupted(f"stopped by {signal.Signals(number).name}")

    signal.signal(signal.SIGTERM, stop)
    try:
        outcome = execute(job, config, trigger="run")
    except JobBusy as busy:
        log.error("%s: not started: %s", job, busy, extra={"fields": {"job": job, "event": "busy",
                                                                     "holder": busy.holder, "exit_code": EXIT_BUSY}})
        sys.exit(EXIT_BUSY)
    sys.exit(outcome.exit_code)


@registry.hookimpl
def pulse_commands():
    return [run_command]
