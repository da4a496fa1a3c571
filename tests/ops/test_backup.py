"""`pulse backup` while an ingest runs, `pulse restore` into a new data folder: the restored
warehouse passes the build and gives the same metrics; a damaged backup is refused untouched."""

from __future__ import annotations

import json
import os

from tests.ops.conftest import EVENTS
from tests.support.ops import feed_toml, pulse, start, wait_for, outcomes

GROWTH = ("metrics", "member-growth", "--city", "all", "--period", "month", "--from", "2026-01-01",
          "--to", "2026-12-31", "--format", "csv")


def test_a_backup_taken_during_an_ingest_restores_to_the_same_metrics(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, page_size=100))
    assert pulse("run", "refresh", cwd=tmp_path).returncode == 0
    added = [dict(e, id=f"late-{i}") for i, e in enumerate(feed.events[:60])]
    feed.append(*added)
    feed.delay(3)  # the next ingest is slow: the backup starts while it holds the warehouse
    ingest = start("run", "ingest", cwd=tmp_path)
    wait_for(lambda: outcomes(data, "ingest") == ["running"], what="the ingest's record")
    wait_for(lambda: len(feed.requests) >= 2, what="the slow request")
    backup = pulse("backup", str(tmp_path / "backup"), cwd=tmp_path)
    assert ingest.wait(timeout=60) == 0
    assert backup.returncode == 0, backup.stderr
    assert "waiting for another pulse process: pid" in backup.stderr and "(ingest, since" in backup.stderr
    assert backup.stdout.startswith("backed up 2 files") and backup.stdout.rstrip().endswith("; verified")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert sorted(f["name"] for f in manifest["files"]) == ["jobs.sqlite", "pulse.duckdb"]  # no people, no posts yet
    assert manifest["warehouse_tables"]["main.event_log"] == EVENTS + 60  # what the ingest had committed

    restored = tmp_path / "restored"
    result = pulse("--data-dir", str(restored), "restore", str(tmp_path / "backup"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("restored ") and f"({EVENTS + 60:,} events in the warehouse), verified" in result.stdout
    assert pulse("--data-dir", str(restored), "build", cwd=tmp_path).returncode == 0
    assert pulse("build", cwd=tmp_path).returncode == 0
    original = pulse(*GROWTH, cwd=tmp_path)
    copy = pulse("--data-dir", str(restored), *GROWTH, cwd=tmp_path)
    assert original.returncode == copy.returncode == 0
    assert copy.stdout == original.stdout and len(original.stdout.splitlines()) == 1 + 3 * 12
    # The stores came back too: the job history of the original is there.
    assert pulse("--data-dir", str(restored), "status", "--format", "json", cwd=tmp_path).stdout.count('"outcome": "ok"') >= 2


def test_a_damaged_backup_is_refused_and_nothing_is_touched(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url))
    assert pulse("run", "ingest", cwd=tmp_path).returncode == 0
    assert pulse("backup", "bk", cwd=tmp_path).returncode == 0
    with open(tmp_path / "bk" / "pulse.duckdb", "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00garbage")
    before = sorted(os.listdir(data))
    result = pulse("restore", "bk", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (f"pulse: {tmp_path / 'bk' / 'pulse.duckdb'}: its content is not what was backed up "
                             "(size or SHA-256 differs); the backup is damaged\n")
    assert sorted(os.listdir(data)) == before


def test_a_restore_keeps_what_it_replaces_and_refuses_a_running_job(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, page_size=100))
    assert pulse("run", "ingest", cwd=tmp_path).returncode == 0
    assert pulse("backup", "bk", cwd=tmp_path).returncode == 0
    again = pulse("backup", "bk", cwd=tmp_path)
    assert again.returncode == 1 and "exists and is not an empty folder" in again.stderr
    feed.append(*[dict(e, id=f"more-{i}") for i, e in enumerate(feed.events[:10])])
    assert pulse("run", "ingest", cwd=tmp_path).returncode == 0
    feed.delay(30)
    busy = start("run", "ingest", cwd=tmp_path)
    try:
        wait_for(lambda: outcomes(data, "ingest")[-1:] == ["running"], what="the running ingest")
        refused = pulse("restore", "bk", cwd=tmp_path)
        assert refused.returncode == 1 and "job ingest is running; stop `pulse scheduler`" in refused.stderr
    finally:
        busy.kill()
        busy.wait()
    result = pulse("restore", "bk", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [aside] = [p for p in data.iterdir() if p.name.startswith("before-restore-")]
    assert (aside / "pulse.duckdb").exists() and (aside / "jobs.sqlite").exists()
    events = pulse("sources", "--format", "csv", cwd=tmp_path).stdout
    assert f",{EVENTS}," in events  # the backup's count, not the later ingest's
