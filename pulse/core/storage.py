"""The data folder: created private (0700), its files private (0600), and every way it can be
unusable (missing parent, a file in its place, no permission, read-only disk) reported as one
line that names the folder and what to do.

The folder holds the warehouse, the people file (password hashes) and the posts file (the
organisers' audit log): nobody but the account running Pulse has any business reading them.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


class StorageError(Exception):
    """The data folder (or a file in it) cannot be used; one line for the operator."""


def ensure_folder(path: Path, *, what: str = "data folder") -> Path:
    """`path` as a folder Pulse can write in, created (0700) when missing."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise StorageError(f"{what} {path}: a file is in the way; move it, or choose another folder "
                           "with --data-dir or warehouse.data_dir") from None
    except NotADirectoryError:
        raise StorageError(f"{what} {path}: part of the path is a file, not a folder; choose another folder "
                           "with --data-dir or warehouse.data_dir") from None
    except OSError as error:
        raise StorageError(describe(error, path, what)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(f"{what} {path}: not writable by this user; fix its permissions "
                           "(chmod/chown) or choose another folder with --data-dir")
    return path


def describe(error: OSError, path: Path, what: str = "data folder") -> str:
    """An OSError met on `path`, in one line with what to do."""
    hints = {
        errno.EACCES: "permission denied; fix its permissions or choose another folder with --data-dir",
        errno.EPERM: "not permitted; fix its permissions or choose another folder with --data-dir",
        errno.EROFS: "the disk is read-only; choose another folder with --data-dir",
        errno.ENOSPC: "the disk is full; free some space and run again (nothing was lost)",
        errno.EDQUOT: "the disk quota is used up; free some space and run again (nothing was lost)",
        errno.ENOENT: "does not exist",
    }
    hint = hints.get(error.errno, error.strerror or type(error).__name__)
    return f"{what} {path}: {hint}"


def private_file(path: Path) -> None:
    """Make a file readable and writable by its owner only, creating it (empty, 0600) when it is
    missing, so that it is never readable by others even for a moment: SQLite gives its -wal and
    -shm files the database file's mode, so a store is created this way before it is opened.
    Best effort on an existing file: it may be shared deliberately by the operator, who then
    owns that choice."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
