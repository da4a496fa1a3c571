"""The dashboards' own read-only copy of the metrics: `<data_dir>/dashboard.duckdb`.

Why a copy: DuckDB lets one process have a file open for writing and then no other process
can even read it, so a web server reading the warehouse would either stall `pulse ingest` /
`pulse build` (holding a shared lock) or stall itself (waiting for theirs). Instead, after a
build (or whenever the server finds the warehouse free and newer) the model tables the pages
read are copied, under a brief shared lock, into a new file that replaces the old one
atomically (`os.replace`). The server only ever opens that copy, read-only, and re-opens it
when it changes: page views never touch the warehouse lock.

The copy keeps the `analytics.*` tables under their own names, so the metrics API runs on it
unchanged. Beside them, one row of `dashboard_meta` says how fresh the figures are, and
`dashboard_sources` where each source's ingest runs stand (what the lag and reject-rate
alerts read, so `pulse status` and the pages never need the warehouse for them).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from collections.abc import Iterator

import duckdb

from analytics import refresh
from pulse.core.config import Config
from pulse.core.instants import duration
from pulse.core.storage import private_file
from pulse.core.warehouse import LockTimeout, database_path, open_warehouse

SNAPSHOT_NAME = "dashboard.duckdb"

# What the pages read, and how each is copied. Ordered by city (then day) so DuckDB's
# per-block min/max lets a one-city query skip the other cities' blocks.
_COPIES = {
    "cities": "SELECT * FROM analytics.cities ORDER BY city",
    "member_daily": "SELECT * FROM analytics.member_daily ORDER BY city, day",
    "meetups": "SELECT * FROM analytics.meetups ORDER BY city, starts_at, event_id",
    "attendance": "SELECT a.* FROM analytics.attendance a JOIN analytics.meetups m USING (event_id) "
                  "ORDER BY m.city, m.starts_at, a.event_id",
    "posts": "SELECT * FROM analytics.posts ORDER BY post_id",
    # Readers sum `views` and count distinct visitors per key, so rows of one key (an
    # incremental build appends them) can be folded into one.
    "blog_visits": "SELECT city, post_id, day, visitor_id, sum(views)::BIGINT AS views "
                   "FROM analytics.blog_visits GROUP BY ALL ORDER BY city, day, post_id",
    "state": "SELECT * FROM analytics.state",
}


@dataclass(frozen=True)
class Freshness:
    """How current the figures in a snapshot are ("data as of")."""

    built: bool
    """The metrics had been built when the snapshot was taken."""
    built_at: datetime | None
    last_seq: int
    """Events up to this seq are in the figures."""
    max_seq: int
    """Events up to this seq had been ingested when the snapshot was taken."""
    last_ingest_at: datetime | None
    """When the last ingest run that completed finished."""
    last_run_status: str | None
    """Status of the most recent ingest run (completed, failed, interrupted, running)."""
    last_run_at: datetime | None
    snapshot_at: datetime
    warehouse_mtime_ns: int
    """The warehouse files' modification time the copy was taken at (0: no warehouse yet)."""

    def stale_reasons(self, now: datetime, stale_after: timedelta) -> list[str]:
        """Why a person should not trust these figures as current; empty when they can."""
        reasons = []
        if not self.built:
            reasons.append("The metrics have not been built yet: run `pulse build`.")
        elif self.max_seq > self.last_seq:
            waiting = self.max_seq - self.last_seq
            reasons.append(f"{waiting} event{'s' if waiting != 1 else ''} ingested since the last build "
                           f"{'are' if waiting != 1 else 'is'} not in these figures yet (the next `pulse build` adds them).")
        if self.last_ingest_at is None:
            reasons.append("No ingest has completed yet.")
        elif now - self.last_ingest_at > stale_after:
            reasons.append(f"The last ingest finished {duration(now - self.last_ingest_at)} ago.")
        if self.last_run_status in ("failed", "interrupted"):
            reasons.append(f"The most recent ingest run {self.last_run_status}.")
        return reasons


def snapshot_path(config: Config) -> Path:
    return config.data_dir / SNAPSHOT_NAME


def warehouse_mtime_ns(config: Config) -> int:
    """The latest modification time of the warehouse file and its WAL (0 when there is none)."""
    newest = 0
    for path in (database_path(config), database_path(config).with_name(database_path(config).name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            newest = max(newest, path.stat().st_mtime_ns)
    return newest


def publish(config: Config, *, wait: bool = True) -> Path:
    """Copy what the dashboards need into a new snapshot and put it in place; returns its path.

    Takes the warehouse's shared lock for the copy (a second or so at demo scale), waiting up
    to `warehouse.lock_timeout_seconds` for a writer, or with `wait=False` not at all
    (`LockTimeout` when the warehouse is busy). Call it after `pulse build`.
    """
    snapshot_path(config).parent.mkdir(parents=True, exist_ok=True)
    if not database_path(config).exists():
        return _write(config, None, 0)
    quiet = (lambda message: None) if not wait else None
    with open_warehouse(config, write=False, purpose="dashboard snapshot", on_wait=quiet,
                        timeout=None if wait else 0) as con:
        return publish_from(con, config)


def publish_from(con: duckdb.DuckDBPyConnection, config: Config) -> Path:
    """Like `publish`, from a warehouse connection the caller already holds (read or write),
    e.g. right after `refresh.build_in` on the build's own connection."""
    # Taken first: anything written after this instant makes the snapshot out of date.
    mtime = warehouse_mtime_ns(config)
    return _write(config, con, mtime)


def _write(config: Config, con: duckdb.DuckDBPyConnection | None, mtime: int) -> Path:
    final = snapshot_path(config)
    temporary = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:
        if con is None:
            with contextlib.closing(duckdb.connect(str(temporary))) as snap:
                _write_meta(snap, "main", Freshness(False, None, 0, 0, None, None, None, _now(), 0))
                _write_sources(snap, "main", with_runs=False)
        else:
            # The warehouse connection attaches the new file and copies into it: one process,
            # one handle on the warehouse, whether the caller holds it to read or to write.
            con.execute(f"ATTACH '{_sql_text(temporary)}' AS {_ALIAS} (READ_WRITE)")
            try:
                _copy(con, config, mtime)
            finally:
                con.execute(f"DETACH {_ALIAS}")
        private_file(temporary)  # 0600 like the warehouse it copies (DuckDB wants to create the file)
        os.replace(temporary, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return final


_ALIAS = "pulse_dashboard_snapshot"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SourceRuns:
    """Where one source's ingest runs stood when the snapshot was taken."""

    name: str
    last_completed_at: datetime | None
    """When its last complete pull finished (None: never)."""
    last_status: str | None
    last_at: datetime | None
    """When its most recent run finished (or started, while running)."""
    accepted: int
    duplicates: int
    rejected: int
    """The counts of its most recent run."""

    @property
    def records(self) -> int:
        return self.accepted + self.duplicates + self.rejected


_SOURCES = """SELECT source_name, max(finished_at) FILTER (WHERE status = 'completed'),
                     arg_max(status, run_id), arg_max(coalesce(finished_at, started_at), run_id),
                     arg_max(accepted, run_id), arg_max(duplicates, run_id), arg_max(rejected, run_id)
              FROM ingest_runs GROUP BY source_name ORDER BY source_name"""


def _write_sources(con, database: str, with_runs: bool) -> None:
    con.execute(f"""CREATE TABLE {database}.dashboard_sources (
        source_name VARCHAR, last_completed_at TIMESTAMPTZ, last_status VARCHAR, last_at TIMESTAMPTZ,
        accepted BIGINT, duplicates BIGINT, rejected BIGINT)""")
    if with_runs:
        con.execute(f"INSERT INTO {database}.dashboard_sources {_SOURCES}")


def read_sources(con) -> list[SourceRuns]:
    """Each source's runs as the snapshot holds them (none in a snapshot written before they were kept)."""
    try:
        rows = con.execute("SELECT * FROM dashboard_sources ORDER BY source_name").fetchall()
    except duckdb.CatalogException:
        return []
    return [SourceRuns(*row) for row in rows]


def _copy(con, config: Config, mtime: int) -> None:
    status = refresh.status(con)
    built = status.built and not status.pending_migrations
    last_ingest = con.execute(
        "SELECT max(finished_at) FROM ingest_runs WHERE status = 'completed'").fetchall()[0][0]
    last_run = con.execute(
        "SELECT status, coalesce(finished_at, started_at) FROM ingest_runs ORDER BY run_id DESC LIMIT 1").fetchall()
    built_at = None
    if built:
        con.execute(f"CREATE SCHEMA {_ALIAS}.analytics")
        for table, select in _COPIES.items():
            con.execute(f"CREATE TABLE {_ALIAS}.analytics.{table} AS {select}")
        built_at = con.execute("SELECT max(built_at) FROM analytics.state").fetchall()[0][0]
    _write_meta(con, _ALIAS, Freshness(
        built=built, built_at=built_at, last_seq=status.last_seq, max_seq=status.max_seq,
        last_ingest_at=last_ingest, last_run_status=last_run[0][0] if last_run else None,
        last_run_at=last_run[0][1] if last_run else None, snapshot_at=_now(), warehouse_mtime_ns=mtime))
    _write_sources(con, _ALIAS, with_runs=True)


def _write_meta(con, database: str, freshness: Freshness) -> None:
    con.execute(f"""CREATE TABLE {database}.dashboard_meta (
        built BOOLEAN, built_at TIMESTAMPTZ, last_seq BIGINT, max_seq BIGINT,
        last_ingest_at TIMESTAMPTZ, last_run_status VARCHAR, last_run_at TIMESTAMPTZ,
        snapshot_at TIMESTAMPTZ, warehouse_mtime_ns BIGINT)""")
    con.execute(f"INSERT INTO {database}.dashboard_meta VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [freshness.built, freshness.built_at, freshness.last_seq, freshness.max_seq,
                 freshness.last_ingest_at, freshness.last_run_status, freshness.last_run_at,
                 freshness.snapshot_at, freshness.warehouse_mtime_ns])


def _sql_text(text: str) -> str:
    return str(text).replace("'", "''")


def open_snapshot(path: Path, threads: int = 1) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the snapshot file at `path` as it is now.

    Through a new in-memory database that attaches the file, not `duckdb.connect(path)`:
    DuckDB keeps one database per path and process, so connecting by path again after the
    file was replaced would hand back the old, still open one. Cursors of the returned
    connection must `use_snapshot` first.
    """
    con = duckdb.connect(":memory:", config={"threads": threads})
    con.execute(f"ATTACH '{_sql_text(path)}' AS {_READ_ALIAS} (READ_ONLY)")
    use_snapshot(con)
    return con


_READ_ALIAS = "dashboard_snapshot"


def use_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Make the attached snapshot the default database of this connection or cursor."""
    con.execute(f"USE {_READ_ALIAS}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET python_enable_replacements = false")


def read_freshness(con: duckdb.DuckDBPyConnection) -> Freshness:
    row = con.execute("SELECT * FROM dashboard_meta").fetchall()[0]
    return Freshness(*row)


class SnapshotReader:
    """Read-only access to the current snapshot for many threads, re-opened when it is replaced.

    `cursor()` hands each caller its own DuckDB cursor on the newest snapshot together with a
    version (changes whenever the file is replaced): the key under which derived results can
    be cached.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: tuple[int, int] | None = None
        self._freshness: Freshness | None = None

    def _current(self):
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None, None, None
        version = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            if version != self._version:
                # The old connection is left to the garbage collector: requests still
                # running on it keep their cursors, and the replaced file stays readable
                # through them until they finish.
                con = open_snapshot(self.path)
                self._con, self._version = con, version
                self._freshness = read_freshness(con)
            return self._con, self._version, self._freshness

    def version(self) -> tuple | None:
        """The current snapshot's version (None while there is none)."""
        return self._current()[1]

    @contextlib.contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection | None, tuple | None, Freshness | None]]:
        """(cursor, version, freshness); all None while no snapshot exists yet."""
        con, version, freshness = self._current()
        if con is None:
            yield None, None, None
            return
        cursor = con.cursor()
        try:
            use_snapshot(cursor)
            yield cursor, version, freshness
        finally:
            cursor.close()


class Refresher:
    """Keeps the snapshot in step with the warehouse from inside `pulse serve`.

    Every `interval` seconds: when the warehouse changed since the snapshot was taken, try to
    publish a new one without waiting for the lock. A running ingest or build simply means
    "not now"; the pages go on showing the previous snapshot (with its "data as of").
    """

    def __init__(self, config: Config, interval: float = 5.0, on_error=None):
        self.config = config
        self.interval = interval
        self.on_error = on_error or (lambda error: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_attempt_busy = False

    def due(self) -> bool:
        path = snapshot_path(self.config)
        if not path.exists():
            return True
        current = warehouse_mtime_ns(self.config)
        try:
            with contextlib.closing(open_snapshot(path)) as con:
                taken = read_freshness(con).warehouse_mtime_ns
        except duckdb.Error:
            return True
        return current != taken

    def refresh_once(self) -> bool:
        """Publish when due and the warehouse is free; True when a new snapshot was written."""
        if not self.due():
            return False
        try:
            publish(self.config, wait=False)
        except LockTimeout:
            self.last_attempt_busy = True
            return False
        self.last_attempt_busy = False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh_once()
            except Exception as error:  # keep serving the last good snapshot
                self.on_error(error)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pulse-snapshot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def wait_for(path: Path, timeout: float) -> bool:
    """Wait until `path` exists (a first snapshot being written elsewhere)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
