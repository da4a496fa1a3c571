"""The long-lived scheduler (`pulse scheduler`): the runner's jobs on the times of `[schedule]`.

Each job has a crontab line or an interval (`every_seconds`), with an optional random delay
(`jitter_seconds`). A job runs through `jobs.runner.execute`, the same as `pulse run`, so it is
recorded in the job history and holds the job's lock: one instance of each job at a time, in
this process or any other (a cron `pulse run refresh` and the scheduler can be mixed). A job
still running at its next time is skipped with a log line; ticks missed while the machine slept
collapse into one run. On SIGTERM or SIGINT the scheduler takes no new job, lets a running one
finish (up to `[schedule] stop_grace_seconds`) and exits 0; a second signal, or the grace
running out, stops at once (exit 1), recording the cut run as *interrupted*.

Logs are plain words at INFO ("refresh: done in 3.2 s: ...", "next refresh at 07:51");
APScheduler's own messages are kept out of them.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pulse.core.config import Config
from pulse.core.storage import StorageError

from jobs import history
from jobs.runner import JobBusy, execute, jobs

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("pulse.jobs")

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """A crontab weekday field (0 or 7 = Sunday, 1 = Monday, or sun-sat; lists, ranges, steps)
    as a list of APScheduler's day names: its own numbers start at Monday = 0, so `1` given to
    it as it is would mean Tuesday."""
    if field == "*":
        return field
    chosen: set[int] = set()
    for item in field.lower().split(","):
        part, slash, step_text = item.partition("/")
        if slash and (not step_text.isdigit() or int(step_text) < 1):
            raise ValueError(f"weekday step {step_text!r} is not a whole number above 0")
        step = int(step_text) if slash else 1
        if part == "*":
            first, last = 0, 6
        elif "-" in part:
            low, high = part.split("-", 1)
            first, last = _day(low), _day(high)
            if last < first:
                raise ValueError(f"weekday range {part!r} runs backwards")
        else:
            first = _day(part)
            last = 6 if slash else first
        chosen.update(day % 7 for day in range(first, last + 1, step))
    return "*" if len(chosen) == 7 else ",".join(_DAYS[day] for day in sorted(chosen))


def _day(text: str) -> int:
    """0-7 (7 is Sunday again, kept as 7 so that `5-7` is a range) or sun-sat."""
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text in _DAYS:
        return _DAYS.index(text)
    raise ValueError(f"weekday {text!r} is not 0-7 or sun-sat")


def cron_trigger(line: str, timezone: str, jitter: float | None = None):
    """An APScheduler trigger for a five-field crontab line, read as cron reads it."""
    from apscheduler.triggers.cron import CronTrigger

    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(weekday),
                       timezone=timezone, jitter=jitter or None)


def make_trigger(trigger, timezone: str):
    """The APScheduler trigger of a `[schedule]` entry (`jobs.plugin.Trigger`); None: never."""
    from apscheduler.triggers.interval import IntervalTrigger

    if trigger.never:
        return None
    if trigger.cron:
        return cron_trigger(trigger.cron, timezone, trigger.jitter_seconds)
    return IntervalTrigger(seconds=trigger.every_seconds, timezone=timezone, jitter=trigger.jitter_seconds or None)


def describe(trigger) -> str:
    """A `[schedule]` entry in words: `at "*/15 * * * *"`, `every 90 s`, `(jitter up to 30 s)`."""
    if trigger.never:
        return "never"
    text = f"on \"{trigger.cron}\"" if trigger.cron else f"every {trigger.every_seconds:g} s"
    if trigger.jitter_seconds:
        text += f" (each start up to {trigger.jitter_seconds:g} s late, at random)"
    return text


def _clock(moment: datetime | None, timezone: str) -> str:
    """`07:51` (`07:51:30` when the seconds matter), with the day when it is not today."""
    if moment is None:
        return "never"
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(timezone))
    text = local.strftime("%H:%M:%S" if local.second or local.microsecond else "%H:%M")
    if local.date() != datetime.now(ZoneInfo(timezone)).date():
        text = local.strftime("%a %d %b ") + text
    return text


@dataclass
class _Running:
    started: float
    run_id: int | None = None


class Scheduler:
    """The jobs of `[schedule]` on their triggers: `start()`, then `request_stop()` (a signal, in
    `run_forever`) and `wait_and_stop()`."""

    def __init__(self, config: Config):
        self.config = config
        self.timezone = config.schedule.timezone
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._now = threading.Event()
        self.scheduler = make_scheduler(config, self._fire)

    def _fire(self, name: str) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            info = self._running[name] = _Running(time.monotonic())
        try:
            execute(name, self.config, trigger="scheduler",
                    on_started=lambda run_id: setattr(info, "run_id", run_id))
        except JobBusy as busy:
            log.info("%s: skipped: it is running in another process (%s)", name, busy.holder,
                     extra={"fields": {"job": name, "event": "skipped", "holder": busy.holder}})
        except StorageError as error:
            log.error("%s: could not start: %s", name, error, extra={"fields": {"job": name, "event": "failed"}})
        except Exception as error:  # noqa: BLE001 - the scheduler lives on to the next tick
            log.debug("%s: unexpected error", name, exc_info=True)
            log.error("%s: could not run: %s: %s", name, type(error).__name__, error,
                      extra={"fields": {"job": name, "event": "failed"}})
        finally:
            with self._lock:
                self._running.pop(name, None)
            if not self._stopping.is_set():
                self._say_next(name)

    def _say_next(self, name: str) -> None:
        job = self.scheduler.get_job(name)
        if job is not None and job.next_run_time is not None:
            log.info("next %s at %s", name, _clock(job.next_run_time, self.timezone),
                     extra={"fields": {"job": name, "event": "next", "at": job.next_run_time.isoformat()}})

    def _skipped(self, event) -> None:
        with self._lock:
            info = self._running.get(event.job_id)
        since = f" for {time.monotonic() - info.started:.0f} s" if info else ""
        log.info("%s: still running%s: skipped the run due at %s", event.job_id, since,
                 _clock(event.scheduled_run_times[0] if event.scheduled_run_times else None, self.timezone),
                 extra={"fields": {"job": event.job_id, "event": "skipped"}})

    def start(self) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self.scheduler.start()
        planned = self.scheduler.get_jobs()
        if not planned:
            log.warning("no job is scheduled: every [schedule] entry is empty")
        for job in planned:
            log.info("%s: %s; next at %s", job.id, describe(self.config.schedule.trigger(job.id)),
                     _clock(job.next_run_time, self.timezone),
                     extra={"fields": {"job": job.id, "event": "scheduled", "at": job.next_run_time.isoformat()}})

    def request_stop(self, reason: str = "asked to stop") -> None:
        """Take no new job; `wait_and_stop` lets the running ones finish. A second request cuts them."""
        if self._stopping.is_set():
            self._now.set()
            log.warning("%s again: stopping now", reason)
            return
        self._stopping.set()
        with self._lock:
            running = sorted(self._running)
        if running:
            log.info("%s: taking no new job; waiting for %s to finish (up to %g s)", reason, ", ".join(running),
                     self.config.schedule.stop_grace_seconds)
        else:
            log.info("%s: stopping", reason)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait_and_stop(self) -> int:
        """Stop the scheduler; wait up to the grace for running jobs. 0 when all finished, 1 when
        one had to be cut (recorded *interrupted*; the caller exits the process at once)."""
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.config.schedule.stop_grace_seconds
        while True:
            with self._lock:
                running = dict(self._running)
            if not running:
                log.info("stopped", extra={"fields": {"event": "stopped"}})
                return 0
            if time.monotonic() >= deadline or self._now.is_set():
                break
            self._now.wait(0.1)
        with history.JobHistory(self.config) as store:
            for name, info in running.items():
                if info.run_id is not None:
                    store.finish(info.run_id, "interrupted",
                                 error=f"the scheduler stopped after {time.monotonic() - info.started:.0f} s "
                                       "before it finished; the next run goes on from what was committed")
                log.warning("%s: did not finish within the grace period; cut (recorded interrupted)", name,
                            extra={"fields": {"job": name, "event": "interrupted"}})
        return 1


def make_scheduler(config: Config, fire=None) -> BackgroundScheduler:
    """An APScheduler scheduler with every job of `[schedule]` that has a trigger (`fire(name)`
    runs one; by default `execute`)."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    timezone = config.schedule.timezone
    scheduler = BackgroundScheduler(timezone=timezone, executors={"default": ThreadPoolExecutor(max_workers=8)})
    run = fire or (lambda name: execute(name, config, trigger="scheduler"))
    for name in jobs():
        trigger = make_trigger(config.schedule.trigger(name), timezone)
        if trigger is None:
            continue
        scheduler.add_job(run, trigger, args=[name], id=name, name=name, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
    return scheduler


def run_forever(config: Config) -> int:
    """Run until SIGTERM or SIGINT; returns the exit code (0: stopped cleanly)."""
    # APScheduler's own lines ("Adding job tentatively", "Running job ...") are not for operators.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    runner = Scheduler(config)
    names = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}
    wake = threading.Event()

    def on_signal(number, _frame):
        runner.request_stop(names.get(number, "signal"))
        wake.set()

    previous = {number: signal.signal(number, on_signal) for number in names}
    try:
        runner.start()
        while not runner.stopping:
            wake.wait(1.0)
        return runner.wait_and_stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
