"""Terminal tables fit the terminal: the widest columns cut to their floor, then one record per
row; `pulse rejects` names files from their source's folder, `pulse sources` speaks in words."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pulse.core.output import display_width, render_table
from tests.support.records import envelope, write_lines

COLUMNS = ["city", "event_id", "title", "starts_at", "status", "going", "checked_in", "no_shows", "walk_ins",
           "attendance_rate", "first_timers"]
ROW = ["sydney", "m_155", "Sydney JavaScript Meetup: WebAssembly beyond the browser", "2026-11-02T08:00:00Z",
       "scheduled", 20, 15, 6, 1, "0.7000", 4]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 130, 200])
def test_every_line_fits_and_nothing_is_lost_but_cut_text(width):
    text = render_table(COLUMNS, [ROW, ROW], numeric=[False] * 5 + [True] * 6, width=width)
    lines = text.splitlines()
    assert all(display_width(line) <= width for line in lines), (width, text)
    if lines[0].startswith("-[ 1 ]"):  # records: every column named on its own line, every value there
        assert [line.split()[0] for line in lines[1:12]] == COLUMNS
        assert lines[12].startswith("-[ 2 ]") and len(lines) == 24
        assert all(str(value)[:8] in text for value in ROW)
    else:
        assert lines[0].split() == COLUMNS and len(lines) == 4
        assert "2026-11-02T08:00:00Z" in lines[2] or "2026-11-02T…" in lines[2]


def test_a_table_that_fits_is_left_alone_and_a_wide_one_becomes_records():
    assert render_table(["a", "b"], [["x", 1]], numeric=[False, True], width=80) == "a  b\n-  -\nx  1\n"
    assert render_table(COLUMNS, [ROW], width=200).splitlines()[2].startswith("sydney  m_155     Sydney JavaScript")
    records = render_table(COLUMNS, [ROW], width=80).splitlines()
    assert records[0] == "-[ 1 ]" + "-" * (len("attendance_rate") + 2 + len(ROW[2]) - 6)
    assert records[3] == "title            Sydney JavaScript Meetup: WebAssembly beyond the browser"


def test_records_escape_and_cut_values_too():
    lines = render_table(["name", "note"] + [f"c{i}" for i in range(12)],
                         [["\x1b[31mred", "x" * 300] + ["v"] * 12], width=60).splitlines()
    assert lines[1] == "name  \\x1b[31mred" and all(display_width(line) <= 60 for line in lines)
    assert lines[2].endswith("…")


def test_rejects_name_files_from_their_folder(tmp_path):
    folder = tmp_path / "spool" / "exports"
    write_lines(folder / "2026" / "a.ndjson", [envelope(id="1"), "{cut"])
    write_lines(folder / "b.ndjson", [envelope(id="2", city="Perth")])
    (tmp_path / "pulse.toml").write_text(f'[sources.exports]\nkind = "files"\npath = "{folder}"\n')
    env = {**os.environ, "PULSE_CONFIG": "", "COLUMNS": "80"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "pulse", *args], cwd=tmp_path, capture_output=True,  # noqa: E731
                                       text=True, timeout=60, env=env)
    assert run("ingest").returncode == 0
    table = run("rejects", "--format", "table")
    assert [line.split()[0] for line in table.stdout.splitlines()[2:]] == ["2026/a.ndjson:2", "b.ndjson:1"]
    assert table.stderr == f"(2 rejects; paths relative to {folder})\n"
    # CSV and JSON, for programs, keep the location as stored.
    assert f"{folder}/2026/a.ndjson:2,invalid_json" in run("rejects", "--format", "csv").stdout
    sources = run("sources", "--format", "table").stdout
    assert "exports" in sources and "2 files, 3 lines read, up to date" in sources and "lag" in sources
