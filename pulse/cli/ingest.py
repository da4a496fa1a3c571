"""`pulse ingest`, `pulse rejects`, `pulse sources`: taking the stream in, and seeing what happened."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sys

import click

from analytics.formatting import printable
from jobs.ingest.run import ADHOC_SOURCE, ingest as run_ingest
from jobs.ingest.sources.base import SourceError
from pulse.cli.common import fail, load_config, main, run_guarded
from pulse.warehouse import open_warehouse


@main.command()
@click.option("--file", "files", multiple=True, type=click.Path(exists=True),
              help="Ingest this NDJSON file or folder ad hoc instead of the configured sources (repeatable).")
@click.option("--source", "source_names", multiple=True, help="Pull only this configured source (repeatable).")
@click.pass_context
def ingest(ctx: click.Context, files: tuple[str, ...], source_names: tuple[str, ...]) -> None:
    """Pull new events from every configured source (or --file) into the warehouse.

    Prints `accepted N, duplicates N, rejected N`. Exits 0 when the run completed, even with
    rejected records (see `pulse rejects`); 1 when a source could not be read.
    """
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


@main.command()
@click.option("--limit", type=click.IntRange(min=1), help="At most N rejects (the most recent).")
@click.option("--reason", help="Only this reason code, e.g. bad_time or missing_field:user_id.")
@click.option("--source", "source_name", help="Only rejects that came through this source.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              help="Output format (default: table on a terminal, else csv).")
@click.pass_context
def rejects(ctx: click.Context, limit: int | None, reason: str | None, source_name: str | None,
            fmt: str | None) -> None:
    """Records that were rejected, with where they came from and why, oldest first."""
    config = load_config(ctx)
    fmt = fmt or ("table" if sys.stdout.isatty() else "csv")
    where, params = [], []
    if reason:
        where.append("reason = ?")
        params.append(reason)
    if source_name:
        where.append("source_name = ?")
        params.append(source_name)
    sql = "SELECT location, reason, raw FROM rejects"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY run_id DESC, rowid DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"

    def read():
        with open_warehouse(config, write=False, purpose="rejects") as con:
            return con.execute(sql, params).fetchall()

    rows = list(reversed(run_guarded(read)))
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(REJECT_COLUMNS)
        writer.writerows(rows)
    elif fmt == "json":
        click.echo(json.dumps([dict(zip(REJECT_COLUMNS, row)) for row in rows], ensure_ascii=False, indent=2))
    else:
        _print_table(REJECT_COLUMNS, rows, squeeze=2)
        click.echo(f"({len(rows)} rejects)", err=True)


def _print_table(headers, rows, squeeze: int | None = None) -> None:
    """An aligned table; column `squeeze` is cut (with …) so that lines fit the terminal."""
    cells = [["" if value is None else printable(str(value)) for value in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if squeeze is not None:
        room = shutil.get_terminal_size((120, 24)).columns - sum(w + 2 for i, w in enumerate(widths) if i != squeeze)
        widths[squeeze] = max(10, min(widths[squeeze], room))
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        shown = [(v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(row, widths)]
        click.echo("  ".join(shown).rstrip())


@main.command()
@click.pass_context
def sources(ctx: click.Context) -> None:
    """Each source: where it stands, its last run, and how far behind it is."""
    config = load_config(ctx)

    def read():
        with open_warehouse(config, write=False, purpose="sources") as con:
            states = {name: (kind, json.loads(position), updated) for name, kind, position, updated in
                      con.execute("SELECT source_name, kind, position, updated_at FROM source_state").fetchall()}
            runs = {row[0]: row[1:] for row in con.execute(
                """SELECT source_name, arg_max(started_at, run_id), arg_max(finished_at, run_id),
                          arg_max(status, run_id), arg_max(accepted, run_id), arg_max(duplicates, run_id),
                          arg_max(rejected, run_id), arg_max(error, run_id),
                          max(finished_at) FILTER (WHERE status = 'completed')
                   FROM ingest_runs GROUP BY source_name""").fetchall()}
            return states, runs

    states, runs = run_guarded(read)
    names = [s.name for s in config.sources] + sorted(n for n in set(states) | set(runs)
                                                      if n not in {s.name for s in config.sources})
    if not names:
        click.echo("no sources configured and nothing ingested yet")
        return
    kinds = {s.name: s.kind for s in config.sources}
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for name in names:
        kind, position, _ = states.get(name, (kinds.get(name, "files" if name == ADHOC_SOURCE else "?"), None, None))
        run = runs.get(name)
        if run:
            started, finished, status, accepted, duplicates, rejected, error, last_ok = run
            last_run = f"{status} {_ago(now, finished or started)}: +{accepted} ={duplicates} !{rejected}"
            if error:
                last_run += f" ({error})"
            lag = _ago(now, last_ok) if last_ok else "never completed"
        else:
            last_run, lag = "never run", "-"
        rows.append((name, kinds.get(name, kind), describe_position(kind, position), last_run, lag))
    _print_table(("source", "kind", "position", "last run", "last completed"), rows, squeeze=3)


def describe_position(kind: str, position) -> str:
    if position is None:
        return "not started"
    if kind == "files":
        files = position.get("files", {})
        behind = sum(max(_size_now(path) - state["offset"], 0) for path, state in files.items())
        lines = sum(state["line"] for state in files.values())
        text = f"{len(files)} files, {lines:,} lines read"
        return text + (f", {behind:,} bytes not yet read" if behind else ", up to date")
    if kind == "feed":
        return f"cursor {position.get('cursor')!r}"
    if kind == "outbox":
        return f"seq {position.get('seq')}"
    return json.dumps(position)[:60]


def _size_now(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _ago(now: dt.datetime, when: dt.datetime | None) -> str:
    if when is None:
        return "-"
    seconds = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
