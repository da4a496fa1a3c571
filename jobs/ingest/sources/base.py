"""What a source kind is, and what every source hands the loader: batches of raw records, each
with the position after it.

A source kind (`files`, `feed`, `outbox`) is one module of this package: its `SourceKind`
says how a `[sources.NAME]` table of that kind is read (`settings`, a pydantic model), how a
source is built from it, which hosts it connects to, and how its position reads to a person.

A source never writes to the warehouse. It reads from where the last committed position says,
and yields batches; the loader validates each batch and commits its rows together with
`Batch.position`, so a crash between two batches loses nothing and duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pyarrow as pa

from pulse.core.config import Settings

from jobs.ingest import arrow

if TYPE_CHECKING:
    from pulse.core.config import Config


class SourceError(Exception):
    """A source could not be read (unreachable, refused, misconfigured). One line, for the operator."""


class Lines(Sequence[str]):
    """Records held as an Arrow string array, read as a sequence of `str` only when asked.

    The files source cuts the bytes it read into lines without copying them (an Arrow string
    view per line, pointing into the block) and the loader hands `array` to DuckDB as it is;
    building a Python `str` per line would cost more than validating it.
    """

    def __init__(self, array: pa.Array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.array[index].to_pylist()
        return self.array[index].as_py()

    def __iter__(self) -> Iterator[str]:
        return iter(self.array.to_pylist())

    def __add__(self, other):
        return list(self) + list(other)

    def __radd__(self, other):
        return list(other) + list(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Lines({len(self)} lines)"

    def take(self, indexes: Sequence[int]) -> pa.Array:
        """The lines at `indexes`, as an Arrow string array: for string views, new views onto
        the same text (no `str` per line, no copy of the text)."""
        array = self.array
        if array.type != pa.string_view() or array.offset or array.null_count:
            return arrow.strings([self[i] for i in indexes])
        buffers = array.buffers()
        views = np.frombuffer(buffers[1], dtype=np.uint8).reshape(-1, 16)[np.asarray(indexes, dtype=np.int64)]
        return pa.Array.from_buffers(pa.string_view(), len(views), [None, pa.py_buffer(views), *buffers[2:]])


@dataclass
class Batch:
    locations: list[str] | None
    """Where each record came from: `PATH:LINE`, `feed:CURSOR#INDEX` or `outbox:SEQ`.
    A source with many records may instead give `location_prefix` and `location_numbers`
    (location = prefix + number), which spares building a string per record."""
    raws: Sequence[str]
    """Each record as received, as text (undecodable bytes as `\\xNN`, listed in `invalid_utf8`):
    a `list[str]`, or `Lines` (an Arrow array the loader passes to DuckDB without copying)."""
    position: Any
    """JSON-able position to resume from once this batch is committed."""
    progress: tuple[int, int | None] = (0, None)
    """(units done, units in all or None) for a progress bar; units are the source's own (bytes, records)."""
    location_prefix: str = ""
    location_numbers: Sequence[int] | None = None
    invalid_utf8: Sequence[int] = field(default_factory=tuple)
    """Indexes into `raws` of records that were not valid UTF-8."""


class Source(Protocol):
    name: str
    kind: str

    def batches(self, position: Any | None) -> Iterator[Batch]:
        """Batches from `position` (None: from the very start) to what is there now."""
        ...


class SourceSettings(Settings):
    """What every `[sources.NAME]` table has; each kind adds its own keys."""

    name: str
    """The table's name (`exports` of `[sources.exports]`), given by the file's structure."""
    kind: str


class SourceKind:
    """One kind of source: a module of this package registers an instance of its subclass."""

    name: ClassVar[str]
    settings: ClassVar[type[SourceSettings]]

    def make(self, settings: SourceSettings, config: Config) -> Source:
        """The source a `[sources.NAME]` table describes, ready to pull."""
        raise NotImplementedError

    def describe_position(self, position: Any) -> str:
        """Where a source of this kind stands, in words (`position` as committed; never None)."""
        raise NotImplementedError

    def hosts(self, settings: SourceSettings) -> list[str]:
        """The hosts a source of this kind connects to (for the egress allow-list); none by default."""
        return []
