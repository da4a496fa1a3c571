"""The jobs cron or the scheduler runs: each a `Job` registered through the `pulse_jobs` hook,
one function returning what it did (a one-line `str`, or a `JobResult` with counts) or raising
`JobFailed`; and `execute`, the one way a job is run.

`ingest`, `build` and `snapshot` are the three steps of `refresh` (ingest every source, bring
the metrics up to date, publish the dashboards' snapshot, check `[alerts]` on it), for an
operator who wants them apart. `publish` drafts and sends posts. `digest` sends the city leads'
digests that are due (`jobs.digests`).

`execute` is shared by `pulse run JOB`, `pulse scheduler` and `pulse scheduler --once`: it
takes the job's own lock without waiting (a second run of the same job is refused at once with
`JobBusy`, naming the holder, so cron and the scheduler can be mixed safely), marks the runs
of processes that died as *killed* (`jobs.history`), records this run as *running*, runs it,
and records how it ended, with the exit code the README gives for it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pulse.core import locks, registry
from pulse.core.config import Config, ConfigError
from pulse.core.storage import StorageError
from pulse.core.warehouse import LockTimeout

from jobs import history, pipeline

log = logging.getLogger("pulse.jobs")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 75
"""`pulse run`'s exit codes: done, failed, bad usage or configuration, busy (EX_TEMPFAIL:
another run holds the job, or another process kept the warehouse past its lock timeout)."""


class JobFailed(Exception):
    """A job ran but could not do all of its work (a source unreadable, a post failed)."""

    def __init__(self, message: str, counts: dict | None = None):
        super().__init__(message)
        self.counts = counts or {}


class JobBusy(Exception):
    """Another process is running this job; `holder` says which."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


class Interrupted(BaseException):
    """Raised in the job's thread when the process is asked to stop (SIGTERM, SIGINT)."""


class JobResult(str):
    """What a job did: its one line (a JobResult is that `str`, so callers that read a job's line
    go on working), with its counts for the job history."""

    counts: dict

    def __new__(cls, line: str, counts: dict | None = None):
        result = super().__new__(cls, line)
        result.counts = dict(counts or {})
        return result

    @property
    def line(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Config], str | JobResult]
    """Does the job; returns one line (or a JobResult) saying what it did, or raises JobFailed."""
    description: str = ""


def ingest_job(config: Config) -> JobResult:
    if not config.sources:
        raise ConfigError("sources: none configured; add a [sources.NAME] table (see the README's Configuration)")
    summary = pipeline.ingest(config, on_wait=log.info)
    counts = {"accepted": summary.accepted, "duplicates": summary.duplicates, "rejected": summary.rejected}
    if summary.errors:
        raise JobFailed(f"{summary.line()}; " + "; ".join(summary.errors), counts)
    return JobResult(summary.line(), counts)


def build_job(config: Config) -> JobResult:
    report = pipeline.build(config, on_wait=log.info)
    return JobResult(f"metrics built: events up to seq {report.to_seq} ({report.events} new) in {report.seconds:.1f} s",
                     {"events": report.events, "to_seq": report.to_seq})


def snapshot_job(config: Config) -> JobResult:
    from dashboards import snapshot
    from pulse.core.warehouse import database_path, open_warehouse

    if not database_path(config).exists():
        snapshot.publish(config)  # an empty one: the pages say there is nothing yet
        return JobResult("dashboards' snapshot published (nothing ingested yet)")
    with open_warehouse(config, write=False, purpose="dashboard snapshot", on_wait=log.info) as con:
        snapshot.publish_from(con, config)
    return JobResult("dashboards' snapshot published")


def refresh_job(config: Config) -> JobResult:
    report = pipeline.refresh(config, on_wait=log.info)
    line = report.line()
    counts = {"accepted": report.ingest.accepted, "duplicates": report.ingest.duplicates,
              "rejected": report.ingest.rejected, "events": report.build.events}
    problems = list(report.ingest.errors)
    if config.alerts.configured:
        from jobs.digests import check_alerts

        try:
            alerts = check_alerts(config)
        except Exception as error:  # noqa: BLE001 - the refresh itself is done; say why the alerts are not
            problems.append(f"alerts: {type(error).__name__}: {error}")
        else:
            line += f"; {alerts.line()}"
            counts.update(alerts_active=alerts.active, alerts_posted=alerts.posted)
            problems.extend(alerts.errors)
    if problems:
        raise JobFailed(f"{line}; " + "; ".join(problems), counts)
    return JobResult(line, counts)


def digest_job(config: Config) -> str:
    from jobs.digests import run_digests

    report = run_digests(config)
    if report.errors:
        raise JobFailed(f"{report.line()}; " + "; ".join(report.errors))
    return report.line()


def publish_job(config: Config) -> JobResult:
    if not config.cities:
        return JobResult("no channels configured")
    from posters.publisher import Publisher

    report = Publisher(config, builder=functools.partial(pipeline.build, on_wait=log.info)).run()
    counts = {state: report.count(state) for state in ("published", "failed", "needs_attention", "throttled")}
    counts["pending_approval"] = sum(report.pending_approval.values())
    line = (f"published {counts['published']}, failed {counts['failed']}, "
            f"needs attention {counts['needs_attention']}")
    problems = list(report.errors)
    if report.needs_a_person:
        # Not only this run's: every post failed or unsettled waits for a person until it is fixed.
        problems.append(f"{len(report.waiting)} post{'s' if len(report.waiting) != 1 else ''} wait for a person "
                        "(`pulse posts list --status failed` / `--status needs_attention`)")
    if problems:
        raise JobFailed(f"{line}; " + "; ".join(problems), counts)
    return JobResult(line, counts)


def jobs() -> dict[str, Job]:
    """Every registered job, by name."""
    return registry.collect("pulse_jobs")


@registry.hookimpl
def pulse_jobs():
    return [Job("refresh", refresh_job, "ingest every source, build the metrics, publish the dashboards' snapshot, "
                                        "check the alerts"),
            Job("ingest", ingest_job, "pull new events from every configured source"),
            Job("build", build_job, "bring the metrics up to date and publish the dashboards' snapshot"),
            Job("snapshot", snapshot_job, "publish the dashboards' snapshot from the metrics as built"),
            Job("publish", publish_job, "draft posts for new meetups, send those approved and due"),
            Job("digest", digest_job, "send the city leads' weekly (and monthly) digests that are due")]


@dataclass(frozen=True)
class Outcome:
    """How one run ended."""

    job: str
    outcome: str
    """ok, failed or interrupted (as recorded)."""
    line: str
    """What it did (ok), or why not (failed, interrupted)."""
    seconds: float
    exit_code: int
    counts: dict = field(default_factory=dict)
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _busy_exceptions() -> tuple[type[BaseException], ...]:
    """What says "another process has it, try later" (exit 75) rather than "it failed"."""
    found: list[type[BaseException]] = [LockTimeout, locks.LockBusy]
    try:
        from posters.notices import NoticesBusy
        from posters.publisher import PublisherBusy
    except ImportError:  # pragma: no cover - the posters package is part of Pulse
        pass
    else:
        found += [PublisherBusy, NoticesBusy]
    return tuple(found)


def execute(name: str, config: Config, *, trigger: str = "run",
            on_started: Callable[[int], None] | None = None) -> Outcome:
    """Run job `name` once, recorded; `JobBusy` (before anything is done) when another process
    runs it. Never raises for the job's own failures: they are in the returned Outcome (and the
    log). `on_started(run_id)` is told once the run is recorded (the scheduler keeps it)."""
    job = jobs()[name]
    path = history.lock_path(config, name)
    try:
        with locks.hold(path, purpose=f"job {name}", timeout=0,
                        busy_message=lambda holder: f"{name} is already running: {holder}"), \
                history.JobHistory(config) as store:
            for killed in store.settle_killed(holding=name):
                log.warning("%s: the run started %s (pid %s on %s) was killed before it finished; marked killed",
                            killed.job, killed.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"), killed.pid, killed.host,
                            extra={"fields": {"job": killed.job, "event": "killed", "run_id": killed.id}})
            run_id = store.start(name, trigger)
            if on_started is not None:
                on_started(run_id)
            outcome = _run(job, config, run_id)
            store.finish(run_id, outcome.outcome, line=outcome.line if outcome.ok else None,
                         counts=outcome.counts, error=None if outcome.ok else outcome.line)
            return outcome
    except locks.LockBusy as busy:
        raise JobBusy(str(busy), busy.holder) from None
    except OSError as error:  # the lock file itself: the data folder is not usable
        from pulse.core.storage import describe

        raise StorageError(describe(error, config.data_dir)) from None


def _run(job: Job, config: Config, run_id: int) -> Outcome:
    name = job.name
    fields = {"job": name, "run_id": run_id}
    log.info("%s: started", name, extra={"fields": {**fields, "event": "started"}})
    started = time.monotonic()

    def ended(outcome: str, line: str, code: int, counts: dict | None = None) -> Outcome:
        seconds = time.monotonic() - started
        result = Outcome(name, outcome, line, seconds, code, counts or {}, run_id)
        extra = {"fields": {**fields, "event": outcome, "seconds": round(seconds, 3), "counts": result.counts,
                            "exit_code": code}}
        if outcome == "ok":
            log.info("%s: done in %.1f s: %s", name, seconds, line, extra=extra)
        elif outcome == "interrupted":
            log.warning("%s: interrupted after %.1f s: %s", name, seconds, line, extra=extra)
        else:
            log.error("%s: failed after %.1f s: %s", name, seconds, line, extra=extra)
        return result

    try:
        result = job.run(config)
    except JobFailed as failure:
        return ended("failed", str(failure), EXIT_FAILED, failure.counts)
    except ConfigError as error:
        return ended("failed", f"config: {error}", EXIT_USAGE)
    except _busy_exceptions() as busy:
        return ended("failed", str(busy), EXIT_BUSY)
    except StorageError as error:
        return ended("failed", str(error), EXIT_FAILED)
    except (Interrupted, KeyboardInterrupt) as stop:
        return ended("interrupted", str(stop) or "asked to stop", EXIT_FAILED)
    except Exception as error:  # noqa: BLE001 - a 3 a.m. run must say why in one line and live on
        log.debug("%s: unexpected error", name, exc_info=True)
        return ended("failed", f"{type(error).__name__}: {error}", EXIT_FAILED)
    if isinstance(result, JobResult):
        return ended("ok", result.line, EXIT_OK, result.counts)
    return ended("ok", str(result), EXIT_OK)


def run_job(name: str, config: Config, *, trigger: str = "once") -> bool:
    """Run one job (as `execute`), logging a busy job instead of raising; True when it did its work."""
    try:
        return execute(name, config, trigger=trigger).ok
    except JobBusy as busy:
        log.warning("%s: skipped: %s", name, busy, extra={"fields": {"job": name, "event": "skipped"}})
        return False
