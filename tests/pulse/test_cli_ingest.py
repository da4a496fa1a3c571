"""`pulse ingest`, `pulse rejects`, `pulse sources` as an operator runs them: a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys

import pytest

from tests.support.records import envelope, line, write_lines


def pulse(*args, cwd, env=None, check=False):
    full_env = {**os.environ, "PULSE_CONFIG": "", "COLUMNS": "100", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "pulse", *args], cwd=cwd, capture_output=True, text=True,
                            env=full_env, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def exports(tmp_path):
    write_lines(tmp_path / "exports" / "a.ndjson", [
        envelope(id="1"), "{cut", envelope(id="1"), envelope(id="2", city="Perth"),
        '{"title": "a, \\"quoted\\"\\ntext"}',
    ])
    return tmp_path / "exports"


def test_ingest_prints_one_summary_line_and_exits_0_with_rejects(tmp_path, exports):
    result = pulse("--data-dir", "w", "ingest", "--file", str(exports), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "accepted 1, duplicates 1, rejected 3\n")


def test_rejects_as_csv_json_and_filtered(tmp_path, exports):
    pulse("--data-dir", "w", "ingest", "--file", "exports", cwd=tmp_path, check=True)
    out = pulse("--data-dir", "w", "rejects", "--format", "csv", cwd=tmp_path, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [
        ["location", "reason", "raw"],
        ["exports/a.ndjson:2", "invalid_json", "{cut"],
        ["exports/a.ndjson:4", "bad_city", line(envelope(id="2", city="Perth"))],
        ["exports/a.ndjson:5", "bad_specversion", '{"title": "a, \\"quoted\\"\\ntext"}'],
    ]
    as_json = json.loads(pulse("--data-dir", "w", "rejects", "--format", "json", "--reason", "bad_city",
                               cwd=tmp_path, check=True).stdout)
    assert as_json == [{"location": "exports/a.ndjson:4", "reason": "bad_city", "raw": rows[2][2]}]
    limited = pulse("--data-dir", "w", "rejects", "--format", "csv", "--limit", "1", cwd=tmp_path, check=True).stdout
    assert limited.splitlines()[1].startswith("exports/a.ndjson:5,")


def test_rejects_csv_quotes_a_lone_carriage_return(tmp_path):
    # A raw line holding a bare "\r" (not a line end: NDJSON lines end in "\n") must come back
    # whole from any CSV reader, Python's own included.
    raw = '{"specversion":"1.0","id":"x\r1"'
    (tmp_path / "cr.ndjson").write_bytes(raw.encode() + b"\n")
    pulse("--data-dir", "w", "ingest", "--file", "cr.ndjson", cwd=tmp_path, check=True)
    out = subprocess.run([sys.executable, "-m", "pulse", "--data-dir", "w", "rejects", "--format", "csv"],
                         cwd=tmp_path, capture_output=True, env={**os.environ, "PULSE_CONFIG": ""}, timeout=120).stdout
    rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
    assert rows == [["location", "reason", "raw"], ["cr.ndjson:1", "invalid_json", raw]]


def test_rejects_table_fits_the_terminal(tmp_path, exports):
    pulse("--data-dir", "w", "ingest", "--file", "exports", cwd=tmp_path, check=True)
    out = pulse("--data-dir", "w", "rejects", "--format", "table", cwd=tmp_path, env={"COLUMNS": "70"},
                check=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["location", "reason", "raw"]
    assert set(lines[1]) == {"-", " "}  # the rule under the header, as every table has
    assert len(lines) == 5 and all(len(text) <= 70 for text in lines)
    assert "…" in lines[3]


def test_sources_shows_position_and_last_run(tmp_path, exports):
    (tmp_path / "pulse.toml").write_text('[sources.exports]\nkind = "files"\npath = "exports"\n')
    pulse("ingest", cwd=tmp_path, check=True)
    out = pulse("sources", cwd=tmp_path, check=True).stdout
    assert "exports" in out and "1 files, 5 lines read, up to date" in out and "completed" in out


def test_an_unreadable_source_exits_1_with_one_line(tmp_path, exports):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "pulse.toml").write_text(
        '[sources.exports]\nkind = "files"\npath = "exports"\n'
        f'[sources.platform]\nkind = "feed"\nurl = "http://127.0.0.1:{port}"\ntoken_env = "T"\nmax_retries = 0\n')
    result = pulse("ingest", cwd=tmp_path, env={"T": "secret-token"})
    assert result.returncode == 1
    assert result.stdout == "accepted 1, duplicates 1, rejected 3\n"  # the files still went in
    assert len(result.stderr.strip().splitlines()) == 1 and "platform" in result.stderr
    assert "secret-token" not in result.stderr and "Traceback" not in result.stderr


def test_a_bad_config_fails_at_start_with_exit_2(tmp_path):
    (tmp_path / "pulse.toml").write_text('[sources.platform]\nkind = "feed"\nurl = "https://x"\ntoken_env = "NOPE"\n')
    result = pulse("ingest", cwd=tmp_path, env={"NOPE": ""})
    assert result.returncode == 2
    assert result.stderr.strip() == ("pulse: config: sources.platform.token_env: environment variable NOPE is not set; "
                                     "export it with the secret (secrets are never read from the config file)")


@pytest.mark.parametrize("command", [[], ["ingest"], ["rejects"], ["sources"]])
def test_every_command_has_help(tmp_path, command):
    result = pulse(*command, "--help", cwd=tmp_path, check=True)
    assert result.stdout.startswith("Usage: ")


def test_a_progress_bar_on_a_terminal_only(tmp_path):
    import pty

    write_lines(tmp_path / "exports" / "a.ndjson", [envelope(id=str(i)) for i in range(2000)])
    (tmp_path / "pulse.toml").write_text('[ingest]\nbatch_bytes = 65536\n')
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "pulse", "ingest", "--file", "exports"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=slave, text=True,
                               env={**os.environ, "PULSE_CONFIG": ""})
    os.close(slave)
    out, _ = process.communicate(timeout=120)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert out == "accepted 2000, duplicates 0, rejected 0\n"
    assert b"adhoc: [" in shown and b"100.0%" in shown
    piped = pulse("ingest", "--file", "exports", cwd=tmp_path, check=True)
    assert piped.stderr == ""


def test_the_rejects_table_shows_control_characters_escaped(tmp_path):
    write_lines(tmp_path / "exports" / "a.ndjson", ['{"title": "\x1b[31mred\x1b[0m\x07"'])
    pulse("--data-dir", "w", "ingest", "--file", "exports", cwd=tmp_path, check=True)
    out = pulse("--data-dir", "w", "rejects", "--format", "table", cwd=tmp_path, check=True).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mred\\x1b[0m\\x07" in out
