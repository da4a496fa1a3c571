"""`pulse run JOB` as cron runs it: a real process each time, its exit code, its output (none on
success), the job history it leaves, and `pulse status` reading that history."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.ops.conftest import EVENTS
from tests.support.records import query
from tests.support.ops import feed_toml, job_runs, outcomes, pulse, start, wait_for


def _config(tmp_path, feed, **kwargs):
    (tmp_path / "pulse.toml").write_text(feed_toml(tmp_path / "data", feed.url, **kwargs))
    return tmp_path / "data"


def test_a_good_run_is_silent_exits_0_and_is_recorded(tmp_path, feed, feed_env):
    data = _config(tmp_path, feed)
    result = pulse("run", "ingest", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    [run] = job_runs(data)
    assert (run["job"], run["outcome"], run["pid"] > 0, run["error"]) == ("ingest", "ok", True, None)
    assert json.loads(run["counts"]) == {"accepted": EVENTS, "duplicates": 0, "rejected": 0}
    assert run["line"] == f"accepted {EVENTS}, duplicates 0, rejected 0" and run["finished_at"] >= run["started_at"]


def test_verbose_tells_each_step_and_json_lines_parse(tmp_path, feed, feed_env):
    _config(tmp_path, feed)
    verbose = pulse("run", "refresh", "--verbose", cwd=tmp_path)
    assert verbose.returncode == 0 and verbose.stdout == ""
    lines = verbose.stderr.splitlines()
    assert lines[0] == "pulse: refresh: started"
    assert lines[-1].startswith("pulse: refresh: done in ") and f"accepted {EVENTS}, duplicates 0" in lines[-1]
    as_json = pulse("run", "build", "--verbose", "--log-format", "json", cwd=tmp_path)
    records = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert [r["event"] for r in records] == ["started", "ok"]
    assert records[-1]["job"] == "build" and records[-1]["exit_code"] == 0 and records[-1]["level"] == "info"


def test_a_failed_run_exits_1_with_one_line_and_status_turns_unhealthy_then_healthy(tmp_path, feed, feed_env):
    data = _config(tmp_path, feed)
    assert pulse("run", "refresh", cwd=tmp_path).returncode == 0
    healthy = pulse("status", "--format", "json", cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stdout
    assert json.loads(healthy.stdout)["healthy"] is True

    feed.fail(500, times=1)
    failed = pulse("run", "refresh", cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    assert len(failed.stderr.splitlines()) == 1 and failed.stderr.startswith("pulse: refresh: failed after ")
    assert "platform" in failed.stderr and "Traceback" not in failed.stderr
    assert outcomes(data, "refresh") == ["ok", "failed"]

    status = pulse("status", "--format", "json", cwd=tmp_path)
    report = json.loads(status.stdout)
    assert status.returncode == 1 and report["healthy"] is False
    [problem] = report["problems"]
    assert problem.startswith("job refresh: last run failed")
    [refresh] = [job for job in report["jobs"] if job["job"] == "refresh"]
    assert refresh["last_run"]["outcome"] == "failed" and refresh["schedule"] == 'on "*/15 * * * *"'
    table = pulse("status", cwd=tmp_path)
    assert table.returncode == 1 and "NEEDS A PERSON" in table.stdout and "job refresh: last run failed" in table.stdout

    assert pulse("run", "refresh", cwd=tmp_path).returncode == 0
    again = pulse("status", "--format", "json", cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["problems"] == []


def test_status_says_old_data_needs_a_person(tmp_path, feed, feed_env):
    _config(tmp_path, feed, extra="[status]\nmax_data_age_hours = 0.0001\n")
    assert pulse("run", "refresh", cwd=tmp_path).returncode == 0
    time.sleep(0.5)  # 0.36 s is the bound
    report = pulse("status", "--format", "json", cwd=tmp_path)
    assert report.returncode == 1
    assert json.loads(report.stdout)["problems"][0].startswith("data: the dashboards' data is ")


def test_a_second_run_exits_75_at_once_and_a_killed_one_never_blocks(tmp_path, feed, feed_env, make_config):
    data = _config(tmp_path, feed, page_size=100)
    feed.serve(1)
    feed.delay(60)  # the second page answers only after a minute: the first run holds the job
    first = start("run", "ingest", cwd=tmp_path)
    try:
        wait_for(lambda: outcomes(data) == ["running"], what="the first run's record")
        began = time.monotonic()
        second = pulse("run", "ingest", cwd=tmp_path)
        took = time.monotonic() - began
        assert second.returncode == 75 and second.stdout == ""
        [line] = second.stderr.splitlines()
        assert line.startswith("pulse: ingest: not started: ingest is already running: another pulse process: "
                               f"pid {first.pid} (job ingest, since ")
        assert took < 1.0, took  # the whole process: start, refuse, exit
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert outcomes(data) == ["running"]  # nobody has looked yet
    third = pulse("run", "ingest", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    runs = job_runs(data)
    assert [r["outcome"] for r in runs] == ["killed", "ok"]
    assert f"pid {first.pid} " in runs[0]["error"]
    assert "was killed before it finished; marked killed" in third.stderr  # said once, by the run that found it
    # Nothing lost, nothing twice, whatever the killed run had committed.
    config = make_config(warehouse={"data_dir": str(data)})
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM events") == [(EVENTS, EVENTS)]
    status = json.loads(pulse("status", "--format", "json", cwd=tmp_path).stdout)
    [ingest] = [job for job in status["jobs"] if job["job"] == "ingest"]
    assert ingest["last_run"]["outcome"] == "ok"


def test_exit_2_for_a_bad_job_name_and_for_no_sources(tmp_path):
    result = pulse("run", "nosuchjob", cwd=tmp_path)
    assert result.returncode == 2 and "no job 'nosuchjob'; the jobs are build, digest, ingest" in result.stderr
    nothing = pulse("--data-dir", "d", "run", "ingest", cwd=tmp_path)
    assert nothing.returncode == 2
    assert nothing.stderr == ("pulse: ingest: failed after 0.0 s: config: sources: none configured; add a "
                              "[sources.NAME] table (see the README's Configuration)\n")


def test_sigterm_stops_a_run_and_records_it_interrupted(tmp_path, feed, feed_env):
    data = _config(tmp_path, feed, page_size=100)
    feed.serve(1)
    feed.delay(60)
    run = start("run", "ingest", cwd=tmp_path)
    wait_for(lambda: outcomes(data) == ["running"], what="the run's record")
    time.sleep(0.5)
    os.kill(run.pid, signal.SIGTERM)
    # The feed's answer is a minute away: the run winds down what it can, then goes within 10 s.
    began = time.monotonic()
    assert run.wait(timeout=30) == 1
    assert time.monotonic() - began < 12
    assert "ingest: stopped by SIGTERM; it did not wind down within 10 s" in run.stderr.read()
    [row] = job_runs(data)
    assert (row["outcome"], row["error"]) == ("interrupted", "stopped by SIGTERM; it did not wind down within 10 s")


def test_with_json_logs_even_an_early_failure_is_a_json_line(tmp_path):
    (tmp_path / "pulse.toml").write_text('[warehouse]\nthreads = "many"\n')
    bad = pulse("run", "build", "--log-format", "json", cwd=tmp_path)
    [record] = [json.loads(line) for line in bad.stderr.splitlines()]
    assert bad.returncode == 2 and record["exit_code"] == 2 and record["level"] == "error"
    assert record["message"] == "config: warehouse.threads: expected an integer, got str 'many'"
    (tmp_path / "pulse.toml").write_text("")
    (tmp_path / "blocked").write_text("a file")
    blocked = pulse("--data-dir", "blocked/data", "run", "build", "--log-format", "json", cwd=tmp_path)
    [record] = [json.loads(line) for line in blocked.stderr.splitlines()]
    assert blocked.returncode == 1 and "part of the path is a file, not a folder" in record["message"]
