"""`pulse backup DIR` and `pulse restore DIR`: a consistent, verified copy of the data folder.

What is copied: the warehouse (`pulse.duckdb`, and its `.wal` when a killed writer left one)
and every SQLite store of the data folder (`people.sqlite`, `posts.sqlite`, `jobs.sqlite`, any
a plugin adds). Not copied: the dashboards' snapshot (rebuilt from the warehouse on restore),
lock files and DuckDB's temporary folder.

Consistent while jobs run:
- the warehouse is copied under its shared lock, so no writer is inside it (an ingest or build
  running is waited for, up to `warehouse.lock_timeout_seconds`, saying so); its tables are
  counted through a read-only connection under the same lock;
- each SQLite store through SQLite's online backup API, which copies a consistent state
  even while another process writes (WAL mode).

Verified after writing: the copied warehouse is opened and every table counted again (the
counts must equal the source's), each SQLite copy passes `PRAGMA integrity_check`, and
`manifest.json` records every file's size and SHA-256, which `restore` checks before it
touches anything. A restore moves the files it replaces into `before-restore-STAMP/` in the
data folder (nothing is deleted) and publishes a fresh dashboards' snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pulse.core import locks
from pulse.core.config import Config
from pulse.core.instants import format_instant, now_utc
from pulse.core.storage import StorageError, describe, ensure_folder
from pulse.core.warehouse import DATABASE_NAME, database_path, hold_lock

from jobs import history

# The table the accepted events are stored in, behind the view `events` (jobs/ingest/migrations/002):
# the reports count its rows from the table counts the backup verifies by.
_EVENTS_TABLE = "main.event_log"

MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot be done or did not verify; one line for the operator."""


@dataclass
class BackupReport:
    folder: Path
    files: list[dict] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    """Warehouse table → rows, equal in the source and the copy."""

    def line(self) -> str:
        size = sum(f["bytes"] for f in self.files)
        return (f"backed up {len(self.files)} files ({size / 1e6:.1f} MB; warehouse: {len(self.tables)} tables, "
                f"{self.tables.get(_EVENTS_TABLE, 0):,} events) to {self.folder}; verified")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stores(config: Config) -> list[Path]:
    """The SQLite stores of the data folder, by name."""
    return sorted(p for p in config.data_dir.glob("*.sqlite") if p.is_file())


def table_counts(con) -> dict[str, int]:
    """Rows of every table of a DuckDB connection's own database, `schema.table` → count."""
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
                         "ORDER BY schema_name, table_name").fetchall()
    # (fetchall, not fetchone: DuckDB 2 leaves a result open after fetchone)
    return {f"{schema}.{table}": con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0]
            for schema, table in tables}


def _open_readonly(path: Path):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET python_enable_replacements = false")
    return con


def backup(config: Config, folder: Path, *, on_wait=None) -> BackupReport:
    folder = Path(folder).resolve()
    if folder == config.data_dir or config.data_dir in folder.parents:
        raise BackupError(f"{folder}: a backup cannot go inside the data folder {config.data_dir}; choose a folder elsewhere")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder}: exists and is not an empty folder; give a new folder for each backup")
    if not config.data_dir.is_dir():
        if any(part.exists() and not part.is_dir() for part in [config.data_dir, *config.data_dir.parents]):
            ensure_folder(config.data_dir)  # says which: a file in the way, or in its path
        raise BackupError(f"data folder {config.data_dir}: does not exist; nothing to back up")
    if not database_path(config).exists() and not stores(config):
        raise BackupError(f"data folder {config.data_dir}: holds no warehouse and no stores; nothing to back up")
    ensure_folder(folder, what="backup folder")
    report = BackupReport(folder)
    try:
        # The warehouse first (it may wait for an ingest or build to finish), then the stores:
        # the job history then has that run finished, as the warehouse has its work.
        if database_path(config).exists():
            report.tables = _copy_warehouse(config, folder, report, on_wait=on_wait)
        for store in stores(config):
            report.files.append(_copy_store(store, folder / store.name))
        manifest = {"format": FORMAT, "pulse": metadata.version("pulse"), "created_at": format_instant(now_utc()),
                    "data_dir": str(config.data_dir), "files": report.files, "warehouse_tables": report.tables}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(folder / MANIFEST, 0o600)
        _fsync(folder / MANIFEST)
    except OSError as error:
        raise StorageError(describe(error, Path(error.filename or folder), "backup")) from None
    return report


def _copy_store(source: Path, target: Path) -> dict:
    """SQLite's online backup: a consistent copy whoever writes meanwhile; then checked."""
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        # A self-contained file (no -wal/-shm beside it); Pulse puts it back in WAL mode on opening.
        dst.execute("PRAGMA journal_mode = DELETE")
    os.chmod(target, 0o600)
    with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as copy:
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"{target}: the copy of {source.name} does not pass SQLite's integrity check ({verdict})")
    _fsync(target)
    return {"name": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target)}


def _copy_warehouse(config: Config, folder: Path, report: BackupReport, *, on_wait=None) -> dict[str, int]:
    source = database_path(config)
    names = [DATABASE_NAME, DATABASE_NAME + ".wal"]
    with hold_lock(config, exclusive=False, purpose="backup", on_wait=on_wait), \
            contextlib.closing(_open_readonly(source)) as con:
        counts = table_counts(con)
        # No writer can be inside the files while the shared lock is held: a byte copy of
        # the database (and a WAL a killed writer left) is the state the counts describe.
        for name in names:
            if (source.parent / name).exists():
                shutil.copyfile(source.parent / name, folder / name)
                os.chmod(folder / name, 0o600)
                _fsync(folder / name)
    with contextlib.closing(_open_readonly(folder / DATABASE_NAME)) as copy:
        copied = table_counts(copy)
    if copied != counts:
        differ = sorted(t for t in set(counts) | set(copied) if counts.get(t) != copied.get(t))
        raise BackupError(f"{folder / DATABASE_NAME}: the copy does not match the warehouse ({', '.join(differ)}); "
                          "nothing is wrong with the warehouse itself: take the backup again")
    for name in names:
        if (folder / name).exists():
            report.files.append({"name": name, "bytes": (folder / name).stat().st_size,
                                 "sha256": _sha256(folder / name)})
    return counts


@dataclass
class RestoreReport:
    files: list[str]
    moved_aside: Path | None
    tables: dict[str, int]

    def line(self) -> str:
        kept = f"; what it replaced is in {self.moved_aside}" if self.moved_aside else ""
        return (f"restored {len(self.files)} files ({self.tables.get(_EVENTS_TABLE, 0):,} events in the warehouse), "
                f"verified{kept}")


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder}: no {MANIFEST}; give a folder written by `pulse backup`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path}: cannot be read ({error}); the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
        raise BackupError(f"{path}: not a manifest this Pulse reads (format {manifest.get('format')!r})")
    return manifest


def verify(folder: Path) -> dict:
    """The manifest, once every file it lists has its size and SHA-256; BackupError otherwise."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for entry in manifest["files"]:
        name = entry.get("name", "")
        path = folder / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise BackupError(f"{folder}: {name or '(unnamed)'} is listed but missing; the backup is incomplete")
        if path.stat().st_size != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            raise BackupError(f"{path}: its content is not what was backed up (size or SHA-256 differs); "
                              "the backup is damaged")
    return manifest


def _refuse_running_jobs(data: Path) -> None:
    busy = sorted(p.name.removeprefix("job-").removesuffix(".lock") for p in data.glob("job-*.lock")
                  if locks.is_held(p))
    if busy:
        raise BackupError(f"job {', '.join(busy)} is running; stop `pulse scheduler` and cron's `pulse run` "
                          "(and `pulse serve`) before restoring")


def restore(config: Config, folder: Path, *, on_wait=None) -> RestoreReport:
    """Put a verified backup in place of the data folder's warehouse and stores."""
    folder = Path(folder).resolve()
    manifest = verify(folder)
    data = ensure_folder(config.data_dir)
    _refuse_running_jobs(data)  # before waiting for the warehouse: a running job would only be waited for
    with hold_lock(config, exclusive=True, purpose="restore", on_wait=on_wait):
        _refuse_running_jobs(data)
        names = [entry["name"] for entry in manifest["files"]]
        replaced = [data / name for name in names] + [data / f"{n}{s}" for n in names for s in ("-wal", "-shm")]
        replaced += [data / (DATABASE_NAME + ".wal"), data / "dashboard.duckdb"]
        existing = sorted({p for p in replaced if p.exists()})
        aside = None
        if existing:
            aside = data / f"before-restore-{now_utc().strftime('%Y%m%dT%H%M%SZ')}"
            aside.mkdir(mode=0o700)
            for path in existing:
                os.replace(path, aside / path.name)
        for name in names:
            temporary = data / f".{name}.restoring"
            shutil.copyfile(folder / name, temporary)
            os.chmod(temporary, 0o600)
            _fsync(temporary)
            os.replace(temporary, data / name)
        tables = {}
        if (data / DATABASE_NAME).exists():
            with contextlib.closing(_open_readonly(data / DATABASE_NAME)) as con:
                tables = table_counts(con)
            expected = manifest.get("warehouse_tables") or {}
            if expected and tables != expected:
                raise BackupError(f"{data / DATABASE_NAME}: restored, but its tables do not count what the backup "
                                  f"recorded; the files it replaced are in {aside}")
    if (data / history.FILE_NAME).exists():
        with history.JobHistory(config) as store:
            store.interrupt_running("it was running when the backup was taken; what it had committed then is "
                                    "in the restored data, and the next run goes on from there")
    if (data / DATABASE_NAME).exists():
        from dashboards import snapshot

        snapshot.publish(config)
    return RestoreReport(names, aside, tables)
