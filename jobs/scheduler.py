"""The long-lived scheduler (`pulse scheduler`): the runner's jobs on the cron times of `[schedule]`.

A job never overlaps itself (a slow refresh makes the next tick wait, not pile up), missed ticks
collapse into one run, and SIGTERM or Ctrl-C lets the running job finish before exiting.
"""

from __future__ import annotations

import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.runner import jobs, run_job
from pulse.core.config import Config

log = logging.getLogger("pulse.jobs")


def make_scheduler(config: Config) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=config.schedule.timezone)
    for name in jobs():
        crontab = getattr(config.schedule, name, "")
        if not crontab:
            continue
        scheduler.add_job(run_job, CronTrigger.from_crontab(crontab, timezone=config.schedule.timezone),
                          args=[name, config], id=name, name=name, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
    return scheduler


def run_forever(config: Config) -> None:
    scheduler = make_scheduler(config)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    for job in scheduler.get_jobs():
        log.info("scheduled %s: %s", job.name, job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
