"""`[digests]` and `[alerts]`: what the city leads get in their Slack channel
(`[cities.SLUG] leads_slack_channel`), and when.

    [digests]
    weekly = true              # every week, for the ISO week before (Monday to Sunday, local)
    monthly = false            # on the 1st, for the month before
    day = "mon"                # the weekday the weekly digest goes out, in each city's local time
    time = "09:00"             # the local time from which a digest is due (weekly and monthly)
    dashboard_url = "https://pulse.example.org"   # the digest links to the city's page there

    [alerts]
    period = "week"            # the city rules look at the last complete week (or month)
    [alerts.all]               # rules for every city ...
    attendance_rate_below = 60 # percent, over the meetups held in the period
    no_shows_above = 40        # percent of those going
    net_growth_negative = true
    source_lag_hours = 24      # a configured source's last complete pull is older than this
    reject_rate_above = 5      # percent of the records of a source's latest run
    [alerts.cities.sydney]     # ... and a city's own, over those (only the keys it names)
    attendance_rate_below = 70
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from pulse.core.config import FieldProblem, Settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d\Z")


class DigestSettings(Settings):
    """`[digests]`: a weekly (and optional monthly) summary per city in its leads' Slack channel."""

    weekly: bool = True
    monthly: bool = False
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    """The weekday, in each city's local time, from which last week's digest is due."""
    time: str = "09:00"
    """HH:MM, each city's local time, from which a digest is due on its day."""
    dashboard_url: str = ""
    """Where `pulse serve` answers (e.g. "https://pulse.example.org"); the digest links to the city's page. Empty: no link."""
    upcoming_days: int = Field(14, ge=0, le=366)
    """The digest lists the meetups of the next this many days."""

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"expected a local time as HH:MM (e.g. \"09:00\"), got {value!r}")
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"https?://[^/?#\s]+[^?#\s]*\Z", value):
            raise ValueError(f"expected an http(s) address like \"https://pulse.example.org\", got {value!r}")
        return value.rstrip("/")

    @property
    def weekday(self) -> int:
        return WEEKDAYS.index(self.day)

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


class AlertRules(Settings):
    """The conditions of `[alerts.all]` or `[alerts.cities.SLUG]`; a key left out is not checked
    (or, in a city's table, taken from `[alerts.all]`)."""

    attendance_rate_below: float | None = Field(None, ge=0, le=100)
    """Percent: (going - no-shows) / going over the meetups held in the period is below it."""
    no_shows_above: float | None = Field(None, ge=0, le=100)
    """Percent: no-shows / going over the meetups held in the period is above it."""
    net_growth_negative: bool | None = None
    """More members left than joined in the period."""
    source_lag_hours: float | None = Field(None, gt=0)
    """A configured source's last complete pull finished longer ago than this."""
    reject_rate_above: float | None = Field(None, ge=0, le=100)
    """Percent of the records of a configured source's latest run that were rejected."""

    def over(self, base: AlertRules) -> AlertRules:
        """These rules on top of `base`: the keys this table names win."""
        return base.model_copy(update={name: getattr(self, name) for name in self.model_fields_set})


class AlertSettings(Settings):
    """`[alerts]`: rules checked after each refresh; a breach is posted once to the city's
    leads channel and shown on its page (and `pulse status`) until it clears."""

    period: Literal["week", "month"] = "week"
    """The city rules look at the last complete ISO week (or month) in the city's local time."""
    all: AlertRules = AlertRules()
    cities: dict[str, AlertRules] = Field(default_factory=dict)

    @field_validator("cities")
    @classmethod
    def _slugs(cls, value: dict) -> dict:
        for slug in value:
            if not _SLUG.match(slug):
                raise FieldProblem(slug, "a city is named by its slug from the event stream ([a-z0-9][a-z0-9-]*)")
        return value

    def rules_for(self, slug: str) -> AlertRules:
        own = self.cities.get(slug)
        return own.over(self.all) if own is not None else self.all

    @property
    def configured(self) -> bool:
        rules = [self.all, *self.cities.values()]
        return any(getattr(r, name) not in (None, False) for r in rules for name in AlertRules.model_fields)
