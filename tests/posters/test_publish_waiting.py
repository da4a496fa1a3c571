"""Nothing is left stuck or unsaid: throttling waits (never fails), every run says what waits for
a person and exits 1 while a post is failed or needs attention, accounts are named as their API
names them, long runs show progress, and user text reaches the terminal escaped."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from posters.publisher import Publisher
from posters.store import PostStore, iso
from pulse.cli import main
from pulse.people import People
from tests.support.posters import channels, city_event, config_file, load, meetup_events

NOW = dt.datetime.now(dt.UTC)


def one_meetup(config, tmp_path, event_id="m1", **kwargs):
    kwargs.setdefault("created", NOW - dt.timedelta(hours=1))
    kwargs.setdefault("starts", NOW + dt.timedelta(days=5))
    load(config, tmp_path, [city_event()] + meetup_events(event_id, **kwargs))


def posts_sent(server) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


@pytest.mark.parametrize("kind,throttle", [
    ("x", lambda s: s.rate_limit(reset_in=3600)),             # 429 with x-rate-limit-reset
    ("facebook", lambda s: s.rate_limit(retry_after=3600)),   # 429, Graph code 32, Retry-After
    ("facebook", lambda s: s.app_limit(minutes=60)),          # HTTP 400, Graph code 4, usage header only
])
def test_five_throttled_runs_leave_the_post_waiting_and_it_goes_out_when_the_limit_lifts(
        make_config, servers, secrets_env, tmp_path, kind, throttle):
    config = make_config(**channels(servers, kinds=(kind,)))  # max_attempts = 4
    one_meetup(config, tmp_path, title="Throttled")
    one_meetup(config, tmp_path, event_id="m2", title="Behind it")
    server = servers[kind]
    for run in range(5):
        throttle(server)
        clock = NOW + dt.timedelta(hours=2 * run)
        report = Publisher(config, now=lambda clock=clock: clock).run()
        assert [o.state for o in report.outcomes] == ["throttled", "throttled"], report.outcomes
        assert not report.needs_a_person and report.waiting == []
        # The post behind it is held with it, without a request of its own.
        assert posts_sent(server) == run + 1
        with PostStore(config) as store:
            for post in store.find():
                assert post.state == "scheduled" and post.attempts == 0
                assert post.not_before >= iso(clock + dt.timedelta(minutes=59))
    # Before the reset nothing is tried; after it both go out.
    assert Publisher(config, now=lambda: clock + dt.timedelta(minutes=30)).run().outcomes == []
    assert posts_sent(server) == 5
    report = Publisher(config, now=lambda: clock + dt.timedelta(hours=2)).run()
    assert report.count("published") == 2 and len(server.posts) == 2


def test_accounts_are_named_as_their_apis_name_them_and_asked_once(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert sorted(o.where for o in report.outcomes) == [
        "Facebook Page “Sydney Python” (sydney)", "Slack #meetups (sydney)", "X @pulse_sydney (sydney)"]
    asked = [r.path for k in ("x", "facebook") for r in servers[k].requests if r.method == "GET"]
    assert asked == ["/2/users/me", "/v21.0/1122334455"]
    one_meetup(config, tmp_path, event_id="m2", title="Another")
    again = Publisher(config).run()
    assert "X @pulse_sydney (sydney)" in [o.where for o in again.outcomes]
    assert [r.path for k in ("x", "facebook") for r in servers[k].requests if r.method == "GET"] == asked


def test_a_long_run_says_how_long_and_reports_each_post_as_it_goes(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("x",), rate=2))  # X's default: 2 a minute
    for n in range(3):
        one_meetup(config, tmp_path, event_id=f"m{n}", title=f"Meetup {n}")
    lines, slept = [], []
    report = Publisher(config, say=lines.append, sleep=slept.append).run()
    assert report.count("published") == 3
    assert lines[0] == ("3 posts due, about 1 minute at the channels' rate limits: "
                        "X @pulse_sydney 3 (2 a minute: about 1 minute)")
    assert [line.split(" ", 1)[0] for line in lines[1:]] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(": published (https://x.com/i/web/status/" in line for line in lines[1:])
    # Spaced 30 s apart from the first (this sleep passes no time, so the third waits 60 s).
    assert slept == [pytest.approx(30, abs=1), pytest.approx(60, abs=1)]


def test_drafts_of_started_meetups_are_withdrawn_and_wait_for_no_one(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, mode="approval"))
    one_meetup(config, tmp_path, starts=NOW + dt.timedelta(hours=3))
    assert Publisher(config).run().pending_approval == {"sydney": 3}
    later = Publisher(config, now=lambda: NOW + dt.timedelta(hours=4)).run()
    assert later.withdrawn_started == 3 and later.pending_approval == {} and not later.needs_a_person
    with PostStore(config) as store:
        assert {p.state for p in store.find()} == {"withdrawn"}


# -- the CLI -----------------------------------------------------------------------------------

@pytest.fixture
def cli_setup(servers, secrets_env, tmp_path):
    config, _ = config_file(tmp_path, channels(servers))
    people = People(config)
    people.add("org@sydney.example", "organiser", ["sydney"])
    people.add("org@perth.example", "organiser", ["perth"])
    return config


def cli(config, *args):
    return CliRunner().invoke(main, ["--config", str(config.path), *args])


def test_every_publish_says_what_waits_and_exits_1_until_it_is_retried(cli_setup, servers, tmp_path):
    config = cli_setup
    servers["x"].fail_auth()
    one_meetup(config, tmp_path, title="Auth trouble")
    first = cli(config, "publish")
    assert first.exit_code == 1, first.output
    with PostStore(config) as store:
        x_post = store.find(channel="x")[0]
    assert x_post.state == "failed"
    assert "published 2, failed 1, needs attention 0" in first.output
    # A later run, with nothing new, still says it and still exits 1.
    second = cli(config, "publish")
    assert second.exit_code == 1
    assert "waiting for a person: 1 post" in second.output
    assert f"post {x_post.id} -> X " in second.output and "of “Auth trouble”: X: 401 Unauthorized" in second.output
    assert f"`pulse posts retry {x_post.id}`" in second.output
    refused = cli(config, "posts", "retry", str(x_post.id), "--as", "org@perth.example")
    assert refused.exit_code == 1 and "not an organiser of sydney" in refused.output
    retried = cli(config, "posts", "retry", str(x_post.id), "--as", "org@sydney.example")
    assert retried.exit_code == 0 and f"post {x_post.id}: scheduled" in retried.output
    third = cli(config, "publish")
    assert third.exit_code == 0, third.output
    assert "waiting for a person" not in third.output and len(servers["x"].posts) == 1
    with PostStore(config) as store:
        post = store.get(x_post.id)
        assert post.state == "published" and post.last_error is None
        assert [a.actor for a in store.audit(x_post.id) if a.action == "retry"] == ["org@sydney.example (cli)"]


def test_resolve_checks_who_and_clears_the_error(cli_setup, servers, tmp_path):
    config = cli_setup
    servers["facebook"].delay(3.0, process=True)
    one_meetup(config, tmp_path)
    assert cli(config, "publish").exit_code == 1
    with PostStore(config) as store:
        fb = store.find(channel="facebook")[0]
    assert fb.state == "needs_attention" and fb.last_error
    url = f"https://www.facebook.com/{servers['facebook'].posts[0]['id']}"
    nobody = cli(config, "posts", "resolve", str(fb.id), "--published", url, "--as", "someone@else.example")
    assert nobody.exit_code == 1 and "not a Pulse user" in nobody.output
    other = cli(config, "posts", "resolve", str(fb.id), "--published", url, "--as", "org@perth.example")
    assert other.exit_code == 1 and "not an organiser of sydney" in other.output
    done = cli(config, "posts", "resolve", str(fb.id), "--published", url, "--as", "org@sydney.example")
    assert done.exit_code == 0, done.output
    with PostStore(config) as store:
        post = store.get(fb.id)
        assert post.state == "published" and post.last_error is None
        assert store.audit(fb.id)[-1].actor == "org@sydney.example (cli)"
    assert cli(config, "publish").exit_code == 0


HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31mRed\u202eevil"


def test_terminal_escapes_in_titles_are_shown_escaped(cli_setup, servers, tmp_path):
    config = cli_setup
    one_meetup(config, tmp_path, title=HOSTILE, venue="Hall\x1b[5m")
    outputs = {"list": cli(config, "posts", "list"), "dry-run": cli(config, "publish", "--dry-run")}
    with PostStore(config) as store:
        post_id = store.find(channel="x")[0].id
    outputs["show"] = cli(config, "posts", "show", str(post_id))
    outputs["table"] = cli(config, "posts", "list", "--format", "table")
    servers["x"].fail_auth()  # so that the run names the meetup, in what waits for a person
    outputs["publish"] = cli(config, "publish")
    for name, result in outputs.items():
        assert result.exit_code == (1 if name == "publish" else 0), (name, result.output)
        assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output, name
    for name in ("list", "dry-run", "show", "table", "publish"):
        assert "\\x1b]0;owned\\x07" in outputs[name].output, name
    assert "\\u202eevil" in outputs["show"].output
