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
    memory_limit: str = "1GB"
    threads: int = 2
    lock_timeout_seconds: float = 600.0
    """How long a writing command waits for another writer before giving up."""


@dataclass(frozen=True)
class IngestConfig:
    batch_bytes: int = 32 * 1024 * 1024
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
    sources: tuple[SourceConfig, ...] = ()
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


SECTIONS = {"warehouse": WarehouseConfig, "ingest": IngestConfig, "analytics": AnalyticsConfig}


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
    known = set(SECTIONS) | {"sources"}
    _reject_unknown(raw, known, prefix="")
    sections = {name: _build(cls, raw.get(name, {}), name) for name, cls in SECTIONS.items()}
    sources = _build_sources(raw.get("sources", {}))
    config = Config(**sections, sources=sources, base_dir=base_dir or Path.cwd(), path=path)
    _check_values(config)
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
