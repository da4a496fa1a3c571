"""Every failure a person can cause or meet ends as one line naming what and how to fix it, with
the README's exit code, and never a traceback: the data folder (missing, a file in the way, not
writable, a damaged store), a full disk under stdout, a closed pipe, dates out of range, a port
in use. (Bad values of every config key: test_config_values.py.)"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from tests.support.ops import env, pulse
from tests.support.records import envelope, write_lines

LIGHT = [["status"], ["sources"], ["rejects"], ["metrics", "cities"], ["build"], ["users", "list"],
         ["posts", "list"], ["run", "build"], ["ingest", "--file", "in.ndjson"], ["backup", "bk"],
         ["dashboards", "--out", "out"]]


def one_line(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("pulse: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def folder(tmp_path):
    write_lines(tmp_path / "in.ndjson", [envelope(id="1"), envelope(id="2", data={"user_id": "u2"})])
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path


@pytest.mark.parametrize("command", LIGHT, ids=" ".join)
def test_a_file_where_the_data_folder_should_be(folder, command):
    (folder / "pulse.toml").write_text('[warehouse]\ndata_dir = "afile"\n')
    one_line(pulse(*command, cwd=folder), 1, f"{folder / 'afile'}: a file is in the way")


@pytest.mark.parametrize("command", LIGHT, ids=" ".join)
def test_a_file_in_the_data_folders_path(folder, command):
    one_line(pulse("--data-dir", "afile/data", *command, cwd=folder), 1,
             "part of the path is a file, not a folder; choose another folder")


def _unprivileged() -> list[str]:
    """A prefix that runs a command without root's power to ignore file permissions (root's
    tests would otherwise write anywhere); none is needed for another user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable")
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--securebits=+noroot,+noroot_locked,+no_setuid_fixup"]


# Not backup: it only reads the data folder (this one is empty: "nothing to back up").
@pytest.mark.parametrize("command", [c for c in LIGHT if c[0] != "backup"], ids=" ".join)
def test_a_data_folder_this_user_cannot_write(folder, command):
    data = folder / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        result = subprocess.run([*_unprivileged(), sys.executable, "-m", "pulse", "--data-dir", str(data), *command],
                                cwd=folder, capture_output=True, text=True, timeout=60, env=env())
    finally:
        data.chmod(0o755)
    one_line(result, 1, str(data), "not writable by this user; fix its permissions")


def test_a_store_this_user_cannot_open_and_a_damaged_one(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "jobs.sqlite").mkdir()  # something in the store's place that SQLite cannot open
    result = pulse("--data-dir", str(data), "run", "build", cwd=tmp_path)
    one_line(result, 1, f"job history {data / 'jobs.sqlite'}: unable to open database file")
    (data / "posts.sqlite").write_bytes(b"this is not an SQLite file" * 100)
    damaged = pulse("--data-dir", str(data), "posts", "list", "--no-sync", cwd=tmp_path)
    one_line(damaged, 1, f"a store in {data} cannot be used: file is not a database")
    (data / "pulse.duckdb").write_bytes(b"this is not a DuckDB file" * 1000)
    warehouse = pulse("--data-dir", str(data), "sources", cwd=tmp_path)
    one_line(warehouse, 1, f"warehouse {data / 'pulse.duckdb'}: cannot open it")


@pytest.fixture
def built(tmp_path):
    write_lines(tmp_path / "in.ndjson", [envelope(id=str(i), data={"user_id": f"u{i}"},
                                                  time=f"2026-0{1 + i % 9}-05T10:00:00Z") for i in range(50)])
    assert pulse("--data-dir", "d", "ingest", "--file", "in.ndjson", cwd=tmp_path).returncode == 0
    assert pulse("--data-dir", "d", "build", cwd=tmp_path).returncode == 0
    return tmp_path


@pytest.mark.parametrize("command", [
    ["metrics", "member-growth", "--city", "all", "--period", "day", "--from", "2026-01-01", "--to", "2026-12-31",
     "--format", "csv"],
    ["rejects", "--format", "csv"], ["sources", "--format", "json"], ["status", "--format", "json"],
    ["users", "list"], ["posts", "list", "--no-sync", "--format", "csv"]], ids=lambda c: " ".join(c[:2]))
def test_a_full_disk_under_stdout(built, command):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "pulse", "--data-dir", "d", *command], cwd=built,
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, env=env())
    code = 1
    assert result.returncode == code, result.stderr
    assert result.stderr == ("pulse: writing the output: no space left on the device; free some space and run "
                             "again (nothing was lost)\n")


def test_a_closed_pipe_exits_0_quietly(built):
    # Far more than a pipe buffer holds, so the writer meets the closed end.
    command = [sys.executable, "-m", "pulse", "--data-dir", "d", "metrics", "member-growth", "--city", "all",
               "--period", "day", "--from", "1990-01-01", "--to", "2026-12-31", "--format", "csv"]
    shell = subprocess.run(["bash", "-c", 'set -o pipefail; "$@" | head -1', "pipe", *command], cwd=built,
                           capture_output=True, text=True, timeout=120, env=env())
    assert (shell.returncode, shell.stdout, shell.stderr) == (0, "city,period_start,joins,leaves,net,members_end\n", "")


@pytest.mark.parametrize("metric", [
    ["member-growth", "--city", "sydney", "--period", "month", "--from", "2026-01-01"],
    ["attendance", "--city", "sydney"], ["attendance-trend", "--city", "sydney", "--from", "2026-01-01"],
    ["blog-views", "--city", "sydney", "--period", "week", "--from", "2026-01-01"],
    ["top-posts", "--city", "sydney", "--from", "2026-01-01"]], ids=lambda m: m[0])
def test_dates_out_of_range(built, metric):
    late = pulse("--data-dir", "d", "metrics", *metric, "--to", "9999-12-31", cwd=built)
    one_line(late, 2, "--to: 9999-12-31 is outside the dates Pulse handles (1900-01-01 to 2999-12-31)")
    early = pulse("--data-dir", "d", "metrics", *[a if a != "2026-01-01" else "0001-01-01" for a in metric],
                  "--to", "2026-01-31", cwd=built)
    if "--from" in metric:
        one_line(early, 2, "--from: 0001-01-01 is outside the dates Pulse handles")


def test_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = pulse("--data-dir", "d", "serve", "--port", str(port), "--workers", "0", cwd=tmp_path,
                       extra_env={"PULSE_SESSION_SECRET": "s" * 40})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"pulse: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                          "choose another --port, or stop what listens there"]  # no URL said first
