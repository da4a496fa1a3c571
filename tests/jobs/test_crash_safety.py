"""Kill `pulse ingest` (SIGKILL) in the middle of a large file; the re-run makes it exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.records import envelope, line, query

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

N = 120_000


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "in" / "big.ndjson"
    path.parent.mkdir()
    with open(path, "w") as handle:
        for i in range(N):
            handle.write(line(envelope(id=f"ev-{i:07d}", data={"user_id": f"u{i % 5000}", "note": "x" * 80})) + "\n")
    return path


@pytest.mark.slow
def test_sigkill_mid_file_then_rerun_gives_every_event_once(make_config, tmp_path, big_file):
    config_file = tmp_path / "pulse.toml"
    config_file.write_text(
        f'[warehouse]\ndata_dir = "{tmp_path / "w"}"\n'
        f'[ingest]\nbatch_bytes = 262144\n'
        f'[sources.exports]\nkind = "files"\npath = "{big_file.parent}"\nsettle_seconds = 0\n')
    command = [sys.executable, "-m", "pulse", "--config", str(config_file), "ingest"]
    database = tmp_path / "w" / "pulse.duckdb"

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    # Kill once some batches are committed (the database and its log hold a few megabytes).
    log = database.with_name(database.name + ".wal")
    while time.monotonic() < deadline and process.poll() is None:
        written = sum(path.stat().st_size for path in (database, log) if path.exists())
        if written > 6_000_000:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    config = make_config(warehouse={"data_dir": str(tmp_path / "w")})
    partial = query(config, "SELECT count(*) FROM events")[0][0]
    assert 0 < partial < N

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == f"accepted {N - partial}, duplicates 0, rejected 0"
    assert query(config, "SELECT count(*), count(DISTINCT id), min(seq), max(seq) FROM events") == [(N, N, 1, N)]
    assert query(config, "SELECT status FROM ingest_runs ORDER BY run_id") == [("interrupted",), ("completed",)]
    [(position,)] = query(config, "SELECT position FROM source_state WHERE source_name = 'exports'")
    [state] = json.loads(position)["files"].values()
    assert (state["offset"], state["line"]) == (os.path.getsize(big_file), N)
