"""For tests of `pulse demo`'s printout: the commands it suggests, and that each one runs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

ENV = {**os.environ, "PULSE_CONFIG": "", "DISPLAY": "", "WAYLAND_DISPLAY": ""}


def printed_commands(out: str) -> list[str]:
    """The commands the printout suggests: the lines of "Where to look next" that are not
    comments, and the ones it quotes in backticks."""
    block = out.split("Where to look next", 1)[1].splitlines()[1:]
    commands = [line.strip() for line in block if line.strip() and not line.strip().startswith("#")]
    return commands + re.findall(r"`([^`]*--data-dir[^`]*)`", out)


def assert_starts_with_an_executable(command: str, cwd: Path) -> None:
    program = shlex.split(command, comments=True)[0]
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        assert path.is_file() and os.access(path, os.X_OK), command
    else:
        assert shutil.which(program), command


def assert_commands_start_with_executables(out: str, cwd: Path) -> list[str]:
    commands = printed_commands(out)
    assert len(commands) >= 7, out
    for command in commands:
        assert_starts_with_an_executable(command, cwd)
    return commands
