"""`pulse scheduler` as systemd runs it: a real process on second-level triggers, its log, the
job history, and SIGTERM while a job runs."""

from __future__ import annotations

import signal
import time

from tests.ops.conftest import EVENTS
from tests.support.ops import Lines, feed_toml, job_runs, pulse, start, wait_for
from tests.support.records import query

SCHEDULE = '[schedule]\nrefresh = ""\npublish = ""\ndigest = ""\nstop_grace_seconds = 60\n[schedule.ingest]\nevery_seconds = 1\n'


def test_jobs_fire_an_overlap_is_skipped_and_sigterm_lets_the_running_job_finish(tmp_path, feed, feed_env,
                                                                               make_config):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, extra=SCHEDULE))
    feed.delay(3.5)  # the first run's first page: it is still running at the next two ticks
    scheduler = start("scheduler", cwd=tmp_path)
    log = Lines(scheduler.stderr)
    try:
        log.wait("ingest: every 1 s; next at ")
        log.wait("ingest: still running for ")
        skipped = log.matching("ingest: still running for ")[0]
        assert ": skipped the run due at " in skipped
        log.wait("ingest: done in ")
        log.wait("next ingest at ")
        # A later run is slow too; SIGTERM reaches the scheduler while it waits for the feed.
        seen = len(feed.requests)
        feed.delay(3.0)
        wait_for(lambda: len(feed.requests) > seen, what="the slow request")
        starts_before = len(log.matching("ingest: started"))
        began = time.monotonic()
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 0
        took = time.monotonic() - began
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    log.close()
    text = "\n".join(log.lines)
    assert "SIGTERM: taking no new job; waiting for ingest to finish (up to 60 s)" in text
    assert log.lines[-1].endswith(" stopped") and log.lines[-2].split(" ", 2)[2].startswith("ingest: done in ")
    assert len(log.matching("ingest: started")) == starts_before  # nothing new after the signal
    assert 1.0 < took < 10, took  # it waited for the job (about 3 s), no longer
    assert "apscheduler" not in text.lower() and "Traceback" not in text and " INFO " not in text
    runs = job_runs(data)
    assert {row["outcome"] for row in runs} == {"ok"} and len(runs) >= 2
    assert sum(int(row["line"].split()[1].rstrip(",")) for row in runs) == EVENTS  # "accepted N, ..."
    config = make_config(warehouse={"data_dir": str(data)})
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM events") == [(EVENTS, EVENTS)]


def test_the_scheduler_and_cron_share_the_job_lock(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, extra=SCHEDULE))
    feed.delay(4)
    cron = start("run", "ingest", cwd=tmp_path)
    wait_for(lambda: [row["outcome"] for row in job_runs(data)] == ["running"], what="the cron run")
    scheduler = start("scheduler", cwd=tmp_path)
    log = Lines(scheduler.stderr)
    try:
        line = log.wait("ingest: skipped: it is running in another process")[0]
        assert f"pid {cron.pid} (job ingest, since " in line
        assert cron.wait(timeout=30) == 0
        log.wait("ingest: done in ")  # the next tick after cron's run: the scheduler's own
        scheduler.send_signal(signal.SIGINT)
        assert scheduler.wait(timeout=30) == 0
    finally:
        for process in (cron, scheduler):
            if process.poll() is None:
                process.kill()
    assert [row["trigger"] for row in job_runs(data)][:2] == ["run", "scheduler"]


def test_once_runs_a_job_and_exits_with_its_outcome(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url))
    result = pulse("scheduler", "--once", "ingest", cwd=tmp_path)
    assert result.returncode == 0 and "ingest: done in " in result.stderr
    assert [(row["job"], row["trigger"], row["outcome"]) for row in job_runs(data)] == [("ingest", "once", "ok")]


def test_runs_missed_while_stopped_collapse_into_one(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, extra=SCHEDULE))
    scheduler = start("scheduler", cwd=tmp_path)
    log = Lines(scheduler.stderr)
    try:
        log.wait("ingest: done in ", count=2)
        wait_for(lambda: log.lines[-1].split(" ", 2)[2].startswith("next ingest at "), what="an idle moment")
        scheduler.send_signal(signal.SIGSTOP)  # as a suspended VM or a laptop lid: four ticks go by
        time.sleep(4.5)
        before = len(log.matching("ingest: started"))
        scheduler.send_signal(signal.SIGCONT)
        log.wait("ingest: started", count=before + 1)
        time.sleep(1.2)
        # The four missed ticks are one run, and the next regular tick perhaps another: not five.
        assert 1 <= len(log.matching("ingest: started")) - before <= 2
        assert not log.matching("still running")  # collapsed, not tried and refused one by one
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()


def test_a_job_longer_than_the_grace_is_cut_and_recorded_interrupted(tmp_path, feed, feed_env):
    data = tmp_path / "data"
    grace = SCHEDULE.replace("stop_grace_seconds = 60", "stop_grace_seconds = 1")
    (tmp_path / "pulse.toml").write_text(feed_toml(data, feed.url, extra=grace))
    feed.delay(30)
    scheduler = start("scheduler", cwd=tmp_path)
    log = Lines(scheduler.stderr)
    try:
        wait_for(lambda: len(feed.requests) >= 1, what="the slow request")
        began = time.monotonic()
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 1
        assert time.monotonic() - began < 5
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    log.close()
    assert log.lines[-1].endswith("ingest: did not finish within the grace period; cut (recorded interrupted)")
    [run] = job_runs(data)
    assert run["outcome"] == "interrupted" and run["error"].startswith("the scheduler stopped after ")
    # The next start finds nothing to mark: the cut run was recorded on the way out.
    assert pulse("run", "ingest", cwd=tmp_path).stderr == ""
