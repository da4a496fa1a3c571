"""An ingest run: pull each source from its committed position, batch by batch, and record the run.

Each source gets its own row in `ingest_runs` (running → completed | failed). A source that
fails does not undo what its earlier batches committed; the run goes on with the next source
and the failure is reported at the end, so one unreachable feed does not hold back the files.

Batches go through a pipeline of three threads: the source reads ahead (`prefetched`), both
tiers of validation judge the next batch on a cursor of their own (`_judged_ahead`: they read
only the lines), and this thread commits the current one. Committing (dedupe, the insert,
COMMIT) keeps about one core busy and judging about two, so overlapping them uses the
machine's cores where they would take turns. At most four batches are held at a time: the one
committing, the one judged, one read and waiting, one being read.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence

from pulse.core.config import Config, check_secrets
from pulse.core.warehouse import open_warehouse

from jobs.ingest import loader
from jobs.ingest.prefetch import prefetched
from jobs.ingest.sources import find, make_source
from jobs.ingest.sources.base import Batch, Source, SourceError
from jobs.ingest.sources.files import FilesSource, discover

ADHOC_SOURCE = "adhoc"
"""The source name under which `pulse ingest --file` keeps its files' positions and rejects."""

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class SourceResult:
    name: str
    counts: loader.Counts
    error: str | None = None


@dataclass
class IngestSummary:
    results: list[SourceResult] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(r.counts.accepted for r in self.results)

    @property
    def duplicates(self) -> int:
        return sum(r.counts.duplicates for r in self.results)

    @property
    def rejected(self) -> int:
        return sum(r.counts.rejected for r in self.results)

    @property
    def errors(self) -> list[str]:
        # Each source names itself in its errors ("feed platform: ...").
        return [r.error for r in self.results if r.error]

    def line(self) -> str:
        return f"accepted {self.accepted}, duplicates {self.duplicates}, rejected {self.rejected}"


def ingest(
    config: Config,
    *,
    files: Sequence[str] | None = None,
    source_names: Sequence[str] | None = None,
    on_progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Pull every configured source (or only `files`, ad hoc) into the warehouse."""
    if files:
        sources: list[Source] = [_adhoc_source(config, files)]
    else:
        check_secrets(config, only="sources")
        chosen = [find(config, n) for n in source_names] if source_names else list(config.sources)
        sources = [make_source(config, source_config) for source_config in chosen]
    summary = IngestSummary()
    with open_warehouse(config, write=True, purpose="ingest", on_wait=on_wait) as con:
        loader.prepare(con)
        # Under the exclusive lock no other run is alive: one still `running` was killed.
        con.execute("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
        for source in sources:
            summary.results.append(_pull(con, source, on_progress))
    return summary


def _adhoc_source(config: Config, files: Sequence[str]) -> FilesSource:
    def listed():
        refs = []
        for spec in files:
            refs.extend(discover(spec, Path.cwd()))
        return refs
    # Files named on the command line are complete: a last line without newline is taken at once.
    return FilesSource(ADHOC_SOURCE, listed, batch_bytes=config.ingest.batch_bytes, settle_seconds=0)


def _pull(con, source: Source, on_progress: Progress | None) -> SourceResult:
    run_id = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingest_runs").fetchall()[0][0]
    con.execute(
        "INSERT INTO ingest_runs (run_id, source_name, started_at, status) VALUES (?, ?, now(), 'running')",
        [run_id, source.name],
    )
    rows = con.execute("SELECT position FROM source_state WHERE source_name = ?", [source.name]).fetchall()
    position = json.loads(rows[0][0]) if rows else None
    counts = loader.Counts()
    error = None
    seq = loader.next_seq(con)
    try:
        for batch, verdict in _judged_ahead(con, prefetched(source.batches(position))):
            got = loader.commit_batch(con, batch, run_id=run_id, source_name=source.name,
                                      kind=source.kind, first_seq=seq, verdict=verdict)
            seq += got.accepted
            counts.add(got)
            if on_progress:
                on_progress(source.name, *batch.progress)
    except SourceError as failure:
        error = str(failure)
    except Exception as failure:  # noqa: BLE001 - recorded on the run, then re-raised
        _finish(con, run_id, "failed", f"{type(failure).__name__}: {failure}")
        raise
    _finish(con, run_id, "failed" if error else "completed", error)
    return SourceResult(source.name, counts, error)


def _judged_ahead(con, batches: Iterator[Batch]) -> Iterator[tuple[Batch, loader.Verdict | None]]:
    """Each batch with its verdict (`loader.judge`), the next batch's being worked out in a
    thread of its own, on a cursor, while the caller commits this one. Nothing there is written
    to the warehouse, so a crash meanwhile loses nothing; an error reading or judging a batch is
    raised here when the batches before it have been taken."""
    cursor = con.cursor()
    prepared = False  # (the cursor is readied once there is a line to judge: a pull with nothing new costs nothing)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulse-judge")
    try:
        def take() -> tuple[Batch, loader.Verdict | None] | None:
            nonlocal prepared
            batch = next(batches, None)
            if batch is None:
                return None
            if not len(batch.raws):
                return batch, None
            if not prepared:
                loader.prepare(cursor)  # (a connection of its own: its own timezone list)
                prepared = True
            return batch, loader.judge(cursor, batch)

        pending = pool.submit(take)
        while (item := pending.result()) is not None:
            pending = pool.submit(take)
            yield item
    finally:
        with contextlib.suppress(Exception):  # (a query still running there is not wanted now)
            cursor.interrupt()
        pool.shutdown(wait=True)
        close = getattr(batches, "close", None)
        if close:
            close()  # after the pool: the reading thread is stopped from the thread that read
        cursor.close()


def _finish(con, run_id: int, status: str, error: str | None) -> None:
    con.execute(
        "UPDATE ingest_runs SET finished_at = now(), status = ?, error = ? WHERE run_id = ?",
        [status, error, run_id],
    )
