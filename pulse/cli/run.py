"""`pulse run JOB`: one run of a job, for cron.

Quiet when it did its work (cron mails whatever a job prints), one line on stderr when it did
not; `--verbose` tells each step, `--log-format json` writes JSON lines. Exit codes: 0 done, 1
failed, 2 bad usage or configuration, 75 (EX_TEMPFAIL) another run of the job holds its lock,
or another process kept the warehouse past `warehouse.lock_timeout_seconds`: try again later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

import click

from pulse.cli.common import LOG_FORMATS, configure_logging, load_config
from pulse.core import registry


STOP_WAIT_SECONDS = 10.0
"""After SIGTERM, how long a job may take to wind down (its transactions roll back) before the
process records it *interrupted* and exits anyway."""


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
    # Whatever ends this command early (a bad config, the data folder) is a log line too.
    ctx.find_root().obj["report"] = lambda message, code: log.error(
        "%s", message, extra={"fields": {"job": job, "event": "failed", "exit_code": code}})
    config = load_config(ctx)

    current: dict = {}

    def hard_stop(name: str) -> None:
        # The job did not unwind in time (a thread stuck in a network call): record it and go.
        from jobs.history import JobHistory

        with contextlib.suppress(Exception), JobHistory(config) as store:
            if "run_id" in current:
                store.finish(current["run_id"], "interrupted",
                             error=f"stopped by {name}; it did not wind down within {STOP_WAIT_SECONDS:g} s")
        log.warning("%s: stopped by %s; it did not wind down within %g s", job, name, STOP_WAIT_SECONDS,
                    extra={"fields": {"job": job, "event": "interrupted"}})
        os._exit(1)

    def stop(number, _frame):
        name = signal.Signals(number).name
        if current.get("stopping"):
            return
        current["stopping"] = True
        timer = threading.Timer(STOP_WAIT_SECONDS, hard_stop, [name])
        timer.daemon = True
        timer.start()
        raise Interrupted(f"stopped by {name}")

    signal.signal(signal.SIGTERM, stop)
    try:
        outcome = execute(job, config, trigger="run", on_started=lambda run_id: current.update(run_id=run_id))
    except JobBusy as busy:
        log.error("%s: not started: %s", job, busy, extra={"fields": {"job": job, "event": "busy",
                                                                     "holder": busy.holder, "exit_code": EXIT_BUSY}})
        sys.exit(EXIT_BUSY)
    except Interrupted as stopped:  # before the job itself started
        log.warning("%s: not started: %s", job, stopped, extra={"fields": {"job": job, "event": "interrupted"}})
        sys.exit(1)
    sys.exit(outcome.exit_code)


@registry.hookimpl
def pulse_commands():
    return [run_command]
