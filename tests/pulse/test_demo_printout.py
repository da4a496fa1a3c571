"""`pulse demo`'s printout is honest: its counts add up to the lines it wrote (counted here, from
the files), and every command it prints runs as printed from the folder the demo ran in."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pulse.demo.next_steps import executable, pulse_command
from pulse.demo.run import reconciled_lines
from tests.support.contract import TYPES, classify_files, read_lines
from tests.support.demo import ENV, assert_commands_start_with_executables

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def test_the_counts_add_up_to_the_lines_written_and_the_commands_run_as_printed(tmp_path):
    # as `make demo` runs it: the console script, by a path inside the current folder
    script = Path(sys.executable).with_name("pulse")
    if not script.is_file():
        pytest.skip("no `pulse` console script beside this Python (pip install -e .)")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "pulse").symlink_to(script)
    run = subprocess.run(["bin/pulse", "demo"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env=ENV)
    assert run.returncode == 0, run.stderr
    out = run.stdout

    # counted from the files, with the contract's rules (test_demo_data's reader)
    exports = tmp_path / ".pulse" / "demo" / "exports"
    names = sorted(p.name for p in exports.iterdir())
    accepted, redelivered, rejects, blanks = classify_files(exports, names)
    lines = sum(len(read_lines(exports / name)) for name in names)
    unknown = sum(1 for e in accepted if e["type"] not in TYPES)
    assert len(accepted) + len(redelivered) + len(rejects) + len(blanks) == lines

    generated = re.search(r": (\d+) lines,\n +(\d+) events, (\d+) redeliveries of them, (\d+) events"
                          r" of unknown types, (\d+) dirty lines \((\d+) reject reasons\), (\d+) blank"
                          r" lines\n", out)
    assert generated, out
    assert [int(n) for n in generated.groups()] == [
        lines, len(accepted) - unknown, len(redelivered), unknown, len(rejects),
        len({reason for *_, reason in rejects}), len(blanks)]
    ingested = re.search(r"accepted (\d+), duplicates (\d+), rejected (\d+)\n", out)
    assert ingested, out
    assert [int(n) for n in ingested.groups()] == [len(accepted), len(redelivered), len(rejects)]
    assert "which adds up: " in out
    assert (f"{len(accepted)} + {len(redelivered)} + {len(rejects)} + {len(blanks)} = {lines}"
            f" lines written") in out

    # the commands: each starts with an executable, and those that end run and succeed
    assert "Where to look next" in out and "http://127.0.0.1:8080/" in out
    commands = assert_commands_start_with_executables(out, tmp_path)
    assert all(c.startswith("bin/pulse --data-dir .pulse/demo ") for c in commands), commands
    for command in dict.fromkeys(commands):
        if shlex.split(command, comments=True)[-1] == "serve":
            command = shlex.join(shlex.split(command, comments=True) + ["--help"])  # it would not end
        ran = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env=ENV)
        assert ran.returncode == 0 and ran.stdout.strip(), (command, ran.stderr)


def test_the_executable_is_named_as_a_shell_in_that_folder_finds_it(tmp_path):
    cwd = tmp_path / "repo"
    (cwd / ".venv" / "bin").mkdir(parents=True)
    inside = cwd / ".venv" / "bin" / "pulse"
    inside.touch()
    (cwd / "pulse").touch()
    elsewhere = tmp_path / "elsewhere" / "pulse"

    def nowhere(name):
        return None

    assert executable(".venv/bin/pulse", cwd, nowhere) == ".venv/bin/pulse"
    assert executable(str(inside), cwd, nowhere) == ".venv/bin/pulse"
    assert executable("pulse", cwd, nowhere) == "./pulse"  # else the shell looks it up on the PATH
    assert executable(str(elsewhere), cwd, lambda name: str(elsewhere)) == "pulse"
    assert executable(str(elsewhere), cwd, lambda name: "/usr/bin/pulse") == str(elsewhere)
    assert executable(str(elsewhere), cwd, nowhere) == str(elsewhere)

    # a virtualenv's python is a link to one without its packages: never the bare name for it
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    link = tmp_path / "venv" / "bin" / "python3"
    link.symlink_to(sys.executable)
    assert executable(str(link), cwd, lambda name: os.path.realpath(sys.executable)) == str(link)

    assert pulse_command(cwd, argv0=".venv/bin/pulse", which=nowhere) == [".venv/bin/pulse"]
    assert pulse_command(cwd, argv0="/src/pulse/__main__.py", python=str(link),
                         which=nowhere) == [str(link), "-m", "pulse"]
    assert pulse_command(cwd, argv0="/usr/bin/pytest", python=str(link),
                         which=nowhere) == [str(link), "-m", "pulse"]


def test_counts_that_do_not_add_up_are_said_to_and_where():
    written = {"lines": 130, "events": 100, "unknown_type_events": 2, "redeliveries": 5,
               "dirty_records": 21, "blank_lines": 2}
    ok = reconciled_lines(written, SimpleNamespace(accepted=102, duplicates=5, rejected=21))
    assert ok[0].startswith("which adds up: accepted = 100 events + 2 of unknown types,")
    assert ok[1].endswith("102 + 5 + 21 + 2 = 130 lines written")
    off = reconciled_lines(written, SimpleNamespace(accepted=103, duplicates=5, rejected=20))
    assert off[0].startswith("which does not add up: accepted 103 != 100 events + 2 of unknown")
    assert "rejected 20 != 21 dirty lines" in off[1] and "duplicates = 5 redeliveries" in off[0]
    assert off[1].endswith("103 + 5 + 20 + 2 = 130 lines written")
    more = reconciled_lines(written, SimpleNamespace(accepted=103, duplicates=5, rejected=21))
    assert more[0].startswith("which does not add up")
    assert more[1].endswith("= 131, but 130 lines were written")
