"""The posters' configuration: `[publisher]` (how `pulse publish` talks to the channels' APIs)
and `[cities.SLUG]` (each city's channels, each read by its channel kind's model)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from pulse.core.config import ConfigError, ConfigSection, Settings, reject_unknown, validate

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


class PublisherSettings(Settings):
    """`[publisher]`: how `pulse publish` talks to Slack, X and Facebook (the channels themselves are per city)."""

    timeout_seconds: float = Field(20.0, gt=0)
    """Every request to a channel's API gives up after this long (the libraries set none by default)."""
    max_attempts: int = Field(5, ge=1)
    """Tries per post for timeouts and 5xx before it is marked failed (throttling never counts)."""
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(60.0, gt=0)
    max_wait_seconds: float = Field(120.0, gt=0)
    """Longest a run sleeps for a rate-limit reset; a later reset leaves the post for the next run."""
    slack_signing_secret_env: str = ""
    """Environment variable with the Slack app's signing secret (approve/reject buttons)."""
    allow_hosts_for_tests: tuple[str, ...] = Field((), strict=False)
    """Hosts allowed besides plugin.json's external domains, for channel `base_url`s in tests (e.g. "127.0.0.1")."""


class CitySettings(Settings):
    slug: str
    approvals_slack_channel: str = ""
    """Slack channel where drafts needing approval are sent with Approve/Reject buttons (uses this city's Slack token)."""
    leads_slack_channel: str = ""
    """Slack channel of the city's leads: its weekly digest and its alerts go there (uses this city's Slack token)."""
    channels: tuple[Any, ...] = Field((), strict=False)
    """Each a `ChannelSettings` of its kind."""

    def channel(self, kind: str):
        return next((c for c in self.channels if c.kind == kind), None)


def _parse_cities(raw: Any, key: str) -> tuple[CitySettings, ...]:
    from posters.channels import kinds
    from posters.channels.slack import SlackKind

    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table of cities, e.g. [cities.sydney.channels.slack] channel = \"#meetups\"")
    known = kinds()
    built = []
    for slug, table in raw.items():
        where = f"{key}.{slug}"
        if not _SLUG.match(slug):
            raise ConfigError(f"{where}: a city is named by its slug from the event stream ([a-z0-9][a-z0-9-]*)")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table with a `channels` table")
        reject_unknown(table, {"channels", "approvals_slack_channel", "leads_slack_channel"}, prefix=where + ".")
        raw_channels = table.get("channels", {})
        if not isinstance(raw_channels, dict):
            raise ConfigError(f"{where}.channels: expected tables [{where}.channels.KIND], KIND one of {', '.join(known)}")
        reject_unknown(raw_channels, known, prefix=f"{where}.channels.")
        channels = tuple(validate(known[kind].settings, channel_table, f"{where}.channels.{kind}", city=slug, kind=kind)
                         for kind, channel_table in raw_channels.items())
        city = validate(CitySettings, {k: v for k, v in table.items() if k != "channels"}, where, slug=slug)
        city = city.model_copy(update={"channels": channels})
        if city.approvals_slack_channel and city.channel(SlackKind.name) is None:
            raise ConfigError(f"{where}.approvals_slack_channel: needs [{where}.channels.{SlackKind.name}] "
                              "for the bot token to send with")
        if city.leads_slack_channel and city.channel(SlackKind.name) is None:
            raise ConfigError(f"{where}.leads_slack_channel: needs [{where}.channels.{SlackKind.name}] "
                              "for the bot token to send with")
        built.append(city)
    return tuple(built)


def _city_secrets(cities: tuple[CitySettings, ...]):
    for city in cities:
        for channel in city.channels:
            for name, env_name in channel.secret_keys():
                yield f"{channel.key}.{name}", env_name


def cities_section() -> ConfigSection:
    return ConfigSection("cities", _parse_cities, secrets=_city_secrets)


def publisher_section() -> ConfigSection:
    return ConfigSection("publisher", lambda raw, key: validate(PublisherSettings, {} if raw is None else raw, key),
                         secrets=lambda value: ((f"publisher.{k}", env) for k, env in value.secret_keys()))
