"""The small SQLite stores beside the warehouse (people, posts): connections, transactions and
versioned schema migrations, done the same way for each.

Why SQLite: these stores change while `pulse ingest` or `pulse build` hold DuckDB's single
writer (sign-ins, approvals, a post marked *publishing*). In WAL mode any number of processes
read and one writes for milliseconds at a time.

Migrations are files `NNN_what.sql` in a package folder, applied in order, each in one
transaction with its row in `schema_migrations`, so a store written by an older Pulse is
brought up to date when it is opened (the same scheme as the warehouse's).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from collections.abc import Iterator

from pulse.core.storage import private_file


def connect(path: Path, *, synchronous: str = "NORMAL", busy_timeout_seconds: float = 30.0,
            check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on; the
    file (and so its -wal and -shm) private to the owner from the start."""
    private_file(path)
    con = sqlite3.connect(path, timeout=busy_timeout_seconds, isolation_level=None,
                          check_same_thread=check_same_thread)
    try:
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode = WAL")
        con.execute(f"PRAGMA synchronous = {synchronous}")
        con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        con.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (BEGIN IMMEDIATE: read-then-write cannot interleave
    with another writer), committed on leaving the block, rolled back on any error."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def migrate(con: sqlite3.Connection, folder) -> list[int]:
    """Apply the migrations of `folder` (a path or importlib resource) not applied yet; returns
    the versions applied."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
    applied = {row[0] for row in con.execute("SELECT version FROM schema_migrations")}
    done = []
    for version, name, sql in _migrations(folder):
        if version in applied:
            continue
        # executescript runs the whole file; the explicit BEGIN/COMMIT make it one transaction.
        try:
            con.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;INSERT INTO schema_migrations (version, name) "
                              f"VALUES ({version}, '{name}');\nCOMMIT;")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        done.append(version)
    return done


def _migrations(folder) -> list[tuple[int, str, str]]:
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append((int(number), rest.removesuffix(".sql").replace("'", ""), entry.read_text(encoding="utf-8")))
    return sorted(found)
