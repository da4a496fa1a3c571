"""Job runs and job locks: `<data_dir>/jobs.sqlite` and one `job-NAME.lock` per job.

Every run of a job (`pulse run JOB`, the scheduler, `pulse scheduler --once`) is a row: job,
start, end, outcome, counts, error, host and pid, which `pulse status` reads.

Why SQLite and a file of its own: a run is recorded while `pulse ingest` or `pulse build` hold
DuckDB's single writer (a refresh is recorded *running* before it takes the warehouse), so the
history cannot live in the warehouse; and it belongs to no other store (the people and posts
files are other packages'). `pulse.core.sqlite` gives it WAL, private files and versioned
migrations (`jobs/migrations`), like the others.

How a killed run is found: a row is *running* only while its process holds the job's lock
(`pulse.core.locks`: flock, released by the kernel however the process ends). So a *running*
row whose lock is free belongs to a process that died (SIGKILL, the OOM killer, a power cut);
the next start of any job, and `pulse status`, mark it *killed*.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from pulse.core import locks, sqlite
from pulse.core.config import Config
from pulse.core.instants import iso, now_utc, parse_iso
from pulse.core.storage import StorageError, describe
from pulse.core.warehouse import data_folder

FILE_NAME = "jobs.sqlite"
KEEP_DAYS = 90
"""How long a finished run stays in the history (a refresh every 15 minutes and a publish every 5
make about 40,000 rows in that time: still a few megabytes)."""
OUTCOMES = ("running", "ok", "failed", "interrupted", "killed")
PROBLEMS = ("failed", "killed")
"""Outcomes of a last run that need a person (`pulse status` exits 1). An *interrupted* run was
asked to stop (SIGTERM, Ctrl-C): the next one goes on from where it stopped."""


def lock_path(config: Config, job: str) -> Path:
    """The lock one run of `job` holds for as long as it runs, whoever started it."""
    return data_folder(config) / f"job-{job}.lock"


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    line: str | None
    counts: dict = field(default_factory=dict)
    error: str | None = None
    host: str = ""
    pid: int = 0
    trigger: str = "run"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        return cls(id=row["id"], job=row["job"], started_at=parse_iso(row["started_at"]),
                   finished_at=parse_iso(row["finished_at"]) if row["finished_at"] else None,
                   outcome=row["outcome"], line=row["line"], counts=json.loads(row["counts"] or "{}"),
                   error=row["error"], host=row["host"], pid=row["pid"], trigger=row["trigger"])


class JobHistory:
    """The job runs of one data folder: `JobHistory(config)`, used as a context manager."""

    def __init__(self, config: Config):
        self.config = config
        self.path = data_folder(config) / FILE_NAME
        try:
            self._con = sqlite.connect(self.path, synchronous="FULL", check_same_thread=False)
            sqlite.migrate(self._con, resources.files("jobs") / "migrations")
        except sqlite3.Error as error:
            raise StorageError(f"job history {self.path}: {error}; check the data folder's permissions "
                               "and free space") from None
        except OSError as error:
            raise StorageError(describe(error, self.path, "job history")) from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> JobHistory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, job: str, trigger: str = "run") -> int:
        """Record a run of `job` as running (call it holding the job's lock); returns its id.
        Runs that finished more than KEEP_DAYS ago are let go of at the same time."""
        now = now_utc()
        with sqlite.transaction(self._con) as con:
            con.execute("DELETE FROM job_runs WHERE outcome != 'running' AND finished_at < ?",
                        [iso(now - timedelta(days=KEEP_DAYS))])
            cursor = con.execute(
                "INSERT INTO job_runs (job, started_at, outcome, host, pid, trigger) VALUES (?, ?, 'running', ?, ?, ?)",
                [job, iso(now), socket.gethostname(), os.getpid(), trigger])
            return cursor.lastrowid

    def finish(self, run_id: int, outcome: str, *, line: str | None = None, counts: dict | None = None,
               error: str | None = None) -> None:
        if outcome not in OUTCOMES or outcome == "running":
            raise ValueError(f"not a finished outcome: {outcome!r}")
        with sqlite.transaction(self._con) as con:
            con.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, line = ?, counts = ?, error = ? "
                        "WHERE id = ? AND outcome = 'running'",
                        [iso(now_utc()), outcome, line, json.dumps(counts or {}, sort_keys=True), error, run_id])

    def settle_killed(self, holding: str | None = None) -> list[Run]:
        """Mark *killed* every running row whose job's lock nobody holds; returns those runs.
        `holding`: the job whose lock the caller holds (its running rows are all dead: before
        this run started, nobody else held the lock)."""
        found = []
        for row in self._con.execute("SELECT * FROM job_runs WHERE outcome = 'running' ORDER BY id").fetchall():
            run = Run.from_row(row)
            if run.job != holding and locks.is_held(lock_path(self.config, run.job)):
                continue
            error = (f"pid {run.pid} on {run.host} ended without finishing (killed: SIGKILL, out of memory, "
                     "a reboot?); the next run goes on from what was committed")
            with sqlite.transaction(self._con) as con:
                changed = con.execute(
                    "UPDATE job_runs SET finished_at = ?, outcome = 'killed', error = ? WHERE id = ? AND outcome = 'running'",
                    [iso(now_utc()), error, run.id]).rowcount
            if changed:
                found.append(self.get(run.id))
        return found

    def interrupt_running(self, why: str) -> int:
        """Mark every running row *interrupted* (after a restore: those runs were going on in the
        data folder the backup was taken from, not in this one); returns how many."""
        with sqlite.transaction(self._con) as con:
            return con.execute("UPDATE job_runs SET finished_at = ?, outcome = 'interrupted', error = ? "
                               "WHERE outcome = 'running'", [iso(now_utc()), why]).rowcount

    def get(self, run_id: int) -> Run:
        return Run.from_row(self._con.execute("SELECT * FROM job_runs WHERE id = ?", [run_id]).fetchone())

    def runs(self, job: str | None = None, limit: int | None = None) -> list[Run]:
        """Runs newest first (of one job, or all)."""
        sql = "SELECT * FROM job_runs" + (" WHERE job = ?" if job else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Run.from_row(row) for row in self._con.execute(sql, [job] if job else []).fetchall()]

    def last_runs(self) -> dict[str, Run]:
        """Each job's most recent run, by job name."""
        rows = self._con.execute(
            "SELECT * FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job) ORDER BY job").fetchall()
        return {row["job"]: Run.from_row(row) for row in rows}

    def last_finished(self, job: str, outcome: str = "ok") -> Run | None:
        row = self._con.execute("SELECT * FROM job_runs WHERE job = ? AND outcome = ? ORDER BY id DESC LIMIT 1",
                                [job, outcome]).fetchone()
        return Run.from_row(row) if row else None
