"""The job history: a running row is a live run only while its job's lock is held; old runs go."""

from __future__ import annotations

import datetime as dt

from jobs import history
from pulse.core import locks
from pulse.core.instants import iso


def test_a_running_row_whose_lock_is_free_is_killed_and_one_whose_lock_is_held_is_not(config):
    with history.JobHistory(config) as store:
        dead = store.start("ingest")
        alive = store.start("publish")
        with locks.hold(history.lock_path(config, "publish"), purpose="job publish"):
            found = store.settle_killed()
            assert [run.id for run in found] == [dead]
            assert store.get(dead).outcome == "killed" and "ended without finishing" in store.get(dead).error
            assert store.get(alive).outcome == "running"
        # The holder of a job's lock knows every running row of that job is dead (it ran none).
        with locks.hold(history.lock_path(config, "publish"), purpose="job publish"):
            assert [run.id for run in store.settle_killed(holding="publish")] == [alive]
        store.finish(dead, "ok")  # a finished row is never changed again
        assert store.get(dead).outcome == "killed"


def test_runs_older_than_the_keep_period_go_at_the_next_start(config):
    with history.JobHistory(config) as store:
        old = store.start("refresh")
        store.finish(old, "ok", line="accepted 1")
        recent = store.start("refresh")
        store.finish(recent, "failed", error="boom")
        long_ago = iso(dt.datetime.now(dt.UTC) - dt.timedelta(days=history.KEEP_DAYS + 1))
        store._con.execute("UPDATE job_runs SET started_at = ?, finished_at = ? WHERE id = ?", [long_ago, long_ago, old])
        newest = store.start("refresh")
        assert [run.id for run in store.runs("refresh")] == [newest, recent]
        assert store.last_runs()["refresh"].outcome == "running"
