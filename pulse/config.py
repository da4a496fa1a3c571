"""Pulse configuration: one TOML file over embedded defaults.

Where the file is: `--config`, else `$PULSE_CONFIG`, else `./pulse.toml` when it exists, else
none at all (every key has a default, so `pulse` runs with no file). Each section is a dataclass
below; the loader checks every key against it, so an unknown key, a wrong type or a missing
secret fails at start with the key's dotted name and what is expected.

Secrets never live in the file: a key ending in `_env` names the environment variable that
holds the secret, and `secret()` reads it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import available_timezones


class ConfigError(Exception):
    """A configuration problem, phrased as `key: what is wrong; what to do`."""


@dataclass(frozen=True)
class WarehouseConfig:
    data_dir: str = ".pulse"
    """Folder holding the DuckDB file and its lock; relative paths are taken from the config file's folder."""
    memory_limit: str = "512MB"
    threads: int = 2
    lock_timeout_seconds: float = 600.0
    """How long a writing command waits for another writer before giving up."""


@dataclass(frozen=True)
class IngestConfig:
    batch_bytes: int = 64 * 1024 * 1024
    """Bytes of NDJSON validated and committed per transaction (with the source's position)."""
    batch_records: int = 50_000
    """Records per transaction for the feed and the outbox."""


@dataclass(frozen=True)
class AnalyticsConfig:
    default_timezone: str = "UTC"
    """Timezone of a city for which no `city:upserted` arrived."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    """`files`, `feed` or `outbox`."""
    # files
    path: str = ""
    """A folder (its .ndjson/.jsonl files, plain or .gz, subfolders included) or a glob."""
    settle_seconds: float = 300.0
    """A last line without its newline is taken once the file has not changed for this long."""
    # feed
    url: str = ""
    token_env: str = ""
    page_size: int = 1000
    timeout_seconds: float = 30.0
    max_retries: int = 6
    # outbox
    dsn: str = ""
    """libpq connection string without the password, e.g. `host=db dbname=platform user=pulse_reader`."""
    password_env: str = ""
    table: str = "platform_events"
    fetch_size: int = 10_000


@dataclass(frozen=True)
class PublisherConfig:
    """How `pulse publish` talks to Slack, X and Facebook (the channels themselves are per city)."""
    timeout_seconds: float = 20.0
    """Every request to a channel's API gives up after this long (the libraries set none by default)."""
    max_attempts: int = 5
    """Tries per post for timeouts, 5xx and 429 before it is marked failed."""
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_wait_seconds: float = 120.0
    """Longest a run sleeps for a rate-limit reset; a later reset leaves the post for the next run."""
    slack_signing_secret_env: str = ""
    """Environment variable with the Slack app's signing secret (approve/reject buttons)."""
    allow_hosts_for_tests: tuple[str, ...] = ()
    """Hosts allowed besides plugin.json's egress domains, for channel `base_url`s in tests (e.g. "127.0.0.1")."""


@dataclass(frozen=True)
class ScheduleConfig:
    """When `pulse scheduler` runs each job, as crontab lines (empty: never)."""
    refresh: str = "*/15 * * * *"
    """Ingest every source, build the metrics, publish the dashboards' snapshot."""
    publish: str = "*/5 * * * *"
    """Draft posts for new meetups and send those due."""
    timezone: str = "UTC"


CHANNEL_KINDS = ("slack", "x", "facebook")
CHANNEL_KEYS_BY_KIND = {
    "slack": {"channel", "token_env"},
    "x": {"api_key_env", "api_secret_env", "access_token_env", "access_secret_env"},
    "facebook": {"page_id", "page_token_env", "graph_version"},
}
CHANNEL_COMMON_KEYS = {"mode", "post", "enabled_since", "rate_per_minute", "template", "update_template",
                       "cancel_template", "base_url"}
DEFAULT_RATE_PER_MINUTE = {"slack": 20.0, "x": 2.0, "facebook": 10.0}
TEMPLATE_FIELDS = ("title", "date", "time", "weekday", "venue", "url", "city", "city_name", "reason",
                   "description", "starts_at")
"""Placeholders a post template may use, written `{name}`; `{{` and `}}` are literal braces."""


@dataclass(frozen=True)
class ChannelConfig:
    city: str
    kind: str
    """`slack`, `x` or `facebook`."""
    mode: str = "approval"
    """`auto`: publish without asking; `approval`: only after a person approved the wording."""
    post: str = "on_create"
    """`on_create`: as soon as the meetup is created; `days_before:N`: N days before it starts."""
    enabled_since: str = ""
    """RFC 3339 instant; meetups created before it are never posted. Empty: the first time Pulse saw this channel."""
    rate_per_minute: float = 0.0
    """Posts per minute for this channel's account (0: the kind's default)."""
    template: str = ""
    update_template: str = ""
    cancel_template: str = ""
    """Post texts with `{title}`, `{date}`, ... placeholders; empty: the shipped defaults."""
    base_url: str = ""
    """The API's address; only for tests (its host must be in plugin.json or publisher.allow_hosts_for_tests)."""
    # slack
    channel: str = ""
    token_env: str = ""
    # x (OAuth 1.0a user context)
    api_key_env: str = ""
    api_secret_env: str = ""
    access_token_env: str = ""
    access_secret_env: str = ""
    # facebook
    page_id: str = ""
    page_token_env: str = ""
    graph_version: str = "v21.0"

    @property
    def key(self) -> str:
        return f"cities.{self.city}.channels.{self.kind}"

    @property
    def days_before(self) -> int | None:
        return int(self.post.split(":", 1)[1]) if self.post.startswith("days_before:") else None

    @property
    def rate(self) -> float:
        return self.rate_per_minute or DEFAULT_RATE_PER_MINUTE[self.kind]

    @property
    def account(self) -> str:
        """Who the API counts a post against: posts of channels sharing it share one rate limit."""
        if self.kind == "slack":
            return f"slack:{self.token_env}"
        if self.kind == "x":
            return f"x:{self.access_token_env}"
        return f"facebook:{self.page_id}"


@dataclass(frozen=True)
class CityConfig:
    slug: str
    approvals_slack_channel: str = ""
    """Slack channel where drafts needing approval are sent with Approve/Reject buttons (uses this city's Slack token)."""
    channels: tuple[ChannelConfig, ...] = ()


SOURCE_KEYS_BY_KIND = {
    "files": {"path", "settle_seconds"},
    "feed": {"url", "token_env", "page_size", "timeout_seconds", "max_retries"},
    "outbox": {"dsn", "password_env", "table", "fetch_size"},
}


@dataclass(frozen=True)
class Config:
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    sources: tuple[SourceConfig, ...] = ()
    publisher: PublisherConfig = field(default_factory=PublisherConfig)
    cities: tuple[CityConfig, ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)
    """Folder relative paths in the file are taken from (the file's own folder)."""
    path: Path | None = None
    """The file this came from, or None for the embedded defaults."""

    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.warehouse.data_dir).resolve()

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"sources.{name}: no such source; configured: {', '.join(s.name for s in self.sources) or 'none'}")


SECTIONS = {"warehouse": WarehouseConfig, "ingest": IngestConfig, "analytics": AnalyticsConfig,
            "schedule": ScheduleConfig}


def load(path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> Config:
    """Read the configuration; `data_dir` (from `--data-dir`) overrides `warehouse.data_dir`."""
    chosen = path or os.environ.get("PULSE_CONFIG") or None
    if chosen is None and Path("pulse.toml").is_file():
        chosen = "pulse.toml"
    raw: dict = {}
    config_path = None
    base_dir = Path.cwd()
    if chosen is not None:
        config_path = Path(chosen).resolve()
        if not config_path.is_file():
            raise ConfigError(f"config file {chosen} does not exist; pass --config with an existing file, or unset PULSE_CONFIG")
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{chosen}: not valid TOML: {error}") from None
        base_dir = config_path.parent
    config = from_dict(raw, base_dir=base_dir, path=config_path)
    if data_dir is not None:
        config = dataclasses.replace(
            config,
            warehouse=dataclasses.replace(config.warehouse, data_dir=str(Path(data_dir).resolve())),
        )
    return config


def from_dict(raw: dict, base_dir: Path | None = None, path: Path | None = None) -> Config:
    known = set(SECTIONS) | {"sources", "publisher", "cities"}
    _reject_unknown(raw, known, prefix="")
    sections = {name: _build(cls, raw.get(name, {}), name) for name, cls in SECTIONS.items()}
    sources = _build_sources(raw.get("sources", {}))
    publisher = _build(PublisherConfig, raw.get("publisher", {}), "publisher")
    cities = _build_cities(raw.get("cities", {}))
    config = Config(**sections, sources=sources, publisher=publisher, cities=cities,
                    base_dir=base_dir or Path.cwd(), path=path)
    _check_values(config)
    _check_channels(config)
    return config


def secret(env_name: str, key: str) -> str:
    """The secret held by environment variable `env_name`, named by config key `key`."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"{key}: environment variable {env_name} is not set; export it with the secret (secrets are never read from the config file)")
    return value


def check_secrets(config: Config) -> None:
    """Fail at start, not half way through a run, when a configured secret is missing."""
    for source in config.sources:
        if source.kind == "feed" and source.token_env:
            secret(source.token_env, f"sources.{source.name}.token_env")
        if source.kind == "outbox" and source.password_env:
            secret(source.password_env, f"sources.{source.name}.password_env")


def _build_sources(raw_sources) -> tuple[SourceConfig, ...]:
    if not isinstance(raw_sources, dict):
        raise ConfigError("sources: expected a table of named sources, e.g. [sources.exports] kind = \"files\"")
    built = []
    for name, table in raw_sources.items():
        key = f"sources.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{key}: expected a table with `kind = \"files\" | \"feed\" | \"outbox\"`")
        kind = table.get("kind")
        if kind not in SOURCE_KEYS_BY_KIND:
            raise ConfigError(f"{key}.kind: expected \"files\", \"feed\" or \"outbox\", got {kind!r}")
        allowed = {"kind"} | SOURCE_KEYS_BY_KIND[kind]
        _reject_unknown(table, allowed, prefix=key + ".")
        source = _build(SourceConfig, {**table, "name": name}, key)
        required = {"files": ["path"], "feed": ["url", "token_env"], "outbox": ["dsn"]}[kind]
        for required_key in required:
            if not getattr(source, required_key):
                raise ConfigError(f"{key}.{required_key}: required for a {kind} source")
        built.append(source)
    return tuple(built)


def _build(cls, table, prefix: str):
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix}: expected a table")
    allowed = {f.name for f in dataclasses.fields(cls)}
    _reject_unknown(table, allowed, prefix=prefix + ".")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in table.items():
        values[name] = _coerce(value, hints[name], f"{prefix}.{name}")
    return cls(**values)


def _coerce(value, expected, key: str):
    if isinstance(value, bool) and expected is not bool:
        raise ConfigError(f"{key}: expected {_type_name(expected)}, got a boolean")
    if expected is float and isinstance(value, int):
        return float(value)
    if expected in (str, int, float, bool):
        if not isinstance(value, expected):
            raise ConfigError(f"{key}: expected {_type_name(expected)}, got {type(value).__name__} {value!r}")
        return value
    origin = typing.get_origin(expected)
    if origin in (tuple, list):
        item_type = typing.get_args(expected)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of {_type_name(item_type)}")
        return tuple(_coerce(item, item_type, f"{key}[{i}]") for i, item in enumerate(value))
    if origin is types.UnionType or origin is typing.Union:
        return value
    return value


def _type_name(t) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(t, str(t))


def _reject_unknown(table: dict, allowed: set[str], prefix: str) -> None:
    for name in table:
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; allowed here: {', '.join(sorted(allowed))}"
            raise ConfigError(f"{prefix}{name}: unknown key{hint}")


def _check_values(config: Config) -> None:
    _check_schedule(config.schedule)
    if config.warehouse.threads < 1:
        raise ConfigError("warehouse.threads: expected an integer >= 1")
    if config.warehouse.lock_timeout_seconds < 0:
        raise ConfigError("warehouse.lock_timeout_seconds: expected a number >= 0")
    if config.ingest.batch_bytes < 1024:
        raise ConfigError("ingest.batch_bytes: expected at least 1024")
    if config.ingest.batch_records < 1:
        raise ConfigError("ingest.batch_records: expected an integer >= 1")
    if config.analytics.default_timezone not in available_timezones():
        raise ConfigError(
            f"analytics.default_timezone: {config.analytics.default_timezone!r} is not a known IANA timezone; "
            "use a name like \"Australia/Sydney\" or \"UTC\""
        )
    for source in config.sources:
        for number_key in ("page_size", "max_retries", "fetch_size"):
            if getattr(source, number_key) < (0 if number_key == "max_retries" else 1):
                raise ConfigError(f"sources.{source.name}.{number_key}: must be positive")
        if source.kind == "feed" and not source.url.startswith(("http://", "https://")):
            raise ConfigError(f"sources.{source.name}.url: expected an http:// or https:// URL, got {source.url!r}")


# -- channels: [cities.SLUG] and [cities.SLUG.channels.slack|x|facebook] ------------------------

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _check_schedule(schedule: ScheduleConfig) -> None:
    from apscheduler.triggers.cron import CronTrigger  # only here: a config check, not a scheduler

    if schedule.timezone not in available_timezones():
        raise ConfigError(f"schedule.timezone: {schedule.timezone!r} is not a known IANA timezone; use e.g. \"UTC\"")
    for key in ("refresh", "publish"):
        crontab = getattr(schedule, key)
        if crontab:
            try:
                CronTrigger.from_crontab(crontab, timezone=schedule.timezone)
            except ValueError as error:
                raise ConfigError(f"schedule.{key}: {crontab!r} is not a crontab line ({error}); "
                                  "write five fields, e.g. \"*/15 * * * *\", or \"\" for never") from None


def _build_cities(raw_cities) -> tuple[CityConfig, ...]:
    if not isinstance(raw_cities, dict):
        raise ConfigError("cities: expected a table of cities, e.g. [cities.sydney.channels.slack] channel = \"#meetups\"")
    built = []
    for slug, table in raw_cities.items():
        key = f"cities.{slug}"
        if not _SLUG.match(slug):
            raise ConfigError(f"{key}: a city is named by its slug from the event stream ([a-z0-9][a-z0-9-]*)")
        if not isinstance(table, dict):
            raise ConfigError(f"{key}: expected a table with a `channels` table")
        _reject_unknown(table, {"channels", "approvals_slack_channel"}, prefix=key + ".")
        raw_channels = table.get("channels", {})
        if not isinstance(raw_channels, dict):
            raise ConfigError(f"{key}.channels: expected tables [{key}.channels.slack], .x or .facebook")
        channels = []
        for kind, channel_table in raw_channels.items():
            channel_key = f"{key}.channels.{kind}"
            if kind not in CHANNEL_KINDS:
                _reject_unknown({kind: None}, set(CHANNEL_KINDS), prefix=f"{key}.channels.")
            if not isinstance(channel_table, dict):
                raise ConfigError(f"{channel_key}: expected a table")
            _reject_unknown(channel_table, CHANNEL_COMMON_KEYS | CHANNEL_KEYS_BY_KIND[kind], prefix=channel_key + ".")
            channels.append(_build(ChannelConfig, {**channel_table, "city": slug, "kind": kind}, channel_key))
        approvals = table.get("approvals_slack_channel", "")
        if not isinstance(approvals, str):
            raise ConfigError(f"{key}.approvals_slack_channel: expected a string, e.g. \"#sydney-organisers\"")
        if approvals and not any(c.kind == "slack" for c in channels):
            raise ConfigError(f"{key}.approvals_slack_channel: needs [{key}.channels.slack] for the bot token to send with")
        built.append(CityConfig(slug=slug, approvals_slack_channel=approvals, channels=tuple(channels)))
    return tuple(built)


def _check_channels(config: Config) -> None:
    p = config.publisher
    for number_key in ("timeout_seconds", "backoff_base_seconds", "backoff_max_seconds", "max_wait_seconds"):
        if getattr(p, number_key) <= 0:
            raise ConfigError(f"publisher.{number_key}: expected a number > 0")
    if p.max_attempts < 1:
        raise ConfigError("publisher.max_attempts: expected an integer >= 1")
    for city in config.cities:
        for channel in city.channels:
            key = channel.key
            if channel.mode not in ("auto", "approval"):
                raise ConfigError(f"{key}.mode: expected \"auto\" or \"approval\", got {channel.mode!r}")
            if not re.fullmatch(r"on_create|days_before:\d{1,3}", channel.post):
                raise ConfigError(f"{key}.post: expected \"on_create\" or \"days_before:N\" (e.g. \"days_before:3\"), got {channel.post!r}")
            if channel.enabled_since and parse_instant(channel.enabled_since) is None:
                raise ConfigError(f"{key}.enabled_since: expected an RFC 3339 instant with offset, e.g. \"2026-11-01T00:00:00Z\", got {channel.enabled_since!r}")
            if channel.rate_per_minute < 0:
                raise ConfigError(f"{key}.rate_per_minute: expected a number > 0 (or 0 for the default)")
            required = {"slack": ["channel", "token_env"],
                        "x": ["api_key_env", "api_secret_env", "access_token_env", "access_secret_env"],
                        "facebook": ["page_id", "page_token_env"]}[channel.kind]
            for required_key in required:
                if not getattr(channel, required_key):
                    raise ConfigError(f"{key}.{required_key}: required for a {channel.kind} channel")
            if channel.kind == "facebook" and not re.fullmatch(r"v\d{1,2}\.\d{1,2}", channel.graph_version):
                raise ConfigError(f"{key}.graph_version: expected a Graph API version like \"v21.0\", got {channel.graph_version!r}")
            if channel.base_url and not re.match(r"https?://[^/?#]+", channel.base_url):
                raise ConfigError(f"{key}.base_url: expected an http(s) URL, got {channel.base_url!r}; leave it out outside tests")
            for template_key in ("template", "update_template", "cancel_template"):
                check_template(getattr(channel, template_key), f"{key}.{template_key}")


def check_template(template: str, key: str) -> None:
    """A template is text with `{field}` placeholders from TEMPLATE_FIELDS, nothing that could run."""
    for match in _PLACEHOLDER.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ConfigError(f"{key}: unmatched {token!r}; write {{{{ or }}}} for a literal brace")
        if name not in TEMPLATE_FIELDS:
            close = difflib.get_close_matches(name, TEMPLATE_FIELDS, n=1)
            hint = f"did you mean {{{close[0]}}}?" if close else "allowed: " + ", ".join("{%s}" % f for f in TEMPLATE_FIELDS)
            raise ConfigError(f"{key}: unknown placeholder {{{name}}}; {hint}")


def parse_instant(text: str):
    """An RFC 3339 instant with an offset as an aware datetime, or None."""
    import datetime as _dt
    if not isinstance(text, str) or not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text):
        return None
    try:
        value = _dt.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def check_channel_secrets(config: Config) -> None:
    """Fail at start, before any post goes out, when a channel's secret is missing."""
    for city in config.cities:
        for channel in city.channels:
            for name in CHANNEL_KEYS_BY_KIND[channel.kind] | {"token_env"}:
                if name.endswith("_env") and getattr(channel, name):
                    secret(getattr(channel, name), f"{channel.key}.{name}")
