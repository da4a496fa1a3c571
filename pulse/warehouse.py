"""The DuckDB warehouse: where it lives, how it is opened, its schema versions, and who may write.

DuckDB lets one process hold a database file for writing, and no process read it meanwhile. So
every Pulse process takes a lock file beside the database first: exclusive to write, shared to
read. A second process waits (bounded by `warehouse.lock_timeout_seconds`, saying what it waits
for) instead of failing with DuckDB's lock error.

Schemas are versioned per component (`core`, later `analytics`, `posters`, ...): each component
hands `migrate` its numbered SQL files and the ones not yet applied run in order, each in its
own transaction, recorded in `schema_migrations`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from pulse.config import Config

DATABASE_NAME = "pulse.duckdb"
LOCK_NAME = "pulse.lock"


class LockTimeout(Exception):
    """Another Pulse process kept the warehouse longer than the configured wait."""


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def database_path(config: Config) -> Path:
    return config.data_dir / DATABASE_NAME


@contextlib.contextmanager
def open_warehouse(
    config: Config,
    *,
    write: bool,
    purpose: str = "pulse",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse, holding its lock for as long as the block runs.

    `write=False` opens read-only under a shared lock, so readers run side by side and a writer
    waits for them (and they for it). A warehouse that does not exist yet is created (and
    migrated) first, under the exclusive lock.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    path = database_path(config)
    if not write and not _is_migrated(path):
        with open_warehouse(config, write=True, purpose=purpose, on_wait=on_wait):
            pass
    with hold_lock(config, exclusive=write, purpose=purpose, on_wait=on_wait):
        con = duckdb.connect(str(path), read_only=not write)
        try:
            con.execute(f"SET memory_limit = '{config.warehouse.memory_limit}'")
            con.execute(f"SET threads = {int(config.warehouse.threads)}")
            con.execute("SET TimeZone = 'UTC'")
            # A missing table must be an error, never a Python variable of that name.
            con.execute("SET python_enable_replacements = false")
            con.execute(f"SET temp_directory = '{config.data_dir / 'tmp'}'")
            if write:
                migrate(con, core_migrations())
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def hold_lock(
    config: Config,
    *,
    exclusive: bool,
    purpose: str,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Take the warehouse's lock file, waiting up to `warehouse.lock_timeout_seconds`."""
    lock_path = config.data_dir / LOCK_NAME
    say = on_wait or (lambda message: print(message, file=sys.stderr, flush=True))
    timeout = config.warehouse.lock_timeout_seconds
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            holder = _read_holder(lock_path)
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"the warehouse {config.data_dir} is still in use by {holder} after {timeout:g} s; "
                    "try again when it has finished, or raise warehouse.lock_timeout_seconds"
                )
            if not announced:
                say(f"waiting for {holder} to finish with {config.data_dir} (up to {timeout:g} s) ...")
                announced = True
            time.sleep(0.1)
        if exclusive:
            # Tell waiters who holds it: one line, rewritten by each writer.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({purpose}, since {time.strftime('%H:%M:%S')})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _is_migrated(path: Path) -> bool:
    """Whether the database exists with the core schema (without taking any lock: a peek)."""
    if not path.exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return True  # held by a writer right now: it exists, and the writer migrated it
    try:
        return bool(con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'").fetchall()[0][0])
    finally:
        con.close()


def _read_holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return f"another pulse process: {text}" if text else "another pulse process"


def core_migrations() -> list[Migration]:
    return migrations_in("core", Path(__file__).parent / "migrations")


def migrations_in(component: str, folder) -> list[Migration]:
    """Migrations from files named `NNN_what.sql` in `folder` (a path or importlib resource)."""
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        number, _, rest = name.partition("_")
        found.append(Migration(component, int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(con: duckdb.DuckDBPyConnection, migrations: list[Migration]) -> list[Migration]:
    """Apply the migrations not yet applied, in order, each in its own transaction."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               component VARCHAR NOT NULL,
               version INTEGER NOT NULL,
               name VARCHAR NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
               PRIMARY KEY (component, version))"""
    )
    if not migrations:
        return []
    component = migrations[0].component
    applied = {row[0] for row in con.execute(
        "SELECT version FROM schema_migrations WHERE component = ?", [component]).fetchall()}
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES (?, ?, ?)",
                [migration.component, migration.version, migration.name],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done.append(migration)
    return done
