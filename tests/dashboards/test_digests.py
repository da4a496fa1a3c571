"""Weekly digests and alerts for the city leads, against the real slack-sdk and the local fake
Slack: a hand-built week's digest equals the figures counted by hand; a digest goes once per city
and week across two runs and a SIGKILL; `--dry-run` sends nothing; a week with no data sends
nothing; an alert is posted once per breach, shown on the city page until it clears.

The week is the last complete ISO week before today in Sydney (the CLI runs on the real clock).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dashboards import alerts as alerts_module, digest
from dashboards.data import find_city
from dashboards.snapshot import open_snapshot, snapshot_path
from jobs import pipeline
from jobs.digests import run_digests
from jobs.ingest.run import ingest
from jobs.runner import refresh_job
from posters import notices
from pulse.core import config as config_module
from pulse.people import People
from pulse.web.app import create_app
from tests.fakes.social_servers import SlackServer
from tests.support.posters import toml
from tests.support.records import envelope, write_lines
from tests.support.web import ADMIN_PASSWORD, ROOT, SECRET, pulse_command, sign_in

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
WEEK_START, WEEK_END = digest.last_complete("week", NOW.astimezone(SYDNEY).date())
TITLE = "Hello <b>world</b> & *friends*"
POST_TITLE = "Post <one> & co"


def local(days: int, hour: int = 10, minute: int = 0) -> str:
    """An instant `days` after the week's Monday at hh:mm in Sydney, as the platform writes it."""
    moment = dt.datetime.combine(WEEK_START + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=SYDNEY)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ev(id: str, type: str, time: str, city: str = "testville", **data) -> dict:
    return envelope(id, type, data=data, time=time, city=city, source="tests/digest")


def week_events() -> list[dict]:
    """The hand-built week (days 0..6) and the one before it (days -7..-1)."""
    soon, later = NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=30)
    return [
        ev("c", "city:upserted", local(-60), name="Testville", timezone="Australia/Sydney"),
        ev("c2", "city:upserted", local(-60), city="emptyville", name="Emptyville", timezone="Australia/Sydney"),
        ev("j1", "user:joined_city", local(-21), user_id="u1"),                   # before both weeks
        ev("j2", "user:joined_city", local(-6), user_id="u2"),                    # the week before
        ev("j3", "user:joined_city", local(-5), user_id="u3"),
        ev("j4", "user:joined_city", local(0), user_id="u4"),                     # this week
        ev("l3", "user:left_city", local(1), user_id="u3"),
        ev("j5", "user:joined_city", local(6, 23, 30), user_id="u5"),             # Sunday 23:30: this week
        ev("j6", "user:joined_city", local(7, 0, 30), user_id="u6"),              # Monday 00:30: the next one
        ev("pb1", "blog:post_published", local(-30), post_id="b1", title=POST_TITLE),
        ev("pb2", "blog:post_published", local(-30), post_id="b2", title="Second"),
        # The week before: P1, u1 and u2 going, u1 came.
        ev("p1", "event:created", local(-20), event_id="P1", title="Previous", starts_at=local(-4, 18, 30)),
        ev("p1r1", "event:rsvp", local(-10), event_id="P1", user_id="u1", status="going"),
        ev("p1r2", "event:rsvp", local(-10), event_id="P1", user_id="u2", status="going"),
        ev("p1c1", "event:checked_in", local(-4, 18, 35), event_id="P1", user_id="u1"),
        ev("v0", "blog:post_viewed", local(-3, 12), post_id="b1", visitor_id="z"),
        # This week: M1, u1 u2 u4 going; u1 u4 and a walk-in u7 came. M2 was cancelled.
        ev("m1", "event:created", local(-20), event_id="M1", title=TITLE, starts_at=local(2, 18, 30), venue="Level 3"),
        ev("m1r1", "event:rsvp", local(-2), event_id="M1", user_id="u1", status="going"),
        ev("m1r2", "event:rsvp", local(-2), event_id="M1", user_id="u2", status="going"),
        ev("m1r4", "event:rsvp", local(-2), event_id="M1", user_id="u4", status="going"),
        ev("m1c1", "event:checked_in", local(2, 18, 35), event_id="M1", user_id="u1"),
        ev("m1c4", "event:checked_in", local(2, 18, 36), event_id="M1", user_id="u4"),
        ev("m1c7", "event:checked_in", local(2, 18, 40), event_id="M1", user_id="u7"),
        ev("m2", "event:created", local(-20), event_id="M2", title="Cancelled one", starts_at=local(3, 18, 30)),
        ev("m2r1", "event:rsvp", local(-2), event_id="M2", user_id="u1", status="going"),
        ev("m2x", "event:cancelled", local(1), event_id="M2"),
        ev("v1", "blog:post_viewed", local(1, 9), post_id="b1", visitor_id="x"),
        ev("v2", "blog:post_viewed", local(1, 10), post_id="b1", visitor_id="y"),
        ev("v3", "blog:post_viewed", local(2, 9), post_id="b1", visitor_id="x"),
        ev("v4", "blog:post_viewed", local(4, 9), post_id="b2", visitor_id="x"),
        # Coming up: U1 in two days (capacity 30, two going, one on the waitlist); U2 in a month.
        ev("u1", "event:created", local(-20), event_id="U1", title="Next <i>one</i>", starts_at=utc(soon),
           capacity=30, venue="Hall"),
        ev("u1r1", "event:rsvp", local(-1), event_id="U1", user_id="u1", status="going"),
        ev("u1r2", "event:rsvp", local(-1), event_id="U1", user_id="u2", status="going"),
        ev("u1r8", "event:rsvp", local(-1), event_id="U1", user_id="u8", status="waitlist"),
        ev("u2", "event:created", local(-20), event_id="U2", title="Much later", starts_at=utc(later)),
    ]


def slack_table(slack: SlackServer) -> dict:
    return {"leads_slack_channel": "#leads",
            "channels": {"slack": {"channel": "#meetups", "token_env": "SYD_SLACK_TOKEN", "base_url": slack.base_url}}}


def raw_config(tmp_path, slack: SlackServer, **sections) -> dict:
    return {"warehouse": {"data_dir": str(tmp_path / "warehouse"), "lock_timeout_seconds": 30},
            "cities": {"testville": slack_table(slack), "emptyville": slack_table(slack)},
            "publisher": {"allow_hosts_for_tests": ["127.0.0.1"], "timeout_seconds": 10.0,
                          "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2},
            "digests": {"dashboard_url": "https://pulse.example.org"}, **sections}


@pytest.fixture
def slack(monkeypatch):
    monkeypatch.setenv("SYD_SLACK_TOKEN", "test-token")
    with SlackServer() as server:
        yield server


def load(config, tmp_path, records, name="events.ndjson"):
    path = write_lines(tmp_path / "in" / name, records)
    assert ingest(config, files=[str(path)]).rejected == 0
    pipeline.build(config)  # builds and publishes the dashboards' snapshot


@pytest.fixture
def site(tmp_path, slack):
    """(config, its TOML file) over the hand-built week, built and published."""
    path = tmp_path / "pulse.toml"
    path.write_text(toml(raw_config(tmp_path, slack)), encoding="utf-8")
    config = config_module.load(path)
    load(config, tmp_path, week_events())
    return config, path


def test_the_digest_of_a_hand_built_week_is_the_hand_count(site):
    config, _ = site
    with contextlib.closing(open_snapshot(snapshot_path(config))) as con:
        city = find_city(con, "testville")
        figures = digest.period_figures(con, city, "week", WEEK_START, WEEK_END, NOW)
    # Counted by hand from week_events().
    assert (figures.members_end, figures.members_previous_end) == (4, 3)       # u1 u2 u4 u5 / u1 u2 u3
    assert (figures.joins, figures.leaves, figures.net, figures.net_previous) == (2, 1, 1, 2)  # u6 is next week's
    assert (figures.meetups_held, figures.meetups_held_previous) == (1, 1)      # M1 (M2 cancelled) / P1
    assert (figures.going, figures.no_shows) == (3, 1)                          # u2 did not come
    assert (figures.attendance_rate, figures.attendance_rate_previous) == (Decimal("0.6667"), Decimal("0.5000"))
    assert figures.first_timers == 2                                            # u4, u7 (u1 came to P1)
    assert figures.blog_views == 4 and figures.top_post == ("b1", POST_TITLE, 3)
    assert [(m.title, m.going, m.waitlist, m.capacity) for m in figures.upcoming] == [("Next <i>one</i>", 2, 1, 30)]
    assert figures.upcoming_total == 1                                          # U2 is beyond 14 days
    assert figures.has_data

    message = digest.compose(figures, "https://pulse.example.org")
    assert message.key == f"digest:week:testville:{WEEK_START.isoformat()}"
    facts = dict(message.facts)
    assert facts["Members"] == "4 at the end of the week, net +1 (2 joined, 1 left); the week before: net +2"
    assert facts["Meetups"] == "1 held, attendance rate 66.7%; the week before: 1 held, 50.0%"
    assert facts["First-timers"] == "2"
    assert facts["Top post"] == f"\u201c{POST_TITLE}\u201d, 3 views (4 blog views in all)"
    assert message.link == (f"https://pulse.example.org/city/testville?range=custom&from={WEEK_START}"
                            f"&to={WEEK_END}&period=week")
    # For Slack every piece of text is escaped: a title cannot mention, link or format.
    content = notices.slack_content(message)
    everything = content["text"] + str(content["blocks"])
    assert "Post &lt;one&gt; &amp; co" in everything and "Next &lt;i&gt;one&lt;/i&gt;" in everything
    assert "<one>" not in everything and "<i>" not in everything
    assert f"<{message.link}|Testville on the dashboards>" in str(content["blocks"])


def test_dry_run_prints_the_digest_and_sends_nothing(site, slack):
    _, path = site
    result = subprocess.run(pulse_command("--config", str(path), "digest", "--dry-run"), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"testville week {WEEK_START}..{WEEK_END}: would send (to #leads)" in result.stdout
    assert "    Members: 4 at the end of the week, net +1" in result.stdout
    # A week with nothing in it has no digest.
    assert f"emptyville week {WEEK_START}..{WEEK_END}: no data" in result.stdout
    assert slack.posts == [] and not any(r.path.endswith("chat.postMessage") for r in slack.requests)
    with notices.Notices(site[0]) as store:
        assert store.all() == []


def _digest(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(pulse_command("--config", str(path), "digest", *extra), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("taken", [True, False], ids=["killed-after-slack-took-it", "killed-before"])
def test_a_digest_goes_once_across_two_runs_and_a_sigkill(site, slack, taken):
    config, path = site
    slack.delay(30.0, process=taken)  # Slack takes the message (or not) and answers only in 30 s ...
    child = subprocess.Popen(pulse_command("--config", str(path), "digest"), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env={**os.environ})
    try:
        def arrived():
            return any(r.path.endswith("chat.postMessage") for r in slack.requests)

        deadline = time.monotonic() + 60
        while not arrived() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert arrived(), child.stderr.read().decode() if child.poll() is not None else "no call"
    finally:
        os.kill(child.pid, signal.SIGKILL)  # ... and the sender dies before it hears back
        child.wait(timeout=10)
    key = f"digest:week:testville:{WEEK_START.isoformat()}"
    with notices.Notices(config) as store:
        assert store.get(key).state == "sending"
    assert len(slack.posts) == (1 if taken else 0)

    second = _digest(path)
    assert second.returncode == 0, second.stdout + second.stderr
    expected = "found in Slack #leads by its marker" if taken else "sent"
    assert f"testville week {WEEK_START}..{WEEK_END}: sent" in second.stdout and expected in second.stdout
    third = _digest(path)
    assert f"testville week {WEEK_START}..{WEEK_END}: already sent" in third.stdout
    assert len(slack.posts) == 1  # exactly once, whatever happened
    with notices.Notices(config) as store:
        sent = store.get(key)
    assert sent.state == "sent" and sent.external_id == f"C0LEADS/{slack.posts[0]['ts']}"
    assert slack.posts[0]["channel"] == "C0LEADS"
    assert slack.posts[0]["metadata"]["event_payload"]["marker"] == sent.marker
    # Nothing went for the week with no data.
    assert "emptyville" not in str(slack.posts)


def test_the_digest_job_waits_for_its_day_and_time(site, slack):
    config, _ = site
    monday = dt.datetime.combine(WEEK_END + dt.timedelta(days=1), dt.time(8, 59), tzinfo=SYDNEY)
    assert run_digests(config, now=monday).results == []  # 08:59 on Monday: not yet
    friday = config.replace(digests=config.digests.model_copy(update={"day": "fri"}))
    assert run_digests(friday, now=monday + dt.timedelta(minutes=1)).results == []
    due = run_digests(config, now=monday + dt.timedelta(minutes=1))
    assert [(r.city, r.state) for r in due.results] == [("emptyville", "no data"), ("testville", "sent")]
    assert len(slack.posts) == 1
    again = run_digests(config, now=monday + dt.timedelta(hours=5))
    assert [r.state for r in again.results] == ["no data", "already sent"] and len(slack.posts) == 1


def _city_page(config, clock):
    people = People(config)
    if people.get("admin@example.org") is None:
        people.add("admin@example.org", "admin", password=ADMIN_PASSWORD)
    app = create_app(config, secret_key=SECRET, clock=clock)
    return sign_in(app, "admin@example.org", ADMIN_PASSWORD)


def test_an_alert_is_posted_once_and_shown_until_it_clears(tmp_path, slack):
    exports = tmp_path / "exports"
    write_lines(exports / "a.ndjson", week_events())
    raw = raw_config(tmp_path, slack, sources={"exports": {"kind": "files", "path": str(exports), "settle_seconds": 0}},
                     alerts={"all": {"attendance_rate_below": 70}})
    path = tmp_path / "pulse.toml"
    path.write_text(toml(raw), encoding="utf-8")
    config = config_module.load(path)

    # The refresh job ingests, builds, publishes, then checks the rules: M1's 66.7% breaches.
    line = refresh_job(config)
    assert "alerts: 1 active, 1 posted" in line
    assert len(slack.posts) == 1 and "Attendance rate 66.7%" in slack.posts[0]["text"]
    assert slack.posts[0]["channel"] == "C0LEADS"
    assert [a.key for a in alerts_module.active_alerts(config)] == ["testville:attendance_rate_below"]
    assert "alerts: 1 active, 0 posted" in refresh_job(config)   # still holds: not posted again
    assert len(slack.posts) == 1
    admin = _city_page(config, lambda: dt.datetime.now(dt.UTC))
    page = admin.get("/city/testville").get_data(as_text=True)
    assert 'id="alerts"' in page and "Attendance rate 66.7% in the week of" in page
    assert 'id="alerts"' not in admin.get("/city/emptyville").get_data(as_text=True)

    # u2 checks in after all: 100%, the alert clears (and says nothing).
    write_lines(exports / "b.ndjson", [ev("m1c2", "event:checked_in", local(2, 19), event_id="M1", user_id="u2")])
    assert "alerts: 0 active, 0 posted" in refresh_job(config)
    assert alerts_module.active_alerts(config) == [] and len(slack.posts) == 1
    with notices.Notices(config) as store:
        [breach] = store.breaches()
        assert breach["key"] == "testville:attendance_rate_below" and breach["cleared_at"] is not None
    admin = _city_page(config, lambda: dt.datetime.now(dt.UTC))
    assert 'id="alerts"' not in admin.get("/city/testville").get_data(as_text=True)

    # Two more going who do not come: 60%, a new breach, posted once more.
    write_lines(exports / "c.ndjson", [ev(f"m1r{u}", "event:rsvp", local(-1), event_id="M1", user_id=u, status="going")
                                       for u in ("u10", "u11")])
    assert "alerts: 1 active, 1 posted" in refresh_job(config)
    assert len(slack.posts) == 2 and "Attendance rate 60.0%" in slack.posts[1]["text"]
    with notices.Notices(config) as store:
        assert [b["cleared_at"] is None for b in store.breaches()] == [False, True]


def test_source_alerts_lag_and_rejects(tmp_path, slack, make_config):
    exports = tmp_path / "exports"
    write_lines(exports / "a.ndjson", week_events()[:3] + ["{not json"] * 1)
    config = make_config(sources={"exports": {"kind": "files", "path": str(exports), "settle_seconds": 0}},
                         alerts={"all": {"reject_rate_above": 20}, "cities": {"testville": {"source_lag_hours": 1}}})
    pipeline.refresh(config)
    now = dt.datetime.now(dt.UTC)
    keys = {a.key for a in alerts_module.active_alerts(config, now)}
    # One of 4 records rejected: 25% > 20%, for every city; the lag rule only for Testville.
    assert keys == {"testville:reject_rate:exports", "emptyville:reject_rate:exports"}
    later = {a.key: a for a in alerts_module.active_alerts(config, now + dt.timedelta(hours=2))}
    assert "testville:source_lag:exports" in later and "emptyville:source_lag:exports" not in later
    assert later["testville:source_lag:exports"].title.startswith("Source exports last completed a pull")
    # No rule, no alert.
    quiet = config.replace(alerts=config.alerts.model_copy(update={"all": config.alerts.all.model_copy(
        update={"reject_rate_above": None}), "cities": {}}))
    assert alerts_module.active_alerts(quiet, now + dt.timedelta(days=30)) == []


def test_a_throttled_notice_waits_for_slack_and_is_not_an_attempt(tmp_path, slack):
    # One attempt allowed: were Slack's 429s attempts, the notice would fail at the first.
    raw = raw_config(tmp_path, slack)
    raw["publisher"]["max_attempts"] = 1
    path = tmp_path / "pulse.toml"
    path.write_text(toml(raw), encoding="utf-8")
    config = config_module.load(path)
    slack.fail(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "0"}, times=2)
    waits: list[float] = []
    outgoing = notices.Outgoing("digest:testville:w1", "testville", "digest", {"text": "Hello, leads", "blocks": []})

    [outcome] = notices.send(config, [outgoing], sleep=waits.append)

    assert (outcome.state, waits) == ("sent", [0.0, 0.0])   # Slack's own wait (0 s), twice
    assert [post["text"] for post in slack.posts] == ["Hello, leads"]
    with notices.Notices(config) as store:
        assert store.get(outgoing.key).attempts == 1
    assert notices.send(config, [outgoing], sleep=waits.append)[0].state == "already sent"
