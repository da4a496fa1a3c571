"""The DuckDB warehouse: where it lives, how it is opened, its schema versions, and who may write.

DuckDB lets one process hold a database file for writing, and no process read it meanwhile. So
every Pulse process takes a lock file beside the database first (`pulse.core.locks`): exclusive
to write, shared to read. A second process waits (bounded by `warehouse.lock_timeout_seconds`,
saying what it waits for) instead of failing with DuckDB's lock error.

Schemas are versioned per component: each plugin that owns warehouse tables registers a
`Migrations` (its numbered SQL files) through `pulse_warehouse_migrations`; a writer applies the
ones not yet applied, in order, each in its own transaction, recorded in `schema_migrations`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable, Iterator

from pydantic import Field, field_validator

from pulse.core import locks, registry
from pulse.core.config import Config, Settings, model_section
from pulse.core.storage import StorageError, describe, ensure_folder, private_file

if TYPE_CHECKING:
    import duckdb

DATABASE_NAME = "pulse.duckdb"
LOCK_NAME = "pulse.lock"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)|\d{1,2}%", re.IGNORECASE)


class WarehouseSettings(Settings):
    """`[warehouse]`: where the data lives and how DuckDB may use the machine."""

    data_dir: str = ".pulse"
    """Folder holding the DuckDB file, its lock, the people and posts files; relative paths are
    taken from the config file's folder."""
    memory_limit: str = "512MB"
    """DuckDB's memory limit, e.g. "512MB", "2GiB" or "50%" of the machine's memory."""
    threads: int = Field(2, ge=1, le=256)
    lock_timeout_seconds: float = Field(600.0, ge=0)
    """How long a writing command waits for another writer before giving up."""

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.fullmatch(value.strip()):
            raise ValueError(f"expected a size like \"512MB\", \"2GiB\" or \"50%\", got {value!r}")
        return value.strip()


@registry.hookimpl
def pulse_config_sections():
    return [model_section("warehouse", WarehouseSettings)]


class LockTimeout(locks.LockBusy):
    """Another Pulse process kept the warehouse longer than the configured wait."""


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Migrations:
    """One component's numbered SQL files (`NNN_what.sql` in `folder`), applied by `order`."""

    name: str
    folder: object
    """A path or an importlib resource folder."""
    order: int = 100

    def load(self) -> list[Migration]:
        return migrations_in(self.name, self.folder)


def database_path(config: Config) -> Path:
    return config.data_dir / DATABASE_NAME


def data_folder(config: Config) -> Path:
    """The data folder, created private when missing; StorageError when it cannot be used."""
    return ensure_folder(config.data_dir)


@contextlib.contextmanager
def open_warehouse(
    config: Config,
    *,
    write: bool,
    purpose: str = "pulse",
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse, holding its lock for as long as the block runs.

    `write=False` opens read-only under a shared lock, so readers run side by side and a writer
    waits for them (and they for it). A warehouse that does not exist yet is created (and
    migrated) first, under the exclusive lock. `timeout` overrides
    `warehouse.lock_timeout_seconds` (0: do not wait at all).
    """
    folder = data_folder(config)
    path = database_path(config)
    if not write:
        # A reader looks whether the schema is there on the connection it goes on with, under
        # the shared lock: DuckDB refuses a read-write open while another process has the file
        # open, even only to look, and a writer waits for the lock.
        with hold_lock(config, exclusive=False, purpose=purpose, on_wait=on_wait, timeout=timeout):
            if path.exists():
                with _session(_connect(path, read_only=True), config, folder, write=False) as con:
                    if _is_migrated(con):
                        yield con
                        return
        # Not there yet, or not migrated: that is done first, under the exclusive lock.
        with open_warehouse(config, write=True, purpose=purpose, on_wait=on_wait, timeout=timeout):
            pass
    with hold_lock(config, exclusive=write, purpose=purpose, on_wait=on_wait, timeout=timeout), \
            _session(_connect(path, read_only=not write), config, folder, write=write) as con:
        yield con


def _connect(path: Path, *, read_only: bool):
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        raise StorageError(f"warehouse {path}: cannot open it: {error}") from None


@contextlib.contextmanager
def _session(con, config: Config, folder: Path, *, write: bool):
    """`con`, set up as every warehouse connection is (and migrated, when it writes); closed after."""
    try:
        private_file(database_path(config))
        con.execute("SET memory_limit = ?", [config.warehouse.memory_limit])
        con.execute(f"SET threads = {int(config.warehouse.threads)}")
        con.execute("SET TimeZone = 'UTC'")
        # A missing table must be an error, never a Python variable of that name.
        con.execute("SET python_enable_replacements = false")
        con.execute("SET temp_directory = ?", [str(folder / "tmp")])
        if write:
            migrate_all(con)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def hold_lock(config: Config, *, exclusive: bool, purpose: str, on_wait: Callable[[str], None] | None = None,
              timeout: float | None = None) -> Iterator[None]:
    """Take the warehouse's lock file, waiting up to `warehouse.lock_timeout_seconds`."""
    import sys

    limit = config.warehouse.lock_timeout_seconds if timeout is None else timeout
    say = on_wait or (lambda message: print(message, file=sys.stderr, flush=True))
    try:
        with locks.hold(
            data_folder(config) / LOCK_NAME, purpose=purpose, exclusive=exclusive, timeout=limit,
            on_wait=lambda holder: say(f"waiting for {holder} to finish with {config.data_dir} (up to {limit:g} s) ..."),
            busy_message=lambda holder: (
                f"the warehouse {config.data_dir} is still in use by {holder} after {limit:g} s; "
                "try again when it has finished, or raise warehouse.lock_timeout_seconds"),
        ):
            yield
    except locks.LockBusy as busy:
        raise LockTimeout(str(busy), busy.holder) from None
    except OSError as error:
        raise StorageError(describe(error, config.data_dir)) from None


def _is_migrated(con) -> bool:
    """Whether the database `con` is open on has every registered migration applied."""
    applied = {(c, v) for c, v in con.execute(
        "SELECT component, version FROM schema_migrations").fetchall()} if _has_table(con, "schema_migrations") else set()
    return all((m.component, m.version) in applied for m in all_migrations())


def _has_table(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()[0][0])


def all_migrations() -> list[Migration]:
    """Every registered component's migrations, components in their `order`."""
    sets = sorted(registry.collect("pulse_warehouse_migrations").values(), key=lambda m: (m.order, m.name))
    return [migration for migrations in sets for migration in migrations.load()]


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


def migrate_all(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every registered component's pending migrations."""
    _ensure_migrations_table(con)
    # Before the ingest tables had a component of their own they were "core"'s; such a
    # warehouse has them already, so only the name in the record changes.
    con.execute("UPDATE schema_migrations SET component = 'ingest' WHERE component = 'core'")
    done = []
    for migration in all_migrations():
        done.extend(migrate(con, [migration]))
    return done


def _ensure_migrations_table(con) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               component VARCHAR NOT NULL,
               version INTEGER NOT NULL,
               name VARCHAR NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
               PRIMARY KEY (component, version))"""
    )


def migrate(con: duckdb.DuckDBPyConnection, migrations: list[Migration]) -> list[Migration]:
    """Apply those of `migrations` not yet applied, in order, each in its own transaction."""
    _ensure_migrations_table(con)
    done = []
    for migration in migrations:
        applied = con.execute("SELECT count(*) FROM schema_migrations WHERE component = ? AND version = ?",
                              [migration.component, migration.version]).fetchall()[0][0]
        if applied:
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
