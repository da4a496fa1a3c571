"""Drafting cannot be held up by one meetup: user text is bounded, drafts are rendered with no
lock held, a meetup that cannot be drafted is retried and reported while the others go on;
links that may not be published are left out; meetups that predate a channel are counted."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

from posters import drafts
from posters.channels import kind_of
from posters.drafts import DraftError
from posters.planner import sync
from posters.publisher import Publisher
from posters.store import PostStore
from tests.support.posters import channels, city_event, load, meetup_events

NOW = dt.datetime.now(dt.UTC)
HUGE = "Night of the very long title " * 3500  # 101,500 characters


def two_cities(servers, **kwargs) -> dict:
    sydney, perth = channels(servers, **kwargs), channels(servers, city="perth", **kwargs)
    sydney["cities"].update(perth["cities"])
    return sydney


def test_a_huge_title_drafts_fast_without_holding_the_posts_file(make_config, servers, secrets_env, tmp_path,
                                                                  monkeypatch):
    config = make_config(**two_cities(servers, mode="approval"))
    load(config, tmp_path, [city_event(), city_event("perth", "Perth", "Australia/Perth")]
         + meetup_events("m_huge", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3), title=HUGE,
                         venue="Hall " * 30_000)
         + meetup_events("m_perth", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         city="perth", title="Perth Python"))
    # While any draft is rendered, another process can take the posts file's write lock at once.
    probes = []
    x_kind = type(kind_of("x"))
    real_draft = x_kind.draft

    def probing_draft(self, settings, post_kind, meetup, changes=""):
        other = sqlite3.connect(config.data_dir / "posts.sqlite", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as error:
            probes.append(str(error))
        finally:
            other.close()
        return real_draft(self, settings, post_kind, meetup, changes)

    monkeypatch.setattr(x_kind, "draft", probing_draft)
    with PostStore(config) as store:
        summary = sync(config, store, NOW)
        posts = store.find()
    assert probes == ["free", "free"]  # one X draft per city, neither under the lock
    assert summary.drafted == 6 and summary.errors == []
    assert {p.city for p in posts} == {"sydney", "perth"}
    huge = [p for p in posts if p.city == "sydney"]
    # Cut to a sane length with an ellipsis before any template saw it.
    assert all(len(p.snapshot["title"]) == 200 and p.snapshot["title"].endswith("…") for p in huge)
    assert all(HUGE.startswith(p.snapshot["title"][:-1].rstrip()) for p in huge)
    assert all(len(p.snapshot["venue"]) <= 200 for p in huge)
    # Drafting the huge meetup on all three channels, from the stream's values, is well under a second.
    meetup = drafts.Meetup(city="sydney", event_id="m", title=HUGE, starts_at=NOW + dt.timedelta(days=3),
                           created_at=NOW, timezone="Australia/Sydney", venue="Hall " * 30_000, description=HUGE,
                           url="https://p.example.com/e/1")
    started = time.perf_counter()
    prepared, _ = drafts.prepare(meetup)
    for channel in config.cities[0].channels:
        drafts.draft(channel, "announce", prepared)
    assert time.perf_counter() - started < 0.5


def test_a_meetup_that_cannot_be_drafted_is_retried_and_reported_and_holds_back_no_other(
        make_config, servers, secrets_env, tmp_path, monkeypatch):
    config = make_config(**channels(servers, mode="approval"))
    load(config, tmp_path, [city_event()]
         + meetup_events("m_broken", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         title="Broken")
         + meetup_events("m_fine", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         title="Fine"))
    x_kind = type(kind_of("x"))
    real_draft = x_kind.draft

    def failing_draft(self, settings, post_kind, meetup, changes=""):
        if meetup.title == "Broken":
            raise DraftError("the template is too long for X")
        return real_draft(self, settings, post_kind, meetup, changes)

    monkeypatch.setattr(x_kind, "draft", failing_draft)
    with PostStore(config) as store:
        first = sync(config, store, NOW)
        assert first.drafted == 5  # all but X's post of the broken meetup
        assert first.errors == ["cities.sydney.channels.x: meetup m_broken could not be drafted: the template is "
                                "too long for X (tried again by every run until it drafts)"]
        assert int(store.meta("last_seq")) > 0  # the position moved on for the rest
        second = sync(config, store, NOW)  # nothing new in the stream: reported again, not lost
        assert second.drafted == 0 and len(second.errors) == 1 and "m_broken" in second.errors[0]
        monkeypatch.setattr(x_kind, "draft", real_draft)  # the template was fixed
        third = sync(config, store, NOW)
        assert third.drafted == 1 and third.errors == []
        assert store.sync_retries() == []
        assert len(store.find(event_id="m_broken")) == 3


def test_links_that_may_not_be_published_are_left_out(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    load(config, tmp_path, [city_event()]
         + meetup_events("m_js", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         title="Script", url="javascript:alert(document.cookie)")
         + meetup_events("m_at", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         title="User info", url="http://slack.com@evil.example/")
         + meetup_events("m_ok", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=3),
                         title="Fine", url="https://platform.example.com/e/ok"))
    report = Publisher(config).run()
    assert report.count("published") == 9
    sent = [p.get("text") or p.get("message") for k in ("slack", "x", "facebook") for p in servers[k].posts]
    assert not any("javascript" in text or "evil.example" in text for text in sent)
    links = {p["message"].split("\n")[0]: p.get("link") for p in servers["facebook"].posts}
    assert links == {"Script": None, "User info": None, "Fine": "https://platform.example.com/e/ok"}
    assert sum("https://platform.example.com/e/ok" in text for text in sent) == 2  # Slack and X
    assert sorted(report.sync.notes) == [
        "meetup m_at: its link 'http://slack.com@evil.example/' is left out of its posts "
        "(it has user info before the host (user@host))",
        "meetup m_js: its link 'javascript:alert(document.cookie)' is left out of its posts (not an http(s):// address)",
    ]


def test_link_rules():
    ok = ["https://platform.example.com/e/1", "http://example.com", "https://例え.jp/パス?q=1#x", "https://h:8443/p"]
    bad = ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "http://slack.com@evil.example/",
           "https://user:pw@example.com/", "//example.com/x", "https://", "https://exa mple.com",
           "https://example.com/\x1b[31m", "ftp://example.com/", "https://h:99999/", "https://e.com/" + "a" * 2000]
    assert [u for u in ok if drafts.link_problem(u)] == []
    assert [u for u in bad if not drafts.link_problem(u)] == []


def test_bounding_never_splits_a_character():
    assert drafts.bound_text("a" * 10, 10) == "a" * 10
    assert drafts.bound_text("a" * 11, 10) == "a" * 9 + "…"
    assert drafts.bound_text("abcdefgh" + "e\u0301" * 3, 10) == "abcdefgh…"  # not between e and its accent
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert drafts.bound_text("abcdef" + family * 3, 10) == "abcdef…"
    assert drafts.bound_text("abcdefg" + "\U0001f1e6\U0001f1fa" * 3, 10) == "abcdefg\U0001f1e6\U0001f1fa…"
    assert drafts.bound_text("title\ufeff\uffff", 10) == "title"  # what X refuses, on every channel


def test_meetups_created_before_the_channel_are_counted_and_posted_once_it_is_enabled_earlier(
        make_config, servers, secrets_env, tmp_path):
    raw = channels(servers, kinds=("x",), enabled_since="")
    config = make_config(**raw)
    load(config, tmp_path, [city_event()] + [e for n in range(3) for e in meetup_events(
        f"old{n}", created=NOW - dt.timedelta(days=2), starts=NOW + dt.timedelta(days=3), title=f"Old {n}")]
         + meetup_events("past", created=NOW - dt.timedelta(days=30), starts=NOW - dt.timedelta(days=20)))
    report = Publisher(config).run()
    assert report.sync.drafted == 0 and servers["x"].posts == []
    (line,) = report.sync.skipped_lines()
    assert line.startswith("cities.sydney.channels.x: 3 upcoming meetups created before this channel was enabled (")
    assert line.endswith(") are not posted; to post them, set enabled_since earlier in [cities.sydney.channels.x]")
    # Enabled earlier in the config: the meetups already read are looked at again, and posted.
    raw["cities"]["sydney"]["channels"]["x"]["enabled_since"] = "2020-01-01T00:00:00Z"
    later = Publisher(make_config(**raw)).run()
    assert later.sync.drafted == 3 and later.count("published") == 3 and later.sync.skipped == {}


def test_characters_x_refuses_reach_no_channel(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=1),
                                                          starts=NOW + dt.timedelta(days=3),
                                                          title="Zero\ufeffwidth \ufffenight\uffff", venue="Hall\ufeff"))
    assert Publisher(config).run().count("published") == 3
    sent = [p.get("text") or p.get("message") for k in ("slack", "x", "facebook") for p in servers[k].posts]
    assert len(sent) == 3 and all("Zerowidth night" in text and "Hall" in text for text in sent)
    assert not any(ch in text for text in sent for ch in "\ufeff\ufffe\uffff")
