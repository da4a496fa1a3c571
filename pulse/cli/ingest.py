"""`pulse ingest`, `pulse rejects`, `pulse sources`: taking the stream in, and seeing what happened."""

from __future__ import annotations

import json
import os
import sys

import click

from pulse.core import registry
from pulse.core.output import printable

from pulse.cli.common import FORMATS, default_format, emit, fail, load_config, run_guarded


@click.command()
@click.option("--file", "files", multiple=True, type=click.Path(exists=True),
              help="Ingest this NDJSON file or folder ad hoc instead of the configured sources (repeatable).")
@click.option("--source", "source_names", multiple=True, help="Pull only this configured source (repeatable).")
@click.pass_context
def ingest(ctx: click.Context, files: tuple[str, ...], source_names: tuple[str, ...]) -> None:
    """Pull new events from every configured source (or --file) into the warehouse.

    Prints `accepted N, duplicates N, rejected N`. Exits 0 when the run completed, even with
    rejected records (see `pulse rejects`); 1 when a source could not be read.
    """
    from jobs.ingest.run import ingest as run_ingest
    from jobs.ingest.sources.base import SourceError

    config = load_config(ctx)
    if not files and not config.sources and not source_names:
        fail("no sources configured; add a [sources.NAME] section to pulse.toml, or pass --file PATH", code=2)
    progress = _ProgressLine() if sys.stderr.isatty() else None
    try:
        summary = run_guarded(lambda: run_ingest(
            config, files=list(files), source_names=list(source_names),
            on_progress=progress.update if progress else None))
    except SourceError as error:
        fail(str(error))
    finally:
        if progress:
            progress.close()
    click.echo(summary.line())
    for error in summary.errors:
        click.echo(f"pulse: {error}", err=True)
    if summary.errors:
        sys.exit(1)


class _ProgressLine:
    """One self-rewriting line on stderr: source, percent or count."""

    def __init__(self) -> None:
        self._shown = False

    def update(self, source: str, done: int, total: int | None) -> None:
        if total:
            width = 30
            filled = int(width * done / total)
            text = f"{source}: [{'#' * filled}{'.' * (width - filled)}] {100 * done / total:5.1f}%"
        else:
            text = f"{source}: {done:,} records"
        click.echo(f"\r{text}\x1b[K", err=True, nl=False)
        self._shown = True

    def close(self) -> None:
        if self._shown:
            click.echo("\r\x1b[K", err=True, nl=False)


REJECT_COLUMNS = ("location", "reason", "raw")


@click.command()
@click.option("--limit", type=click.IntRange(min=1), help="At most N rejects (the most recent).")
@click.option("--reason", help="Only this reason code, e.g. bad_time or missing_field:user_id.")
@click.option("--source", "source_name", help="Only rejects that came through this source.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: table on a terminal, else csv).")
@click.pass_context
def rejects(ctx: click.Context, limit: int | None, reason: str | None, source_name: str | None,
            fmt: str | None) -> None:
    """Records that were rejected, with where they came from and why, oldest first."""
    from pulse.core.warehouse import open_warehouse

    config = load_config(ctx)
    where, params = [], []
    if reason:
        where.append("reason = ?")
        params.append(reason)
    if source_name:
        where.append("source_name = ?")
        params.append(source_name)
    sql = "SELECT location, reason, raw, source_name FROM rejects"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY run_id DESC, rowid DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"

    def read():
        with open_warehouse(config, write=False, purpose="rejects") as con:
            return con.execute(sql, params).fetchall()

    found = list(reversed(run_guarded(read)))
    if (fmt or default_format()) != "table":
        emit(REJECT_COLUMNS, [row[:3] for row in found], fmt)
        return
    # For a person: each file named from its source's folder (said once, below the table).
    folders = _source_folders(found)
    rows = [(_within(location, folders.get(source)), reason, raw) for location, reason, raw, source in found]
    emit(REJECT_COLUMNS, rows, "table")
    note = f"({len(rows)} rejects"
    if len(folders) == 1:
        note += f"; paths relative to {next(iter(folders.values()))}"
    elif folders:
        note += "; paths relative to each source's folder: " + ", ".join(
            f"{name} {folder}" for name, folder in sorted(folders.items()))
    click.echo(printable(note + ")"), err=True)


def _path_of(location: str) -> str | None:
    """The file of a `PATH:LINE` location (None for `feed:...`, `outbox:...`)."""
    path, _, line = location.rpartition(":")
    return path if line.isdigit() and os.sep in path else None


def _source_folders(found) -> dict[str, str]:
    """Source name → the folder its rejected files are all in (sources whose locations are files)."""
    paths: dict[str, list[str]] = {}
    for location, _, _, source in found:
        path = _path_of(location)
        if path is not None:
            paths.setdefault(source, []).append(os.path.dirname(path))
    folders = {}
    for source, dirs in paths.items():
        try:
            common = os.path.commonpath(dirs)
        except ValueError:  # absolute and relative paths mixed
            continue
        if common:
            folders[source] = common
    return folders


def _within(location: str, folder: str | None) -> str:
    path = _path_of(location)
    if folder is None or path is None:
        return location
    return os.path.relpath(path, folder) + location[len(path):]


SOURCE_COLUMNS = ("source", "kind", "position", "last run", "accepted", "duplicates", "rejected", "lag")


@click.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format (default: table on a terminal, else csv).")
@click.pass_context
def sources(ctx: click.Context, fmt: str | None) -> None:
    """Each source: where it stands, its last run, and how far behind it is.

    `lag` is how long ago the source's last complete pull finished: everything it held then is in."""
    from jobs.ingest.run import ADHOC_SOURCE
    from jobs.ingest.sources.files import FilesSource
    from jobs.ingest.sources import describe_position
    from pulse.core.instants import ago, brief, now_utc
    from pulse.core.warehouse import open_warehouse

    config = load_config(ctx)

    def read():
        with open_warehouse(config, write=False, purpose="sources") as con:
            states = {name: (kind, json.loads(position)) for name, kind, position in
                      con.execute("SELECT source_name, kind, position FROM source_state").fetchall()}
            runs = {row[0]: row[1:] for row in con.execute(
                """SELECT source_name, arg_max(started_at, run_id), arg_max(finished_at, run_id),
                          arg_max(status, run_id), arg_max(accepted, run_id), arg_max(duplicates, run_id),
                          arg_max(rejected, run_id), arg_max(error, run_id),
                          max(finished_at) FILTER (WHERE status = 'completed')
                   FROM ingest_runs GROUP BY source_name""").fetchall()}
            return states, runs

    states, runs = run_guarded(read)
    configured = {s.name: s.kind for s in config.sources}
    names = list(configured) + sorted(n for n in set(states) | set(runs) if n not in configured)
    if not names:
        click.echo("no sources configured and nothing ingested yet")
        return
    now = now_utc()
    rows = []
    for name in names:
        kind, position = states.get(name, (configured.get(name, FilesSource.kind if name == ADHOC_SOURCE else "?"), None))
        run = runs.get(name)
        if run:
            started, finished, status, accepted, duplicates, rejected, error, last_ok = run
            last_run = f"{status} {ago(now, finished or started)}" + (f": {error}" if error else "")
            lag = brief(now - last_ok) if last_ok else "never completed"
        else:
            last_run, accepted, duplicates, rejected, lag = "never run", None, None, None, "-"
        rows.append((name, configured.get(name, kind), describe_position(kind, position), last_run,
                     accepted, duplicates, rejected, lag))
    emit(SOURCE_COLUMNS, rows, fmt, numeric=(False, False, False, False, True, True, True, False))


@registry.hookimpl
def pulse_commands():
    return [ingest, rejects, sources]
