"""The demo exporter's files: the same arguments give the same bytes, whatever the clock says,
and the summary says what every line is (checked with test_demo_data's reader of the contract)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pulse.demo import DIRTY_KINDS, generate_events, generate_files, write_events
from tests.support.contract import TYPES, classify_files, read_lines

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_gzip_headers_do_not_carry_the_time_of_writing(tmp_path, monkeypatch):
    def written(name):
        out = tmp_path / name
        summary = generate_files(out, now=NOW, days=60, scale=0.3)
        write_events(out / "all.ndjson.gz", generate_events(now=NOW, days=60, scale=0.3), gzip=True)
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, summary

    first, summary = written("a")
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)  # gzip stamps time.time() by default
    second, _ = written("b")
    assert summary["files"][0].endswith(".gz")
    assert first == second


def test_the_summary_says_what_every_line_is(tmp_path):
    summary = generate_files(tmp_path, now=NOW, days=120, scale=0.5)
    accepted, redelivered, rejects, blanks = classify_files(tmp_path, summary["files"])
    unknown = [e for e in accepted if e["type"] not in TYPES]
    lines = sum(len(read_lines(tmp_path / name)) for name in summary["files"])
    assert summary["lines"] == lines == len(accepted) + len(redelivered) + len(rejects) + len(blanks)
    assert summary["events"] == len(accepted) - len(unknown) == sum(summary["by_type"].values())
    assert summary["unknown_type_events"] == len(unknown)
    assert summary["redeliveries"] == len(redelivered)
    assert summary["dirty_records"] == len(rejects) == sum(summary["dirty"].values())
    assert summary["blank_lines"] == len(blanks)
    assert summary["dirty_kinds"] == dict.fromkeys(sorted(DIRTY_KINDS), 1)
