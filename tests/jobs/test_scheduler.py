"""The scheduler: jobs on their crontab times, never overlapping; `--once` runs a job for real."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from jobs.scheduler import make_scheduler
from pulse.core.config import ConfigError
from tests.support.records import envelope, query, write_lines


def test_jobs_are_scheduled_on_their_crontab_times(make_config):
    config = make_config(schedule={"refresh": "*/15 * * * *", "publish": "5 3 * * *", "timezone": "Australia/Sydney"})
    scheduler = make_scheduler(config)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"refresh", "publish", "digest"}
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    start = dt.datetime(2026, 3, 5, 10, 7, tzinfo=dt.UTC)
    assert jobs["refresh"].trigger.get_next_fire_time(None, start) == dt.datetime(2026, 3, 5, 10, 15, tzinfo=dt.UTC)
    # 03:05 in Sydney (+11:00 in March) is 16:05 UTC the day before.
    assert jobs["publish"].trigger.get_next_fire_time(None, start).astimezone(dt.UTC) == \
        dt.datetime(2026, 3, 5, 16, 5, tzinfo=dt.UTC)


def test_an_empty_crontab_means_never(make_config):
    assert [job.id for job in make_scheduler(make_config(schedule={"publish": "", "digest": ""})).get_jobs()] == ["refresh"]


def test_a_bad_crontab_fails_at_start_with_the_key(make_config):
    with pytest.raises(ConfigError, match=r"schedule.refresh: '\*/15 \* \*' is not a crontab line"):
        make_config(schedule={"refresh": "*/15 * *"})


def test_once_runs_the_refresh_job_for_real(make_config, tmp_path):
    write_lines(tmp_path / "exports" / "a.ndjson", [envelope(id="1"), envelope(id="2", data={"user_id": "u2"}), "{"])
    (tmp_path / "pulse.toml").write_text(
        f'[warehouse]\ndata_dir = "{tmp_path / "w"}"\n[sources.exports]\nkind = "files"\npath = "exports"\n')
    result = subprocess.run([sys.executable, "-m", "pulse", "--config", str(tmp_path / "pulse.toml"),
                             "scheduler", "--once", "refresh"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "refresh: done in " in result.stderr and ": accepted 2, duplicates 0, rejected 1; metrics built" in result.stderr
    config = make_config(warehouse={"data_dir": str(tmp_path / "w")})
    assert query(config, "SELECT count(*) FROM events") == [(2,)]
    assert (tmp_path / "w" / "dashboard.duckdb").exists()


@pytest.mark.parametrize("weekday,expected", [
    ("1", {"Monday"}), ("0", {"Sunday"}), ("7", {"Sunday"}), ("1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
    ("5-7", {"Friday", "Saturday", "Sunday"}), ("*/2", {"Sunday", "Tuesday", "Thursday", "Saturday"}),
    ("sat,sun", {"Saturday", "Sunday"}), ("mon-wed,5", {"Monday", "Tuesday", "Wednesday", "Friday"}),
])
def test_crontab_weekdays_are_read_as_cron_reads_them(make_config, weekday, expected):
    # cron: 0 and 7 are Sunday, 1 is Monday (APScheduler's own numbers start at Monday = 0).
    config = make_config(schedule={"refresh": f"0 9 * * {weekday}"})
    [job] = [job for job in make_scheduler(config).get_jobs() if job.id == "refresh"]
    moment, days = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), set()
    for _ in range(14):
        moment = job.trigger.get_next_fire_time(None, moment + dt.timedelta(seconds=1))
        days.add(moment.strftime("%A"))
        assert (moment.hour, moment.minute) == (9, 0)
    assert days == expected


def test_interval_and_jitter_from_a_table(make_config):
    config = make_config(schedule={"refresh": {"every_seconds": 90, "jitter_seconds": 30}, "publish": {"cron": "5 * * * *"}})
    jobs = {job.id: job for job in make_scheduler(config).get_jobs()}
    assert jobs["refresh"].trigger.interval == dt.timedelta(seconds=90) and jobs["refresh"].trigger.jitter == 30
    assert str(jobs["publish"].trigger.fields[6]) == "5"  # the minute field
    with pytest.raises(ConfigError, match=r"^schedule.refresh: give either cron or every_seconds, not both$"):
        make_config(schedule={"refresh": {"every_seconds": 90, "cron": "* * * * *"}})
