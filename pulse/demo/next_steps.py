"""What `pulse demo` tells you to try next: shell commands that work exactly as printed.

`make demo` runs `.venv/bin/pulse`, which is not on the PATH, so a bare `pulse ...` would say
`command not found`. Every command here starts with the executable actually running (or the
bare name when the PATH finds that same file), and paths are shown relative to the current
folder when they are inside it, so the commands are meant to be run from there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

SERVE_URL = "http://127.0.0.1:8080/"
"""Where `pulse serve` listens by default (its --host 127.0.0.1 and --port 8080)."""

Which = Callable[[str], str | None]


def shown_path(path: str | os.PathLike, cwd: Path) -> str:
    """``path`` (absolute, or relative to ``cwd``) relative to ``cwd`` when it is inside it,
    else absolute."""
    full = os.path.abspath(os.path.join(cwd, path))
    try:
        return str(Path(full).relative_to(cwd))
    except ValueError:
        return full


def executable(path: str, cwd: Path, which: Which = shutil.which) -> str:
    """How a shell in ``cwd`` runs the program at ``path``: relative when inside ``cwd`` (with
    ``./`` if it has no folder, which a shell would look up on the PATH), else its bare name
    when the PATH finds that same file, else the absolute path. Symlinks are not resolved: a
    virtualenv's ``bin/python`` is a link to a Python without the virtualenv's packages."""
    full = os.path.abspath(os.path.join(cwd, path))
    shown = shown_path(full, cwd)
    if not os.path.isabs(shown):
        return shown if os.sep in shown else os.path.join(".", shown)
    name = os.path.basename(full)
    found = which(name)
    if found and os.path.abspath(found) == full:
        return name
    return full


def pulse_command(cwd: Path, argv0: str | None = None, python: str | None = None,
                  which: Which = shutil.which) -> list[str]:
    """The words that run the `pulse` now running: its console script, or ``python -m pulse``
    when it was started that way (or from another program, like a test runner)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0) == "pulse" and os.path.isfile(os.path.join(cwd, argv0)):
        return [executable(argv0, cwd, which)]
    return [executable(python or sys.executable, cwd, which), "-m", "pulse"]


def _opener(which: Which, environ: Mapping[str, str]) -> str | None:
    """The command that opens a file in the desktop's browser, if there is a desktop."""
    if sys.platform == "darwin":
        return "open"
    # without a display (a server, ssh) xdg-open finds no browser and fails
    if (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")) and which("xdg-open"):
        return "xdg-open"
    return None


def demo_pulse(data_dir: Path, config_path: Path | None, cwd: Path, argv0: str | None = None,
               which: Which = shutil.which) -> list[str]:
    """The words every suggested command starts with: this `pulse`, the configuration file it
    ran with (if any), and the demo's folder."""
    words = pulse_command(cwd, argv0, which=which)
    if config_path is not None:
        words += ["--config", shown_path(config_path, cwd)]
    return words + ["--data-dir", shown_path(data_dir, cwd)]


def next_steps(pulse: list[str], *, index: Path, today: date, sign_in: Any, cwd: Path,
               which: Which = shutil.which, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The "Where to look next" lines: commands, each starting with ``pulse`` (see
    :func:`demo_pulse`), and comments, so that every line is valid shell. ``sign_in`` is the
    demo's (``email``, ``password``, ``link``)."""
    def run(*args: str) -> str:
        return shlex.join(pulse + list(args))

    opener = _opener(which, environ)
    overview = "the region overview; each city links to its page"
    if opener:
        look = f"{shlex.join([opener, shown_path(index, cwd)])}   # {overview}"
    else:  # no command to print: say what to open
        look = f"# open {index.as_uri()} in a browser: {overview}"
    growth = ["member-growth", "--city", "sydney", "--period", "month",
              "--from", str(today.replace(day=1, year=today.year - 1)), "--to", str(today)]
    return [
        "Where to look next (run these from this folder):",
        f"   {look}",
        f"   {run('serve')}   # the dashboards at {SERVE_URL}",
        f"   #   sign in as {sign_in.email} with password {sign_in.password}",
        f"   #   or once with {sign_in.link}",
        f"   {run('rejects')}   # what was rejected, where and why",
        f"   {run('sources')}   # where each source stands",
        f"   {run('metrics', *growth)}",
        f"   {run('metrics', 'attendance', '--city', 'all')}",
        f"   {run('posts', 'list')}   # the drafted posts and their states",
    ]
