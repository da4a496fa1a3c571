"""File locks that say who holds them: the warehouse's, the publisher's, each job's.

A lock is `flock` on a file: the kernel releases it when the holding process ends, however it
ends (even SIGKILL), so a lock left by a killed process never blocks the next one. The holder
writes one line into the file (`pid 4242 (ingest, since 03:00:01)`), which a process that has
to wait or give up quotes, so an operator knows what to look at.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path
from collections.abc import Callable, Iterator


class LockBusy(Exception):
    """The lock is held by another process (and we did not, or no longer, wait)."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


def holder_of(path: Path) -> str:
    """Who holds (or last held) the lock at `path`, in words."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return f"another pulse process: {text}" if text else "another pulse process"


def is_held(path: Path) -> bool:
    """Whether some process (this one included, through another descriptor) holds the lock at
    `path`: a probe that takes it for an instant when it is free."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # also lets go of the lock the probe took
    return False


@contextlib.contextmanager
def hold(path: Path, *, purpose: str, exclusive: bool = True, timeout: float = 0.0,
         on_wait: Callable[[str], None] | None = None, busy_message: Callable[[str], str] | None = None,
         ) -> Iterator[None]:
    """Hold the lock at `path` for the block; wait up to `timeout` seconds for another holder.

    `exclusive=False` takes it shared (readers side by side; a writer waits for them). When it
    stays busy, `LockBusy` is raised with `busy_message(holder)` (default: who holds it).
    `on_wait` is told once, when waiting starts.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
            holder = holder_of(path)
            if time.monotonic() >= deadline:
                raise LockBusy((busy_message or (lambda who: f"busy: held by {who}"))(holder), holder)
            if on_wait is not None and not announced:
                on_wait(holder)
                announced = True
            time.sleep(0.1)
        if exclusive:
            # Tell waiters who holds it: one line, rewritten by each holder.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({purpose}, since {time.strftime('%H:%M:%S')})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
