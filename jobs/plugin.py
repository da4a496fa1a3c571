"""What the `jobs` package registers: the `[ingest]`, `[sources.NAME]`, `[schedule]` and
`[status]` sections, the ingest tables' migrations, and the jobs `pulse run` and the scheduler run."""

from __future__ import annotations

from importlib import resources

from pydantic import Field, ValidationError, field_validator, model_validator

from pulse.core import registry
from pulse.core.config import FieldProblem, Settings, explain, model_section
from pulse.core.timezones import check_timezone
from pulse.core.warehouse import Migrations

from jobs.ingest.settings import IngestSettings
from jobs.ingest.sources import sources_section


def _check_crontab(value: str) -> str:
    if value:
        from jobs.scheduler import cron_trigger

        try:
            cron_trigger(value, "UTC")
        except ValueError as error:
            raise ValueError(f"{value!r} is not a crontab line ({error}); write five fields, "
                             "e.g. \"*/15 * * * *\", or \"\" for never") from None
    return value


class Trigger(Settings):
    """`[schedule.JOB]` as a table: a crontab line or an interval, and a random delay."""

    what = "a job's schedule"
    cron: str = ""
    """Five crontab fields (minute hour day month weekday), in [schedule] timezone."""
    every_seconds: float | None = Field(None, gt=0)
    """Or: run every this many seconds, counted from the scheduler's start."""
    jitter_seconds: float = Field(0.0, ge=0)
    """Start each run up to this many seconds late, at random (spreads many Pulses over a minute)."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_crontab(value)

    @model_validator(mode="after")
    def _one_of(self):
        if self.cron and self.every_seconds is not None:
            raise ValueError("give either cron or every_seconds, not both")
        return self

    @property
    def never(self) -> bool:
        return not self.cron and self.every_seconds is None


class ScheduleSettings(Settings):
    """`[schedule]`: when `pulse scheduler` runs each job. A crontab line (`refresh = "*/15 * * * *"`,
    empty: never), or a table (`[schedule.refresh] every_seconds = 900, jitter_seconds = 60`)."""

    refresh: str | Trigger = "*/15 * * * *"
    """Ingest every source, build the metrics, publish the dashboards' snapshot."""
    publish: str | Trigger = "*/5 * * * *"
    """Draft posts for new meetups and send those due."""
    digest: str | Trigger = "*/30 * * * *"
    """Send the digests that are due (their day and time are `[digests]`'s, in each city's time)."""
    ingest: str | Trigger = ""
    """The steps of `refresh` on their own (none by default: refresh does them)."""
    build: str | Trigger = ""
    snapshot: str | Trigger = ""
    timezone: str = "UTC"
    stop_grace_seconds: float = Field(300.0, ge=0)
    """On SIGTERM or Ctrl-C, how long a running job may take to finish before the scheduler exits."""

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("refresh", "publish", "digest", "ingest", "build", "snapshot", mode="before")
    @classmethod
    def _job(cls, value):
        if isinstance(value, str):
            return _check_crontab(value)
        if isinstance(value, dict):
            try:
                return Trigger.model_validate(value)
            except ValidationError as error:
                where, _, message = explain(error, Trigger, "").partition(": ")
                if not where.strip("."):
                    raise ValueError(message) from None
                raise FieldProblem(where.lstrip("."), message) from None
        if isinstance(value, Trigger):
            return value
        raise ValueError(f"expected a crontab line (\"*/15 * * * *\"), \"\" for never, or a table "
                         f"(cron or every_seconds, jitter_seconds), got {type(value).__name__} {value!r}")

    def trigger(self, job: str) -> Trigger:
        """The job's trigger as a table (a crontab line becomes `cron`); a job with no key: never."""
        value = getattr(self, job, "") if job in type(self).model_fields else ""
        return value if isinstance(value, Trigger) else Trigger(cron=value)


class StatusSettings(Settings):
    """`[status]`: when `pulse status` says a person is needed (exit 1)."""

    max_data_age_hours: float = Field(24.0, ge=0)
    """The dashboards' data (its last complete ingest) older than this needs a person; 0: no bound."""


@registry.hookimpl
def pulse_config_sections():
    return [model_section("ingest", IngestSettings), sources_section(), model_section("schedule", ScheduleSettings),
            model_section("status", StatusSettings)]


@registry.hookimpl
def pulse_warehouse_migrations():
    return [Migrations("ingest", resources.files("jobs.ingest") / "migrations", order=10)]
