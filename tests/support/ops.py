"""For the operations tests: `pulse` as real processes (as cron, systemd and a person start it),
and the job history read straight from its SQLite file (an independent reader)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PULSE_CONFIG": "", "COLUMNS": "100", **extra}


def pulse(*args: str, cwd: Path, timeout: float = 120, extra_env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pulse", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env(**(extra_env or {})), **kwargs)


def start(*args: str, cwd: Path, extra_env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pulse", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**(extra_env or {})))


def wait_for(predicate, timeout: float = 60, every: float = 0.05, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def job_runs(data_dir: Path, job: str | None = None) -> list[dict]:
    """Rows of jobs.sqlite, oldest first ([] while it does not exist)."""
    path = Path(data_dir) / "jobs.sqlite"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as con:
        con.row_factory = sqlite3.Row
        try:
            rows = con.execute("SELECT * FROM job_runs" + (" WHERE job = ?" if job else "") + " ORDER BY id",
                               [job] if job else []).fetchall()
        except sqlite3.OperationalError:  # created, not migrated yet
            return []
    return [dict(row) for row in rows]


def outcomes(data_dir: Path, job: str | None = None) -> list[str]:
    return [row["outcome"] for row in job_runs(data_dir, job)]


def feed_toml(data_dir: Path, feed_url: str, *, page_size: int = 50, extra: str = "") -> str:
    """A config with one feed source (token in $FEED_TOKEN) and the warehouse in `data_dir`."""
    return (f'[warehouse]\ndata_dir = "{data_dir}"\nlock_timeout_seconds = 60\n'
            f'[sources.platform]\nkind = "feed"\nurl = "{feed_url}"\ntoken_env = "FEED_TOKEN"\n'
            f'page_size = {page_size}\nmax_retries = 0\ntimeout_seconds = 60\n{extra}')


class Lines:
    """A process's stderr (or stdout) read line by line in a thread, to wait for what it says."""

    def __init__(self, stream):
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def matching(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def wait(self, text: str, count: int = 1, timeout: float = 60) -> list[str]:
        return wait_for(lambda: len(self.matching(text)) >= count and self.matching(text), timeout,
                        what=f"{count} line(s) with {text!r} (so far: {self.lines[-5:]})")

    def close(self, timeout: float = 10) -> None:
        self._thread.join(timeout)
