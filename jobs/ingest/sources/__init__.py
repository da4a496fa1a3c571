"""The kinds of source Pulse pulls from: one module each in this package (`files`, `feed`,
`outbox`), registered through the `pulse_source_kinds` hook; and the `[sources.NAME]` section,
each table read by the model of its `kind`.

A new kind is one new module here with a `SourceKind` subclass and its hook; nothing else in
Pulse names the kinds.
"""

from __future__ import annotations

from typing import Any

from pulse.core import registry
from pulse.core.config import Config, ConfigError, ConfigSection, validate

from jobs.ingest.sources.base import Batch, Source, SourceError, SourceKind, SourceSettings

__all__ = ["Batch", "Source", "SourceError", "SourceKind", "SourceSettings", "kinds", "kind_of", "make_source",
           "sources_section"]


def kinds() -> dict[str, SourceKind]:
    return registry.collect("pulse_source_kinds")


def kind_of(name: str) -> SourceKind | None:
    return kinds().get(name)


def make_source(config: Config, settings: SourceSettings) -> Source:
    return kinds()[settings.kind].make(settings, config)


def describe_position(kind: str, position: Any) -> str:
    """Where a source stands, in words ("not started" before its first batch)."""
    if position is None:
        return "not started"
    found = kind_of(kind)
    return found.describe_position(position) if found else str(position)[:60]


def _parse(raw: Any, key: str) -> tuple[SourceSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table of named sources, e.g. [sources.exports] kind = \"files\"")
    known = kinds()
    built = []
    for name, table in raw.items():
        where = f"{key}.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table with `kind = {' | '.join(map(_quoted, known))}`")
        kind = known.get(table.get("kind"))
        if kind is None:
            choices = ", ".join(map(_quoted, known))
            choices = " or ".join(choices.rsplit(", ", 1))
            raise ConfigError(f"{where}.kind: expected {choices}, got {table.get('kind')!r}")
        built.append(validate(kind.settings, table, where, name=name))
    return tuple(built)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _secrets(sources: tuple[SourceSettings, ...]):
    for source in sources:
        for key, env_name in source.secret_keys():
            yield f"sources.{source.name}.{key}", env_name


def sources_section() -> ConfigSection:
    return ConfigSection("sources", _parse, secrets=_secrets)


def find(config: Config, name: str) -> SourceSettings:
    """The configured source called `name`."""
    for source in config.sources:
        if source.name == name:
            return source
    configured = ", ".join(s.name for s in config.sources) or "none"
    raise ConfigError(f"sources.{name}: no such source; configured: {configured}")
