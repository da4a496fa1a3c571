"""The publisher with the real slack-sdk, tweepy and facebook-sdk clients against local fake APIs."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pulse.core.egress import EgressRefused, check_url, guarded_session
from pulse.core.config import ConfigError
from posters.publisher import Publisher
from posters.store import PostStore
from tests.support.posters import channels, city_event, load, meetup_events

NOW = dt.datetime.now(dt.UTC)


def one_meetup(config, tmp_path, event_id="m1", **kwargs):
    kwargs.setdefault("created", NOW - dt.timedelta(hours=1))
    kwargs.setdefault("starts", NOW + dt.timedelta(days=5))
    load(config, tmp_path, [city_event()] + meetup_events(event_id, **kwargs))


def states(config) -> dict[str, str]:
    with PostStore(config) as store:
        return {p.channel: p.state for p in store.find(kind="announce")}


def test_auto_mode_publishes_once_on_each_channel(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    one_meetup(config, tmp_path, title="Rust & <b>Go</b> <!channel>")
    report = Publisher(config).run()
    assert report.count("published") == 3
    assert [len(servers[k].posts) for k in ("slack", "x", "facebook")] == [1, 1, 1]
    slack = servers["slack"].posts[0]
    # User text is escaped for Slack's markup: no @channel, no forged tags.
    assert "Rust &amp; &lt;b&gt;Go&lt;/b&gt; &lt;!channel&gt;" in slack["text"]
    assert slack["blocks"][0]["text"]["text"] == slack["text"]
    assert slack["metadata"]["event_type"] == "pulse_post"
    assert servers["x"].posts[0]["text"].startswith("Rust & <b>Go</b> <!channel>\n")
    fb = servers["facebook"].posts[0]
    assert fb["link"] == "https://platform.example.com/e/m1" and "Rust & <b>Go</b>" in fb["message"]
    assert servers["facebook"].versions == ["v21.0"]  # the configured Graph version, not facebook-sdk's 3.1
    # The city's local time (Sydney), not UTC.
    local = (NOW + dt.timedelta(days=5)).astimezone(__import__("zoneinfo").ZoneInfo("Australia/Sydney"))
    assert f"{local:%H:%M} {local.tzname()}" in servers["x"].posts[0]["text"]
    # A second run sends nothing more.
    again = Publisher(config).run()
    assert again.outcomes == [] and [len(servers[k].posts) for k in ("slack", "x", "facebook")] == [1, 1, 1]
    with PostStore(config) as store:
        post = store.find(channel="x")[0]
        assert post.external_id == servers["x"].posts[0]["id"]
        assert [a.new_state for a in store.audit(post.id)] == ["scheduled", "publishing", "published"]


def test_approval_mode_waits_for_approval(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, mode="approval"))
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes == [] and not any(servers[k].posts for k in servers)
    assert set(states(config).values()) == {"pending_approval"}


def test_days_before_waits_until_then(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, post="days_before:3"))
    one_meetup(config, tmp_path, starts=NOW + dt.timedelta(days=10))
    assert Publisher(config).run().outcomes == []
    later = Publisher(config, now=lambda: NOW + dt.timedelta(days=7, minutes=1)).run()
    assert later.count("published") == 3


def test_retries_429_and_5xx_then_publishes(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    servers["slack"].rate_limit(retry_after=1)
    servers["x"].rate_limit(reset_in=1)
    servers["x"].fail(503, {"title": "Service Unavailable", "status": 503, "detail": "Service Unavailable"})
    servers["facebook"].server_error()
    servers["facebook"].rate_limit(retry_after=1)
    one_meetup(config, tmp_path)
    started = time.monotonic()
    report = Publisher(config).run()
    assert report.count("published") == 3, report.outcomes
    assert [len(servers[k].posts) for k in ("slack", "x", "facebook")] == [1, 1, 1]
    assert time.monotonic() - started >= 0.9  # Retry-After was honoured
    with PostStore(config) as store:
        attempts = {p.channel: p.attempts for p in store.find()}
    # Throttling is never an attempt: only the 503 and the 500 counted.
    assert attempts == {"slack": 1, "x": 2, "facebook": 2}


@pytest.mark.parametrize("channel,script,message", [
    ("slack", lambda s: s.fail_auth(), "invalid_auth"),
    ("x", lambda s: s.fail_auth(), "401 Unauthorized"),
    ("x", lambda s: s.duplicate(), "duplicate content"),
    ("facebook", lambda s: s.fail_auth(), "Error validating access token"),
])
def test_permanent_errors_fail_at_once_and_hold_back_nothing(make_config, servers, secrets_env, tmp_path,
                                                              channel, script, message):
    config = make_config(**channels(servers))
    script(servers[channel])
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    failed = [o for o in report.outcomes if o.state == "failed"]
    assert len(failed) == 1 and message in failed[0].detail
    assert report.count("published") == 2  # the other channels went out
    with PostStore(config) as store:
        post = store.find(channel=channel)[0]
        assert post.state == "failed" and post.attempts == 1 and message in post.last_error
    assert sum(1 for r in servers[channel].requests if r.method == "POST") == 1


def test_gives_up_after_max_attempts(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("facebook",)))
    for _ in range(4):
        servers["facebook"].server_error()
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes[0].state == "failed" and "gave up after 4 attempts" in report.outcomes[0].detail
    assert servers["facebook"].posts == []


def test_unknown_outcome_slack_settled_by_marker(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("slack",)))
    servers["slack"].delay(3.0, process=True)  # taken, but the answer comes after the 2 s timeout
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes[0].state == "published"
    assert len(servers["slack"].posts) == 1
    with PostStore(config) as store:
        post = store.find()[0]
        assert post.external_id == f"C0MEETUPS/{servers['slack'].posts[0]['ts']}"


def test_unknown_outcome_slack_not_taken_is_sent_again(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("slack",)))
    servers["slack"].delay(3.0, process=False)
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes[0].state == "published" and len(servers["slack"].posts) == 1


def test_unknown_outcome_x_retry_meets_duplicate_needs_attention(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("x",)))
    servers["x"].delay(3.0, process=True)
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes[0].state == "needs_attention"
    assert "most likely went out" in report.outcomes[0].detail
    assert len(servers["x"].posts) == 1


def test_unknown_outcome_facebook_needs_attention_without_resend(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("facebook",)))
    servers["facebook"].delay(3.0, process=True)
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.outcomes[0].state == "needs_attention"
    assert sum(1 for r in servers["facebook"].requests if r.method == "POST") == 1


def test_rate_limit_spaces_posts_per_account(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("x",), rate=120))  # one every 0.5 s
    for i in range(4):
        one_meetup(config, tmp_path, event_id=f"r{i}", title=f"Meetup {i}")
    started = time.monotonic()
    report = Publisher(config).run()
    elapsed = time.monotonic() - started
    assert report.count("published") == 4
    assert elapsed >= 1.5  # 4 posts at 2/s: three gaps of 0.5 s


def test_egress_allowlist_refuses_other_hosts_before_connecting(make_config, servers, secrets_env, tmp_path):
    with pytest.raises(EgressRefused):
        check_url("https://evil.example.com/api/")
    check_url("https://slack.com/api/")
    check_url("https://api.twitter.com/2/tweets")
    with pytest.raises(EgressRefused):
        check_url("https://slack.com.evil.example/api/")
    # 127.0.0.1 is allowed only because the test config lists it.
    raw = channels(servers)
    raw["publisher"]["allow_hosts_for_tests"] = []
    config = make_config(**raw)
    one_meetup(config, tmp_path)
    with pytest.raises(ConfigError, match=r"cities\.sydney\.channels\.slack\.base_url: refused to connect to '127\.0\.0\.1'"):
        Publisher(config).run()
    # And the transport adapter itself refuses before connecting, whatever asks it.
    session = guarded_session(timeout=1.0)
    with pytest.raises(EgressRefused):
        session.post(servers["x"].url + "/2/tweets", json={"text": "hi"})
    assert not any(servers[k].requests for k in servers)


def test_dry_run_prints_and_sends_nothing(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    one_meetup(config, tmp_path, title="Dry run night")
    report = Publisher(config).run(dry_run=True)
    assert {o.state for o in report.outcomes} == {"would publish"} and len(report.outcomes) == 3
    assert all("Dry run night" in o.detail for o in report.outcomes)
    assert not any(servers[k].requests for k in servers)
    assert set(states(config).values()) == {"scheduled"}


def test_started_meetups_are_never_posted(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, mode="approval"))
    one_meetup(config, tmp_path, starts=NOW + dt.timedelta(hours=2))
    with PostStore(config) as store:
        from posters.planner import sync
        sync(config, store, NOW)
        with store.transaction() as con:
            for post in store.find():
                store.change(con, post.id, actor="t", action="approve", state="approved")
    report = Publisher(config, now=lambda: NOW + dt.timedelta(hours=3)).run()
    assert {o.state for o in report.outcomes} == {"withdrawn"}
    assert not any(servers[k].posts for k in servers)
