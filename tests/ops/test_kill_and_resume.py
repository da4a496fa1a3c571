"""SIGKILL in the middle of each of ingest, build and publish (run by `pulse run`, as cron does):
`pulse status` shows the killed run, the next run completes, and nothing is duplicated or lost."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

import pytest

from tests.fakes.social_servers import SlackServer
from tests.ops.conftest import EVENTS
from tests.support.ops import feed_toml, job_runs, outcomes, pulse, start, wait_for
from tests.support.posters import SECRETS, channels, city_event, meetup_events, toml
from tests.support.records import line, query

pytestmark = pytest.mark.slow


def _kill(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def _status(tmp_path, **kwargs) -> tuple[int, dict]:
    result = pulse("status", "--format", "json", cwd=tmp_path, **kwargs)
    return result.returncode, json.loads(result.stdout)


def _last(report: dict, job: str) -> dict:
    return next(entry["last_run"] for entry in report["jobs"] if entry["job"] == job)


def test_sigkill_mid_ingest(tmp_path, feed, feed_env, make_config):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, page_size=50))
    feed.serve(3)
    # The fourth page answers only after a minute. One page is read ahead while the one before
    # is committed, so by the time the fourth is asked for, the first is committed.
    feed.delay(60)
    run = start("run", "ingest", cwd=tmp_path)
    wait_for(lambda: len(feed.requests) >= 4, what="the fourth page's request")
    _kill(run)

    code, report = _status(tmp_path)
    assert code == 1 and _last(report, "ingest")["outcome"] == "killed"
    assert any(problem.startswith("job ingest: last run killed: pid ") for problem in report["problems"])
    config = make_config(warehouse={"data_dir": str(data)})
    committed = query(config, "SELECT count(*) FROM events")[0][0]
    assert 50 <= committed < EVENTS

    rerun = pulse("run", "ingest", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert outcomes(data) == ["killed", "ok"]
    assert json.loads(job_runs(data)[-1]["counts"])["accepted"] == EVENTS - committed
    assert query(config, "SELECT count(*), count(DISTINCT id), min(seq), max(seq) FROM events") == [(EVENTS, EVENTS, 1, EVENTS)]


def test_sigkill_mid_build(tmp_path, make_config):
    """The build is one transaction: killed inside it, the next run builds everything, once."""
    per_city, cities = 100_000, ("sydney", "perth", "melbourne")
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "joins.ndjson", "w") as handle:
        for i in range(per_city * len(cities)):
            handle.write(line({"specversion": "1.0", "id": f"e{i}", "source": "s", "type": "user:joined_city",
                               "time": f"2026-0{1 + i % 9}-1{i % 10}T10:00:00Z", "city": cities[i % 3],
                               "data": {"user_id": f"u{i}"}}) + "\n")
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(f'[warehouse]\ndata_dir = "{data}"\nthreads = 1\n'
                                         f'[sources.exports]\nkind = "files"\npath = "in"\nsettle_seconds = 0\n')
    assert pulse("run", "ingest", cwd=tmp_path).returncode == 0
    config = make_config(warehouse={"data_dir": str(data)})
    killed_inside = False
    for delay in (0.35, 0.25, 0.5):
        run = start("run", "build", cwd=tmp_path)
        wait_for(lambda: outcomes(data, "build")[-1:] == ["running"], what="the build's record")
        time.sleep(delay)
        if run.poll() is not None:
            continue  # it was done already: the next try has nothing new to build, so it is faster still
        _kill(run)
        if query(config, "SELECT count(*) FROM analytics.state")[0][0] == 0:
            killed_inside = True
            break
    assert killed_inside, "every build finished before it could be killed"

    code, report = _status(tmp_path)
    assert code == 1 and _last(report, "build")["outcome"] == "killed"
    rerun = pulse("run", "build", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert outcomes(data, "build")[-2:] == ["killed", "ok"]
    # Every join counted once: each city ends with exactly its distinct users.
    growth = pulse("metrics", "member-growth", "--city", "all", "--period", "month", "--from", "2026-01-01",
                   "--to", "2026-09-30", "--format", "csv", "--no-build", cwd=tmp_path)
    rows = [row.split(",") for row in growth.stdout.splitlines()[1:]]
    assert {(row[0], int(row[5])) for row in rows if row[1] == "2026-09-01"} == {(city, per_city) for city in cities}
    assert sum(int(row[2]) for row in rows) == per_city * len(cities)


def test_sigkill_mid_publish(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    now = dt.datetime.now(dt.UTC)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "meetups.ndjson").write_text("\n".join(line(record) for record in [city_event()] + meetup_events(
        "m1", created=now - dt.timedelta(hours=1), starts=now + dt.timedelta(days=3))) + "\n")
    data = tmp_path / "data"
    with SlackServer() as slack:
        raw = {"warehouse": {"data_dir": str(data)}, **channels({"slack": slack}, kinds=("slack",)),
               "sources": {"exports": {"kind": "files", "path": "in", "settle_seconds": 0}}}
        raw["publisher"]["timeout_seconds"] = 60.0
        (tmp_path / "pulse.toml").write_text(toml(raw))
        assert pulse("run", "refresh", cwd=tmp_path).returncode == 0
        slack.delay(30.0, process=True)  # Slack takes the post; its answer comes too late
        run = start("run", "publish", cwd=tmp_path)
        assert slack.wait_for_posts(1, timeout=60)
        _kill(run)

        code, report = _status(tmp_path)
        assert code == 1 and _last(report, "publish")["outcome"] == "killed"
        rerun = pulse("run", "publish", cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        assert len(slack.posts) == 1  # found in the channel by its marker, never sent again
        assert outcomes(data, "publish") == ["killed", "ok"]
        assert json.loads(job_runs(data, "publish")[-1]["counts"])["published"] == 1
        code, report = _status(tmp_path)
        assert code == 0, report["problems"]
        assert report["posts"] == {"pending_approval": 0, "failed": 0, "needs_attention": 0, "waiting_retry": 0}
