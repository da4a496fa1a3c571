"""What every source hands the loader: batches of raw records, each with the position after it.

A source never writes to the warehouse. It reads from where the last committed position says,
and yields batches; the loader validates each batch and commits its rows together with
`Batch.position`, so a crash between two batches loses nothing and duplicates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol


class SourceError(Exception):
    """A source could not be read (unreachable, refused, misconfigured). One line, for the operator."""


@dataclass
class Batch:
    locations: list[str]
    """Where each record came from: `PATH:LINE`, `feed:CURSOR#INDEX` or `outbox:SEQ`."""
    raws: list[bytes | str]
    """Each record as received: bytes when it may not be UTF-8 (file lines), else text."""
    position: Any
    """JSON-able position to resume from once this batch is committed."""
    progress: tuple[int, int | None] = (0, None)
    """(units done, units in all or None) for a progress bar; units are the source's own (bytes, records)."""


class Source(Protocol):
    name: str
    kind: str

    def batches(self, position: Any | None) -> Iterator[Batch]:
        """Batches from `position` (None: from the very start) to what is there now."""
        ...
