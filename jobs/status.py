"""`pulse status`: is Pulse healthy, and if not, what needs a person.

Read from what never waits for the warehouse: the job history (`jobs.history`), the dashboards'
snapshot (the age of the data the pages show, each source's runs as of that snapshot, the
alerts that hold: `dashboards.alerts.active_alerts`) and the posts store. So it answers at
once while an ingest or a build runs, which is what a health check needs.

Healthy means nothing needs a person: no job whose last run failed or was killed, data behind
the dashboards no older than `[status] max_data_age_hours`, and no post failed or needing
attention. Alerts on the figures (attendance, growth) are shown but are the leads' business,
not the operator's: they do not make Pulse unhealthy.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pulse.core.config import Config
from pulse.core.instants import duration, now_utc

from jobs import history
from jobs.runner import jobs


@dataclass(frozen=True)
class JobStatus:
    job: str
    schedule: str
    """When the scheduler runs it, in words ("never" when it has no trigger)."""
    last: history.Run | None
    running: bool


@dataclass(frozen=True)
class SourceStatus:
    name: str
    last_completed_at: datetime | None
    lag: timedelta | None
    last_status: str | None


@dataclass(frozen=True)
class DataStatus:
    snapshot_at: datetime | None
    """When the dashboards' snapshot was taken (None: there is none)."""
    built: bool
    data_as_of: datetime | None
    """When the last complete ingest in it finished: what "the data is N hours old" counts from."""
    age: timedelta | None
    events_waiting: int
    """Events ingested but not in the figures yet."""


@dataclass
class Health:
    at: datetime
    jobs: list[JobStatus] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)
    posts: dict[str, int] = field(default_factory=dict)
    """pending_approval, failed, needs_attention, waiting_retry (throttled, waiting for their time)."""
    data: DataStatus | None = None
    alerts: list = field(default_factory=list)
    """`dashboards.alerts.Alert`s that hold now."""
    problems: list[str] = field(default_factory=list)
    """What needs a person, one line each; empty: healthy."""
    notes: list[str] = field(default_factory=list)
    """What could not be read (said, not fatal)."""

    @property
    def healthy(self) -> bool:
        return not self.problems


def check(config: Config, now: datetime | None = None) -> Health:
    now = now or now_utc()
    health = Health(at=now)
    _jobs(config, health)
    _snapshot(config, health, now)
    _posts(config, health, now)
    return health


def _jobs(config: Config, health: Health) -> None:
    from jobs.scheduler import describe

    with history.JobHistory(config) as store:
        store.settle_killed()
        last = store.last_runs()
    for name in jobs():
        run = last.get(name)
        trigger = describe(config.schedule.trigger(name))
        running = run is not None and run.outcome == "running"
        health.jobs.append(JobStatus(name, trigger, run, running))
        if run is not None and run.outcome in history.PROBLEMS:
            health.problems.append(f"job {name}: last run {run.outcome}: {run.error or run.line or ''}".rstrip(": "))


def _snapshot(config: Config, health: Health, now: datetime) -> None:
    from dashboards.snapshot import open_snapshot, read_freshness, read_sources, snapshot_path

    bound = config.status.max_data_age_hours
    path = snapshot_path(config)
    if not path.exists():
        health.data = DataStatus(None, False, None, None, 0)
        if bound:
            health.problems.append("data: the dashboards have no data yet; run `pulse run refresh` "
                                   "(or start `pulse scheduler`)")
        return
    try:
        with contextlib.closing(open_snapshot(path)) as con:
            freshness = read_freshness(con)
            runs = {s.name: s for s in read_sources(con)}
    except Exception as error:  # noqa: BLE001 - a snapshot being replaced or damaged: say so, go on
        health.notes.append(f"the dashboards' snapshot could not be read: {type(error).__name__}: {error}")
        return
    as_of = freshness.last_ingest_at
    age = now - as_of if as_of else None
    health.data = DataStatus(freshness.snapshot_at, freshness.built, as_of, age,
                             max(freshness.max_seq - freshness.last_seq, 0))
    if bound:
        if as_of is None:
            health.problems.append("data: no ingest has completed yet; run `pulse run refresh` and see `pulse sources`")
        elif age > timedelta(hours=bound):
            health.problems.append(f"data: the dashboards' data is {duration(age)} old (more than {bound:g} hours); "
                                   "see `pulse sources` and the refresh job")
    for source in config.sources:
        run = runs.get(source.name)
        last = run.last_completed_at if run else None
        health.sources.append(SourceStatus(source.name, last, now - last if last else None,
                                           run.last_status if run else None))
    if not config.alerts.configured:
        return  # nothing to check (and the alerts' figures code is not even loaded)
    try:
        from dashboards.alerts import active_alerts

        health.alerts = active_alerts(config, now)
    except Exception as error:  # noqa: BLE001 - the alerts are a view on the figures; status goes on
        health.notes.append(f"alerts could not be checked: {type(error).__name__}: {error}")


def _posts(config: Config, health: Health, now: datetime) -> None:
    from posters.store import FILE_NAME, PostStore, iso

    if not (config.data_dir / FILE_NAME).exists():
        return
    with PostStore(config) as store:
        posts = store.find(states=("pending_approval", "failed", "needs_attention", "approved", "scheduled"))
    stamp = iso(now)
    counts = {"pending_approval": 0, "failed": 0, "needs_attention": 0, "waiting_retry": 0}
    for post in posts:
        if post.state in ("approved", "scheduled"):
            if post.not_before and post.not_before > stamp:
                counts["waiting_retry"] += 1
        else:
            counts[post.state] += 1
    health.posts = counts
    if counts["failed"]:
        health.problems.append(f"posts: {counts['failed']} failed; fix the cause, then `pulse posts retry ID`")
    if counts["needs_attention"]:
        health.problems.append(f"posts: {counts['needs_attention']} need attention (sent or not?); check the channel, "
                               "then `pulse posts resolve ID`")
