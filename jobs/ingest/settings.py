"""`[ingest]`: how much an ingest commits at a time."""

from __future__ import annotations

from pydantic import Field

from pulse.core.config import Settings


class IngestSettings(Settings):
    batch_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """Bytes of NDJSON validated and committed per transaction (with the source's position), at
    most: a files pull starts with a quarter and a half of it, to get its pipeline going.

    Up to four batches are held at a time (`jobs.ingest.run`), but smaller is not always leaner:
    DuckDB keeps what a transaction appends in memory until a checkpoint unless it fills whole
    row groups (122,880 rows, about 29 MB of events). Measured on 1 M events: 64 MiB peaked at
    560 MiB RSS; 32 MiB at 455 MiB and took 5 % longer; 16 and 8 MiB peaked higher (610 and
    570 MiB) and took about 20 and 50 % longer."""
    batch_records: int = Field(50_000, ge=1)
    """Records per transaction for the outbox (the feed's batches are its pages)."""
