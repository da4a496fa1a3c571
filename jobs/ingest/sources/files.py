"""NDJSON files (`.ndjson`, `.jsonl`, plain or `.gz`) that the platform's exporter appends to.

Position, per file: how far it was read (`offset` in its decompressed bytes, `line` lines), and
what the file looked like then (`size`, `mtime`, a hash of its first bytes). On the next pull a
file that is unchanged is not opened; one that grew is read on from `offset`; one that shrank or
whose first bytes changed (rotated, replaced) is read again from the start, and the loader's
dedupe keeps the result exact. A last line without its newline may still be being written: it
is left for a later pull, and taken as it is once the file has not changed for `settle_seconds`
(or did not change between two pulls). A `.gz` that stops short is treated the same way while it
is not settled (a member being written); once settled, or when it holds data that is not gzip
or is corrupt, its complete lines are loaded and the source fails naming the damaged file, on
every pull until it is replaced: never skipped in silence.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
from pydantic import Field

from pulse.core import registry

from jobs.ingest.sources.base import Batch, Lines, SourceError, SourceKind, SourceSettings

SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
HEAD_BYTES = 1024


@dataclass(frozen=True)
class FileRef:
    path: Path
    """Where it is (absolute): the key of its state."""
    shown: str
    """How locations name it: the path as configured or given."""


def discover(spec: str, base_dir: Path) -> list[FileRef]:
    """The files a `path` setting names: a folder (recursively), a glob, or one file; in path order."""
    target = Path(spec) if os.path.isabs(spec) else base_dir / spec
    if target.is_dir():
        found = sorted(
            (p for p in target.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)),
            key=lambda p: p.relative_to(target).as_posix(),
        )
        return [FileRef(p.resolve(), os.path.join(spec, p.relative_to(target).as_posix())) for p in found]
    if target.is_file():
        return [FileRef(target.resolve(), spec)]
    if glob.has_magic(spec):
        matches = sorted(glob.glob(str(target), recursive=True))
        return [FileRef(Path(m).resolve(), m) for m in matches if Path(m).is_file() and m.endswith(SUFFIXES)]
    raise SourceError(f"{spec}: no such file or folder")


class FilesSettings(SourceSettings):
    """`[sources.NAME] kind = "files"`."""

    what = "a files source"
    path: str
    """A folder (its .ndjson/.jsonl files, plain or .gz, subfolders included) or a glob; relative
    to the config file's folder."""
    settle_seconds: float = Field(300.0, ge=0)
    """A last line without its newline is taken once the file has not changed for this long."""


class FilesKind(SourceKind):
    name = "files"
    settings = FilesSettings

    def make(self, settings, config):
        return FilesSource.from_config(settings, base_dir=config.base_dir, batch_bytes=config.ingest.batch_bytes)

    def describe_position(self, position) -> str:
        files = position.get("files", {})
        behind = sum(max(_size_now(path) - state["offset"], 0) for path, state in files.items())
        lines = sum(state["line"] for state in files.values())
        text = f"{len(files)} files, {lines:,} lines read"
        return text + (f", {behind:,} bytes not yet read" if behind else ", up to date")


def _size_now(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@registry.hookimpl
def pulse_source_kinds():
    return [FilesKind()]


class FilesSource:
    kind = "files"

    def __init__(self, name: str, files: Iterable[FileRef] | Callable[[], list[FileRef]], *, batch_bytes: int,
                 settle_seconds: float, clock=time.time):
        self.name = name
        self._files = files
        self._batch_bytes = batch_bytes
        self._settle_seconds = settle_seconds
        self._clock = clock

    @classmethod
    def from_config(cls, settings: FilesSettings, *, base_dir: Path, batch_bytes: int) -> FilesSource:
        return cls(settings.name, lambda: discover(settings.path, base_dir),
                   batch_bytes=batch_bytes, settle_seconds=settings.settle_seconds)

    def batches(self, position: Any | None) -> Iterator[Batch]:
        try:
            yield from self._batches(position)
        except SourceError as error:
            raise SourceError(f"files {self.name}: {error}") from None

    def _batches(self, position: Any | None) -> Iterator[Batch]:
        files = self._files() if callable(self._files) else list(self._files)
        states: dict[str, dict] = dict((position or {}).get("files", {}))
        plans = []
        for ref in files:
            try:
                stat = ref.path.stat()
            except OSError as error:
                raise SourceError(f"{ref.shown}: cannot read: {error.strerror}") from None
            start = self._start(ref, stat, states.get(str(ref.path)))
            if start is not None:
                plans.append((ref, stat, start))
        total = sum(max(stat.st_size - start["offset"], 0) if not _is_gzip(ref) else stat.st_size
                    for ref, stat, start in plans)
        done = 0
        sizes = _ramp(self._batch_bytes)
        blocks = _Blocks(self._batch_bytes)
        for ref, stat, start in plans:
            previous = states.get(str(ref.path))
            for batch, consumed in self._read(ref, stat, start, previous, states, sizes, blocks):
                done += consumed
                batch.progress = (min(done, total), total)
                yield batch

    def _start(self, ref: FileRef, stat: os.stat_result, state: dict | None) -> dict | None:
        """Where to start reading this file, or None when it has not changed since last read."""
        fresh = {"offset": 0, "line": 0}
        if state is None:
            return fresh
        if stat.st_size < state["size"] or _head_hash(ref.path, state["head_len"]) != state["head"]:
            return fresh  # rotated, truncated or replaced: read it all again
        if stat.st_size == state["size"] and stat.st_mtime == state["mtime"] and state.get("done"):
            return None
        return {"offset": state["offset"], "line": state["line"]}

    def _read(self, ref: FileRef, stat: os.stat_result, start: dict, previous: dict | None,
              states: dict[str, dict], sizes: Iterator[int], blocks: _Blocks) -> Iterator[tuple[Batch, int]]:
        head_len = min(HEAD_BYTES, stat.st_size)
        head = _head_hash(ref.path, head_len)
        settled = (self._clock() - stat.st_mtime >= self._settle_seconds
                   or (previous is not None and previous["size"] == stat.st_size
                       and previous["mtime"] == stat.st_mtime))
        offset, line = start["offset"], start["line"]

        def record(done: bool) -> dict:
            """The position after what was read so far; `done`: nothing more to take for now."""
            state = {"offset": offset, "line": line, "size": stat.st_size, "mtime": stat.st_mtime,
                     "head": head, "head_len": head_len, "done": done}
            states[str(ref.path)] = state
            return {"files": dict(states)}

        try:
            with _open(ref) as stream:
                _skip_to(stream, offset, ref)
                # Read no further than the size seen above: bytes a writer appends meanwhile
                # may end in a half-written line, and are for the next pull to judge.
                remaining = None if _is_gzip(ref) else max(stat.st_size - offset, 0)
                splitter = _LineSplitter()
                carry: list[bytes] = []  # the start of a line that did not end in what was read
                while True:
                    size = next(sizes)
                    want = size if remaining is None else min(size, remaining)
                    data, got = _read_after(stream, sum(len(part) for part in carry), want, blocks)
                    if remaining is not None:
                        remaining -= got
                    at_end = got == 0
                    if at_end and getattr(stream, "damage", None):
                        # Every complete line before the damage is in (yielded above); the
                        # unfinished one at the damage is not a record.
                        if stream.truncated and not settled:  # perhaps still being written
                            yield Batch(None, [], record(done=False)), 0
                            return
                        if stream.damage == NOT_GZIP:
                            raise SourceError(f"{ref.shown}: not a gzip file, though named .gz; rename it to "
                                              ".ndjson if it is plain NDJSON, or replace it with the real file")
                        raise SourceError(
                            f"{ref.shown}: damaged gzip file: {stream.damage} after line {line:,} (the complete "
                            "lines before are loaded); replace it with a good copy, which is read again from the start")
                    ends = splitter.newlines(data, len(data) - got)  # (the carry holds no newline)
                    cut = int(ends[-1]) + 1 if len(ends) else 0
                    if cut == 0 and not at_end:
                        carry.append(data[len(data) - got:].tobytes())  # a line longer than a batch: read on
                        continue
                    _fill(data, carry)
                    if at_end and len(data):
                        # The last line has no newline: take it only once the file is at rest.
                        if not settled:
                            yield Batch(None, [], record(done=False)), 0
                            return
                        cut = len(data)
                    carry = [data[cut:].tobytes()] if cut < len(data) else []
                    if cut:
                        raws, invalid = splitter.split(data[:cut], ends)
                        first_line = line + 1
                        offset += cut
                        line += len(raws)
                        yield Batch(None, raws, record(done=False), location_prefix=f"{ref.shown}:",
                                    location_numbers=range(first_line, first_line + len(raws)),
                                    invalid_utf8=invalid), cut
                    if at_end:
                        break
        except OSError as error:
            raise SourceError(f"{ref.shown}: cannot read: {error.strerror or error}") from None
        yield Batch(None, [], record(done=True)), 0


def _ramp(batch_bytes: int) -> Iterator[int]:
    """How many bytes each read of a pull takes: `batch_bytes`, but the first two reads a quarter
    and a half of it (never under 1 MiB). The loader commits a batch while the next one is being
    judged (run.py), and the first batch has nothing to overlap: a small one gets the others
    going sooner (at 64 MiB: 1 M events in about 5 % less time; starting at an eighth did no
    better, at a half worse)."""
    for part in (4, 2):
        yield max(batch_bytes // part, min(batch_bytes, 1 << 20))
    while True:
        yield batch_bytes


class _Blocks:
    """The memory a pull reads its blocks into, each used again once nothing refers to it.

    A block's lines reach DuckDB as views into it (no copy), so a block is in use for as long as
    anything holds one: the batch, an Arrow array or buffer made from it (Arrow's C++ side holds
    a Python reference to what it wraps), a query scanning it. CPython counts those references
    exactly, so a block that only this pool refers to is free. A fresh block costs the kernel a
    zeroed page for every page read into (perf: 6 % of an ingest's CPU); one used again costs
    nothing. The first few blocks of a pull are fresh (as many as batches are held at a time),
    so the longer the pull, the more this saves."""

    def __init__(self, batch_bytes: int):
        # Room for a batch and the carried start of a line (a longer one gets a block of its own).
        self._capacity = batch_bytes + max(batch_bytes // 64, 64 * 1024)
        self._blocks: list[np.ndarray] = []
        # How many references a free block has when looked at in `get`, counted on one that is
        # free the same way (not a constant: what an interpreter counts there may change).
        for probe in [np.empty(0, dtype=np.uint8)]:
            self._free = self._references(probe)

    @staticmethod
    def _references(block: np.ndarray) -> int:
        return sys.getrefcount(block)

    def get(self, size: int) -> np.ndarray:
        """`size` bytes, not zeroed."""
        if size > self._capacity:
            return np.empty(size, dtype=np.uint8)
        for block in self._blocks:
            if self._references(block) == self._free:
                return block[:size]
        block = np.empty(self._capacity, dtype=np.uint8)
        self._blocks.append(block)
        return block[:size]


def _read_after(stream: BinaryIO, head: int, want: int, blocks: _Blocks) -> tuple[np.ndarray, int]:
    """A buffer of `head` bytes left free (for the carried start of a line) followed by up to
    `want` bytes read from `stream` into it in place; and how many were read (0: the end)."""
    data = blocks.get(head + want)  # (not zeroed: every byte kept is written)
    at = head
    with memoryview(data) as view:
        while at < len(data):
            got = stream.readinto(view[at:])
            if not got:
                break
            at += got
    return data[:at], at - head


def _fill(data: np.ndarray, carry: list[bytes]) -> None:
    at = 0
    for part in carry:
        data[at:at + len(part)] = np.frombuffer(part, dtype=np.uint8)
        at += len(part)


# Arrow string views: 16 bytes a line, the length first; a line of up to 12 bytes is held in the
# view itself, a longer one as its first 4 bytes, a buffer number and an offset into that buffer.
_INLINE = 12


class _LineSplitter:
    """Cuts blocks of bytes into lines as Arrow string views pointing into the block (no copy)."""

    # Newlines are looked for this many bytes at a time, into a scratch array that stays in the
    # CPU's cache: twice as fast as one pass over a block into an array of the block's size.
    _PIECE = 256 * 1024

    def __init__(self):
        self._newlines = np.empty(self._PIECE, dtype=bool)  # scratch, reused from piece to piece

    def newlines(self, data: np.ndarray, start: int) -> np.ndarray:
        """Where `data` holds a newline, from `start` on."""
        found = [np.empty(0, dtype=np.intp)]
        for at in range(start, len(data), self._PIECE):
            piece = data[at:at + self._PIECE]
            where = np.flatnonzero(np.equal(piece, 10, out=self._newlines[:len(piece)]))
            if len(where):
                found.append(where + at)
        return np.concatenate(found)

    def split(self, block: np.ndarray, ends: np.ndarray) -> tuple[Lines, list[int]]:
        """The lines of `block`, each ended by one of the newlines at `ends` (the last line
        possibly not), without their newline; and which of them were not UTF-8 (held as text
        with `\\xNN` escapes)."""
        if not len(ends) or ends[-1] != len(block) - 1:
            ends = np.append(ends, len(block))
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts
        buffers = [pa.py_buffer(block)]
        invalid: list[int] = []
        if not _is_utf8(buffers[0], 0, len(block)):
            invalid = _invalid_lines(buffers[0], starts, ends)
            starts, lengths, extra = _escape_lines(block, starts, lengths, invalid)
            buffers.append(pa.py_buffer(extra))
        return Lines(_string_views(block, starts, lengths, buffers, invalid)), invalid


def _string_views(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, buffers: list[pa.Buffer],
                  escaped: list[int]) -> pa.Array:
    count = len(starts)
    if len(data) >= 2 ** 31 or (len(buffers) > 1 and buffers[1].size >= 2 ** 31):
        # Offsets in a view are 32-bit: a block this size (one enormous line) goes the slow way.
        return pa.array([bytes(buffer[s:s + n]).decode("utf-8")
                         for buffer, s, n in _each_line(buffers, starts, lengths, escaped)], pa.large_string())
    views = np.zeros((count, 4), dtype=np.int32)
    views[:, 0] = lengths
    source = np.zeros(count, dtype=np.int32)
    source[escaped] = 1
    long = np.flatnonzero(lengths > _INLINE)
    if len(long):
        long_plain = long[source[long] == 0]
        views[long_plain, 1] = _prefixes(data, starts[long_plain])
        long_escaped = long[source[long] == 1]
        if len(long_escaped):
            extra = np.frombuffer(buffers[1], dtype=np.uint8)
            views[long_escaped, 1] = _prefixes(extra, starts[long_escaped])
        views[long, 2] = source[long]
        views[long, 3] = starts[long]
    short = np.flatnonzero(lengths <= _INLINE)
    if len(short):
        inline = views.view(np.uint8).reshape(count, 16)
        for index in short:  # blank lines and stray fragments: few
            buffer = buffers[source[index]]
            start, length = int(starts[index]), int(lengths[index])
            inline[index, 4:4 + length] = np.frombuffer(buffer, dtype=np.uint8)[start:start + length]
    return pa.Array.from_buffers(pa.string_view(), count, [None, pa.py_buffer(views), *buffers])


def _prefixes(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The first 4 bytes at each of `starts`, as little-endian int32 (what a view keeps)."""
    word = data[starts].astype(np.uint32)
    for shift in (1, 2, 3):
        word |= data[starts + shift].astype(np.uint32) << np.uint32(8 * shift)
    return word.view(np.int32)


def _is_utf8(buffer: pa.Buffer, start: int, end: int) -> bool:
    offsets = pa.py_buffer(np.array([start, end], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, buffer]).validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _invalid_lines(buffer: pa.Buffer, starts: np.ndarray, ends: np.ndarray) -> list[int]:
    """Indexes of the lines that are not UTF-8: halve the block until each part is valid (a
    newline is ASCII, so a valid part holds only valid lines) or a few lines, tried one by one
    (so a block of nothing but Latin-1 costs a decode per line, not a halving per line)."""
    found: list[int] = []
    pending = [(0, len(starts))]
    while pending:
        first, stop = pending.pop()
        if _is_utf8(buffer, int(starts[first]), int(ends[stop - 1])):
            continue
        if stop - first <= 16:
            for index in range(first, stop):
                try:
                    buffer[int(starts[index]):int(ends[index])].to_pybytes().decode("utf-8")
                except UnicodeDecodeError:
                    found.append(index)
            continue
        middle = (first + stop) // 2
        pending += [(middle, stop), (first, middle)]
    return sorted(found)


def _escape_lines(block: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                  invalid: list[int]) -> tuple[np.ndarray, np.ndarray, bytes]:
    """The invalid lines as text with their undecodable bytes as `\\xNN`, in a buffer of their
    own; `starts` and `lengths` changed to point there for those lines."""
    starts, lengths = starts.copy(), lengths.copy()
    parts, at = [], 0
    for index in invalid:
        start, length = int(starts[index]), int(lengths[index])
        text = block[start:start + length].tobytes().decode("utf-8", errors="backslashreplace").encode("utf-8")
        parts.append(text)
        starts[index], lengths[index] = at, len(text)
        at += len(text)
    return starts, lengths, b"".join(parts)


def _each_line(buffers, starts, lengths, escaped):
    escaped = set(escaped)
    for index, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        yield buffers[1 if index in escaped else 0], start, length


def _is_gzip(ref: FileRef) -> bool:
    return ref.path.name.endswith(".gz")


def _open(ref: FileRef) -> BinaryIO:
    return _Gunzip(ref.path) if _is_gzip(ref) else open(ref.path, "rb")


NOT_GZIP = "not gzip data"


class _Gunzip:
    """A .gz file's decompressed bytes as far as they go, member after member.

    Not `gzip.open`: on a damaged or truncated file it raises and loses what it had
    decompressed of the failing read (all of a 64 MB read). Here every byte before the damage
    is handed out, then the stream ends and `damage` says what is wrong; `truncated` tells a
    file that merely stops (perhaps still being written) from one that holds bad data.
    """

    CHUNK = 1 << 20

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        self._pending = bytearray()      # decompressed, not handed out yet
        self._raw = b""                  # compressed, not decompressed yet
        self._member: zlib._Decompress | None = None
        self._at_end = False
        self._started = False            # a member has begun: the file is gzip
        self.damage: str | None = None
        self.truncated = False

    def __enter__(self) -> _Gunzip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _more(self) -> None:
        """Decompress some more into `_pending`, or reach the end (noting any damage)."""
        if not self._raw:
            self._raw = self._file.read(self.CHUNK)
            if not self._raw:
                self._at_end = True
                if self._member is not None:
                    self.damage, self.truncated = "it ends before its end", True
                return
        if self._member is None:  # at the start of a member
            if not self._raw.strip(b"\0"):
                self._raw = b""  # zero padding after the last member, as gzip(1) allows
                return
            if len(self._raw) < 2:
                self._raw += self._file.read(1)
            if not self._raw.startswith(b"\x1f\x8b"):
                self.damage = "something that is not gzip follows" if self._started else NOT_GZIP
                self._at_end = True
                return
            self._started = True
            self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            self._pending += self._member.decompress(self._raw, 4 * self.CHUNK)
        except zlib.error as error:
            self.damage = f"corrupt data ({error})"
            self._at_end = True
            return
        self._raw = self._member.unconsumed_tail
        if self._member.eof:
            self._raw = self._member.unused_data
            self._member = None

    def readinto(self, view) -> int:
        while len(self._pending) < len(view) and not self._at_end:
            self._more()
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        del self._pending[:count]
        return count

    def read(self, size: int) -> bytes:
        buffer = bytearray(size)
        return bytes(buffer[:self.readinto(memoryview(buffer))])


def _skip_to(stream: BinaryIO, offset: int, ref: FileRef) -> None:
    if not _is_gzip(ref):
        stream.seek(offset)
        return
    remaining = offset  # a gzip stream cannot seek: decompress and drop what was already read
    while remaining:
        skipped = len(stream.read(min(remaining, 1 << 20)))
        if not skipped:
            break
        remaining -= skipped


def _head_hash(path: Path, length: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read(length)).hexdigest()
