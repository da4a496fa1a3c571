"""What `analytics` registers: the `[analytics]` section and the models' warehouse migrations."""

from __future__ import annotations

from importlib import resources

from pydantic import field_validator

from pulse.core import registry
from pulse.core.config import Settings, model_section
from pulse.core.timezones import check_timezone
from pulse.core.warehouse import Migrations

MIGRATIONS = Migrations("analytics", resources.files("analytics") / "migrations", order=20)


class AnalyticsSettings(Settings):
    default_timezone: str = "UTC"
    """Timezone of a city for which no `city:upserted` arrived."""

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)


@registry.hookimpl
def pulse_config_sections():
    return [model_section("analytics", AnalyticsSettings)]


@registry.hookimpl
def pulse_warehouse_migrations():
    return [MIGRATIONS]
