"""NDJSON files (`.ndjson`, `.jsonl`, plain or `.gz`) that the platform's exporter appends to.

Position, per file: how far it was read (`offset` in its decompressed bytes, `line` lines), and
what the file looked like then (`size`, `mtime`, a hash of its first bytes). On the next pull a
file that is unchanged is not opened; one that grew is read on from `offset`; one that shrank or
whose first bytes changed (rotated, replaced) is read again from the start, and the loader's
dedupe keeps the result exact. A last line without its newline may still be being written: it
is left for a later pull, and taken as it is once the file has not changed for `settle_seconds`
(or did not change between two pulls).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from pydantic import Field

from pulse.core import registry

from jobs.ingest.sources.base import Batch, SourceError, SourceKind, SourceSettings

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
        for ref, stat, start in plans:
            previous = states.get(str(ref.path))
            for batch, consumed in self._read(ref, stat, start, previous, states):
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
              states: dict[str, dict]) -> Iterator[tuple[Batch, int]]:
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
                carry = b""
                while True:
                    want = self._batch_bytes if remaining is None else min(self._batch_bytes, remaining)
                    chunk = stream.read(want) if want else b""
                    if remaining is not None:
                        remaining -= len(chunk)
                    at_end = not chunk
                    data = carry + chunk
                    cut = data.rfind(b"\n") + 1
                    if at_end and data:
                        # The last line has no newline: take it only once the file is at rest.
                        if not settled:
                            yield Batch(None, [], record(done=False)), 0
                            return
                        cut = len(data)
                    if cut == 0 and not at_end:
                        carry = data  # a line longer than a batch: read on until it ends
                        continue
                    complete, carry = data[:cut], data[cut:]
                    if complete:
                        raws, invalid = _split_lines(complete)
                        first_line = line + 1
                        offset += len(complete)
                        line += len(raws)
                        yield Batch(None, raws, record(done=False), location_prefix=f"{ref.shown}:",
                                    location_numbers=range(first_line, first_line + len(raws)),
                                    invalid_utf8=invalid), len(complete)
                    if at_end:
                        break
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            if _is_gzip(ref) and isinstance(error, (EOFError, zlib.error, gzip.BadGzipFile)):
                # A .gz still being written ends early: keep what was complete, try again later.
                yield Batch(None, [], record(done=False)), 0
                return
            raise SourceError(f"{ref.shown}: cannot read: {error}") from None
        yield Batch(None, [], record(done=True)), 0


def _split_lines(data: bytes) -> tuple[list[str], list[int]]:
    """Complete lines (without their newline) as text, and which of them were not UTF-8."""
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        return body.decode("utf-8").split("\n"), []
    except UnicodeDecodeError:
        pass
    raws, invalid = [], []
    for index, raw in enumerate(body.split(b"\n")):
        try:
            raws.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raws.append(raw.decode("utf-8", errors="backslashreplace"))
            invalid.append(index)
    return raws, invalid


def _is_gzip(ref: FileRef) -> bool:
    return ref.path.name.endswith(".gz")


def _open(ref: FileRef) -> BinaryIO:
    return gzip.open(ref.path, "rb") if _is_gzip(ref) else open(ref.path, "rb")


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
