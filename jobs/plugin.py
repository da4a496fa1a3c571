"""What the `jobs` package registers: the `[ingest]`, `[sources.NAME]` and `[schedule]` sections,
the ingest tables' migrations, and the jobs `pulse run` and the scheduler run."""

from __future__ import annotations

from importlib import resources

from pydantic import field_validator

from pulse.core import registry
from pulse.core.config import Settings, model_section
from pulse.core.timezones import check_timezone
from pulse.core.warehouse import Migrations

from jobs.ingest.settings import IngestSettings
from jobs.ingest.sources import sources_section


class ScheduleSettings(Settings):
    """`[schedule]`: when `pulse scheduler` runs each job, as crontab lines (empty: never)."""

    refresh: str = "*/15 * * * *"
    """Ingest every source, build the metrics, publish the dashboards' snapshot."""
    publish: str = "*/5 * * * *"
    """Draft posts for new meetups and send those due."""
    digest: str = "*/30 * * * *"
    """Send the digests that are due (their day and time are `[digests]`'s, in each city's time)."""
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("refresh", "publish", "digest")
    @classmethod
    def _crontab(cls, value: str) -> str:
        if value:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as error:
                raise ValueError(f"{value!r} is not a crontab line ({error}); write five fields, "
                                 "e.g. \"*/15 * * * *\", or \"\" for never") from None
        return value


@registry.hookimpl
def pulse_config_sections():
    return [model_section("ingest", IngestSettings), sources_section(), model_section("schedule", ScheduleSettings)]


@registry.hookimpl
def pulse_warehouse_migrations():
    return [Migrations("ingest", resources.files("jobs.ingest") / "migrations", order=10)]
