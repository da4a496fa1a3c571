"""The demo exporter's files: the same arguments give the same bytes, whatever the clock says."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pulse.demo import generate_events, generate_files, write_events

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
