"""`pulse build` and `pulse metrics`: exact CSV, JSON keys, one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pulse.cli import main
from tests.analytics.helpers import ev, load

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")


@pytest.fixture
def pulse(config):
    def run(*args):
        result = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), *args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr
    return run


@pytest.fixture
def city(config, tmp_path):
    load(config, [
        SYDNEY,
        ev("user:joined_city", "j1", "2026-03-02T10:00:00+11:00", user_id="u1"),
        ev("event:created", "m1", "2026-02-01T00:00:00Z", event_id="m1", title='Quiz, "pub" edition',
           starts_at="2026-03-05T19:00:00.250+11:00"),
        ev("event:rsvp", "r1", "2026-02-01T00:00:00Z", event_id="m1", user_id="u1", status="going"),
        ev("event:rsvp", "r2", "2026-02-01T00:00:00Z", event_id="m1", user_id="u2", status="going"),
        ev("event:rsvp", "r3", "2026-02-01T00:00:00Z", event_id="m1", user_id="u3", status="going"),
        ev("event:checked_in", "k1", "2026-03-05T19:00:00+11:00", event_id="m1", user_id="u1"),
        ev("event:checked_in", "k2", "2026-03-05T19:00:00+11:00", event_id="m1", user_id="u2"),
        ev("blog:post_published", "p1", "2026-02-01T00:00:00Z", post_id="b1", title=" <script>x</script>\n"),
        ev("blog:post_viewed", "v1", "2026-03-02T10:00:00+11:00", post_id="b1", visitor_id="x"),
        ev("user:joined_city", "j2", "2026-03-02T10:00:00Z", "melbourne", user_id="u1"),
    ], tmp_path / "in")
    return config


def test_build_then_csv_exactly(pulse, city):
    code, out, _ = pulse("build")
    assert code == 0 and out.startswith("full build: events up to seq 11 (11 new)")
    code, out, err = pulse("metrics", "member-growth", "--city", "sydney", "--period", "week",
                           "--from", "2026-02-24", "--to", "2026-03-08", "--format", "csv")
    assert (code, err) == (0, "")
    assert out == ("city,period_start,joins,leaves,net,members_end\n"
                   "sydney,2026-02-23,0,0,0,0\n"
                   "sydney,2026-03-02,1,0,1,1\n")
    code, out, _ = pulse("metrics", "attendance", "--city", "sydney", "--format", "csv")
    assert out == ("city,event_id,title,starts_at,status,going,checked_in,no_shows,walk_ins,attendance_rate,first_timers\n"
                   'sydney,m1,"Quiz, ""pub"" edition",2026-03-05T08:00:00.250Z,scheduled,3,2,1,0,0.6667,2\n')
    code, out, _ = pulse("metrics", "attendance-trend", "--city", "sydney", "--from", "2026-02-01", "--to", "2026-03-31",
                         "--format", "csv")
    assert out == ("city,month,events,going,checked_in,no_shows,attendance_rate\n"
                   "sydney,2026-02-01,0,0,0,0,\n"
                   "sydney,2026-03-01,1,3,2,1,0.6667\n")
    code, out, _ = pulse("metrics", "blog-views", "--city", "sydney", "--period", "month", "--from", "2026-03-01",
                         "--to", "2026-03-01", "--format", "csv")
    assert out == ('city,post_id,title,period_start,views,unique_visitors\n'
                   'sydney,b1," <script>x</script>\n",2026-03-01,1,1\n')
    code, out, _ = pulse("metrics", "top-posts", "--city", "sydney", "--from", "2026-03-01", "--to", "2026-03-31",
                         "--limit", "5", "--format", "csv")
    assert out == 'city,post_id,title,views,unique_visitors\nsydney,b1," <script>x</script>\n",1,1\n'


def test_json_has_the_same_keys_and_values(pulse, city):
    pulse("build")
    code, out, _ = pulse("metrics", "attendance", "--city", "all", "--format", "json")
    assert json.loads(out) == [{
        "city": "sydney", "event_id": "m1", "title": 'Quiz, "pub" edition', "starts_at": "2026-03-05T08:00:00.250Z",
        "status": "scheduled", "going": 3, "checked_in": 2, "no_shows": 1, "walk_ins": 0, "attendance_rate": "0.6667",
        "first_timers": 2,
    }]
    code, out, _ = pulse("metrics", "member-growth", "--city", "all", "--period", "month", "--from", "2026-03-01",
                         "--to", "2026-03-01", "--format", "json")
    assert [row["city"] for row in json.loads(out)] == ["melbourne", "sydney"]


def test_table_is_aligned_and_escapes_control_characters(pulse, city):
    pulse("build")
    code, out, _ = pulse("metrics", "top-posts", "--city", "sydney", "--from", "2026-03-01", "--to", "2026-03-31",
                         "--format", "table")
    assert code == 0
    assert out.splitlines() == [
        "city    post_id  title                  views  unique_visitors",
        "------  -------  ---------------------  -----  ---------------",
        "sydney  b1        <script>x</script>\\n      1                1",
    ]


@pytest.mark.parametrize("args, message", [
    (["member-growth", "--city", "paris", "--period", "day", "--from", "2026-03-01", "--to", "2026-03-02"],
     "pulse: no city 'paris' in the events"),
    (["member-growth", "--city", "sydney", "--period", "day", "--from", "2026-3-1", "--to", "2026-03-02"],
     "pulse: --from: expected a date as YYYY-MM-DD, got '2026-3-1'"),
    (["blog-views", "--city", "sydney", "--period", "day", "--from", "2026-03-01", "--to", "2026-02-30"],
     "pulse: --to: '2026-02-30' is not a real date"),
    (["attendance-trend", "--city", "sydney", "--from", "2026-03-02", "--to", "2026-03-01"],
     "pulse: --from 2026-03-02 is after --to 2026-03-01"),
    (["attendance", "--city", "sydney", "--from", "2026-03-02", "--to", "2026-03-01"],
     "pulse: --from 2026-03-02 is after --to 2026-03-01"),
    (["top-posts", "--city", "all", "--from", "x", "--to", "2026-03-01"],
     "pulse: --from: expected a date as YYYY-MM-DD, got 'x'"),
    (["member-growth", "--city", "sydney", "--period", "year", "--from", "2026-03-01", "--to", "2026-03-02"],
     "pulse: period: expected day, week or month, got 'year'"),
])
def test_bad_requests_give_one_line_and_exit_2(pulse, city, args, message):
    pulse("build")
    code, out, err = pulse("metrics", *args)
    assert (code, out) == (2, "")
    assert err.splitlines() == [err.strip()] and err.startswith(message)


def test_stale_metrics_are_said_on_stderr_and_built_first(pulse, city, tmp_path):
    code, out, err = pulse("metrics", "member-growth", "--city", "sydney", "--period", "month",
                           "--from", "2026-03-01", "--to", "2026-03-01", "--format", "csv")
    assert code == 0 and out.endswith("sydney,2026-03-01,1,0,1,1\n")
    assert err == "pulse: the metrics have not been built yet; building the metrics first\n"
    load(city, [ev("user:joined_city", "j3", "2026-03-03T10:00:00+11:00", user_id="u7")], tmp_path / "in")
    code, out, err = pulse("metrics", "member-growth", "--city", "sydney", "--period", "month",
                           "--from", "2026-03-01", "--to", "2026-03-01", "--format", "csv", "--no-build")
    assert code == 0 and out.endswith("sydney,2026-03-01,1,0,1,1\n")
    assert err == "pulse: stale metrics: 1 events were ingested since the last build; run `pulse build` for current figures\n"
    code, out, _ = pulse("build")
    assert out.startswith("incremental build: events up to seq 12 (1 new)")
