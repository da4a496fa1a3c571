"""`[ingest]`: how much an ingest commits at a time."""

from __future__ import annotations

from pydantic import Field

from pulse.core.config import Settings


class IngestSettings(Settings):
    batch_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """Bytes of NDJSON validated and committed per transaction (with the source's position), at
    most: a files pull starts with a quarter and a half of it, to get its pipeline going."""
    batch_records: int = Field(50_000, ge=1)
    """Records per transaction for the outbox (the feed's batches are its pages)."""
