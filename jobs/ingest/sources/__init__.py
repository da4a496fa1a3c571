"""The kinds of source Pulse pulls from, by the `kind` of a `[sources.NAME]` section."""

from __future__ import annotations

from pulse.config import Config, SourceConfig

from jobs.ingest.sources.base import Batch, Source, SourceError

__all__ = ["Batch", "Source", "SourceError", "make_source"]


def make_source(config: Config, source_config: SourceConfig) -> Source:
    # Imported here so that a deployment without, say, Postgres sources never loads psycopg.
    if source_config.kind == "files":
        from jobs.ingest.sources.files import FilesSource
        return FilesSource.from_config(source_config, base_dir=config.base_dir,
                                       batch_bytes=config.ingest.batch_bytes)
    if source_config.kind == "feed":
        from jobs.ingest.sources.feed import FeedSource
        return FeedSource.from_config(source_config)
    if source_config.kind == "outbox":
        from jobs.ingest.sources.outbox import OutboxSource
        return OutboxSource.from_config(source_config, config.ingest.batch_records)
    raise ValueError(f"unknown source kind {source_config.kind!r}")
