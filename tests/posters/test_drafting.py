"""Drafts: templates, escaping, X fitting; and how updates and cancellations change them."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from twitter_text import parse_tweet

from posters import drafts, x_length
from posters.publisher import Publisher
from posters.store import PostStore
from posters.channels import ChannelSettings, kind_of
from pulse.core.config import ConfigError, from_dict
from tests.support.records import envelope
from tests.support.posters import channels, city_event, load, meetup_events, utc

NOW = dt.datetime.now(dt.UTC)
STARTS = dt.datetime(2026, 12, 5, 7, 30, tzinfo=dt.UTC)  # 18:30 in Sydney (AEDT, +11)


def meetup(**kwargs) -> drafts.Meetup:
    values = dict(city="sydney", event_id="m1", title="Python Meetup", starts_at=STARTS, created_at=STARTS,
                  timezone="Australia/Sydney", city_name="Sydney", venue="Level 3", url="https://p.example.com/e/1")
    values.update(kwargs)
    return drafts.Meetup(**values)


SECRETS = {"slack": {"channel": "#m", "token_env": "T"},
           "x": {"api_key_env": "A", "api_secret_env": "B", "access_token_env": "C", "access_secret_env": "D"},
           "facebook": {"page_id": "1", "page_token_env": "P"}}


def channel(kind="x", **kwargs) -> ChannelSettings:
    return kind_of(kind).settings(city="sydney", kind=kind, **{**SECRETS[kind], **kwargs})


def test_local_date_and_time_and_empty_lines_dropped():
    text, content = drafts.draft(channel(), "announce", meetup(venue=""))
    assert text == "Python Meetup\n🗓 Sat 5 Dec 2026, 18:30 AEDT\nhttps://p.example.com/e/1"
    assert content == {"text": text}


def test_x_title_shortened_link_kept():
    long_title = "超長いタイトル" * 40 + " 🎉"
    text, _ = drafts.draft(channel(), "announce", meetup(title=long_title))
    assert x_length.weighted_length(text) <= 280
    first = text.split("\n")[0]
    assert first.endswith("…") and long_title.startswith(first[:-1])
    assert text.endswith("\nhttps://p.example.com/e/1")
    # Not shorter than needed: one more unit of the title would not fit.
    one_more = x_length.shorten(long_title, x_length.unit_count(first[:-1]) + 1)
    assert x_length.weighted_length(text.replace(first, one_more)) > 280


def test_x_long_venue_keeps_the_title():
    venue = "Level 3, Harbour Conference Centre, " + "Grand Ballroom East Wing " * 20
    text, _ = drafts.draft(channel(), "announce", meetup(title="Python Meetup: async in practice", venue=venue))
    lines = text.split("\n")
    assert lines[0] == "Python Meetup: async in practice"  # was "…" before issue 13
    assert lines[2].startswith("📍 Level 3, Harbour") and lines[2].endswith("…")
    assert lines[-1] == "https://p.example.com/e/1"
    assert parse_tweet(text).valid and parse_tweet(text).weightedLength <= 280


def test_x_long_title_and_venue_both_keep_their_start():
    title, venue = "Rust and Python " * 30, "Level 3, Harbour Conference Centre " * 10
    text, _ = drafts.draft(channel(), "announce", meetup(title=title, venue=venue))
    first, venue_line = text.split("\n")[0], text.split("\n")[2]
    assert first.endswith("…") and title.startswith(first[:-1]) and x_length.unit_count(first[:-1]) >= 20
    assert venue_line == "📍 " + x_length.shorten(venue, 20)  # cut to its first 20 before the title is cut
    assert parse_tweet(text).weightedLength <= 280 and text.endswith("\nhttps://p.example.com/e/1")


def test_x_a_short_title_is_never_cut():
    # The title keeps 20 units or all of it; a template that leaves no room for that is an error.
    with pytest.raises(drafts.DraftError, match="the title cut to its first 20"):
        drafts.draft(channel(template="{title} " + "x" * 270 + " {url}"), "announce", meetup(title="Python Meetup"))
    # With no room for 20 units of the venue, the venue is cut further; the short title stays whole.
    text, _ = drafts.draft(channel(template="{title} " + "x" * 260 + "{venue}"), "announce",
                           meetup(title="Python Meetup", venue="A venue with quite a long name"))
    assert text == "Python Meetup " + "x" * 260 + "A ve…" and x_length.weighted_length(text) == 280


TITLES = {
    "letters": "x" * 100_000,
    "dots": "a." * 50_000,
    "CJK": "字" * 100_000,
    "emoji": "🎉" * 100_000,
    "words and links": ("Meetup at https://example.com/e/1 and x.ai, see README.md 東京 🎉 " * 2_000)[:100_000],
}


@pytest.mark.parametrize("shape", TITLES)
def test_x_title_of_100_000_characters(shape):
    title = TITLES[shape]
    x_length.weighted_length("twitter-text-parser is loaded on first use: before the clock starts")
    start = time.process_time()
    text, content = drafts.draft(channel(), "announce", meetup(title=title))
    assert time.process_time() - start < 0.5
    assert parse_tweet(text).valid and parse_tweet(text).weightedLength <= 280  # by the library's own count
    first = text.split("\n")[0]
    assert first.endswith("…") and x_length.unit_count(first[:-1]) >= 20
    assert title.startswith(first[:-1].rstrip()) and text.endswith("\nhttps://p.example.com/e/1")
    assert content == {"text": text}


def test_characters_x_refuses_are_dropped_for_every_channel():
    # X refuses U+FFFE, U+FEFF and U+FFFF outright; a meetup prepared for drafting has none, so
    # every channel says the same words (the X draft drops them even unprepared).
    title = "Py\ufeffthon\ufffe Meetup\uffff"
    x_text, _ = drafts.draft(channel(), "announce", meetup(title=title))
    assert x_text.startswith("Python Meetup\n") and x_length.is_valid(x_text)
    prepared, _ = drafts.prepare(meetup(title=title))
    assert prepared.title == "Python Meetup"
    slack_text, _ = drafts.draft(channel("slack", channel="#m", token_env="T"), "announce", prepared)
    facebook_text, _ = drafts.draft(channel("facebook", page_id="1", page_token_env="P"), "announce", prepared)
    assert slack_text.startswith("*Python Meetup*") and facebook_text.startswith("Python Meetup\n")


def test_edit_for_x_is_measured_as_x_counts():
    assert drafts.edited("x", {}, "New words https://platform.example.com/e/m1") == (
        "New words https://platform.example.com/e/m1", {"text": "New words https://platform.example.com/e/m1"})
    with pytest.raises(drafts.DraftError, match="282 of 280"):
        drafts.edited("x", {}, "字" * 141)
    with pytest.raises(drafts.DraftError, match="invalid characters"):
        drafts.edited("x", {}, "Hello\ufeff")
    with pytest.raises(drafts.DraftError, match=r"cannot tell how long X counts 'https://example.com/aaa.*612 characters"):
        drafts.edited("x", {}, "see https://example.com/" + "a" * 592 + " now")


def test_edit_for_x_over_10_000_characters_is_refused_before_measuring(monkeypatch):
    monkeypatch.setattr(x_length, "measure", lambda text: pytest.fail("measured"))
    for text in ("a." * 50_000, "x" * 10_001):
        start = time.process_time()
        with pytest.raises(drafts.DraftError, match=r"too long for X: [\d,]+ characters, it takes at most 10,000"):
            drafts.edited("x", {}, text)
        assert time.process_time() - start < 0.01


def test_slack_escapes_user_text_and_has_fallback():
    text, content = drafts.draft(channel("slack", channel="#m", token_env="T"), "announce",
                                 meetup(title="<@U123> & <!here> <https://evil|click>"))
    assert "&lt;@U123&gt; &amp; &lt;!here&gt; &lt;https://evil|click&gt;" in text
    assert content["text"] == text and content["blocks"][0]["text"] == {"type": "mrkdwn", "text": text}


def test_facebook_message_plus_link():
    text, content = drafts.draft(channel("facebook", page_id="1", page_token_env="P"), "announce", meetup())
    assert content == {"message": text, "link": "https://p.example.com/e/1"} and "https://" not in text


def test_custom_template_cannot_run_code():
    with pytest.raises(ConfigError, match=r"cities\.sydney\.channels\.x\.template: unknown placeholder \{title\.__class__\}"):
        from_dict({"cities": {"sydney": {"channels": {"x": {
            "api_key_env": "A", "api_secret_env": "B", "access_token_env": "C", "access_secret_env": "D",
            "template": "{title.__class__}"}}}}})
    text, _ = drafts.draft(channel(template="{{literal}} {title} at {venue} in {city_name}"), "announce", meetup())
    assert text == "{literal} Python Meetup at Level 3 in Sydney"


# -- changes and cancellations ---------------------------------------------------------------

def updated(event_id, *, time, **data):
    return envelope(f"u-{event_id}-{time}", "event:updated", data={"event_id": event_id, **data}, time=time)


def cancelled(event_id, *, time):
    return envelope(f"c-{event_id}-{time}", "event:cancelled", data={"event_id": event_id, "reason": "Venue flooded"},
                    time=time)


def test_change_before_publishing_rerenders_and_needs_approval_again(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, mode="approval", kinds=("x",)))
    starts = NOW + dt.timedelta(days=6)
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=2), starts=starts))
    Publisher(config).run()
    with PostStore(config) as store:
        post = store.find()[0]
        with store.transaction() as con:
            store.change(con, post.id, actor="a@b", action="approve", state="approved", approved_by="a@b")
    load(config, tmp_path, [updated("m1", time=utc(NOW - dt.timedelta(hours=1)), venue="New venue")])
    Publisher(config).run()
    with PostStore(config) as store:
        post = store.get(post.id)
        assert post.state == "pending_approval" and "📍 New venue" in post.text and post.approved_by is None
    assert servers["x"].posts == []


def test_after_publishing_update_and_cancellation_drafts(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("slack", "x")))
    starts = NOW + dt.timedelta(days=6)
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=3), starts=starts))
    assert Publisher(config).run().count("published") == 2
    # A title fix after publishing is followed up too, saying that it is the title.
    load(config, tmp_path, [updated("m1", time=utc(NOW - dt.timedelta(hours=2)), title="Renamed")])
    report = Publisher(config).run()
    assert report.sync.followups == 2 and report.outcomes == []  # updates always need approval
    with PostStore(config) as store:
        x_update = store.find(kind="update", channel="x")[0]
    assert x_update.text.startswith("Update: Renamed\nNew title\n🗓 ") and " now " not in x_update.text
    # Then a new time too: the waiting updates are re-rendered, saying both.
    load(config, tmp_path, [updated("m1", time=utc(NOW - dt.timedelta(hours=1)),
                                    starts_at=utc(starts + dt.timedelta(hours=1)))])
    report = Publisher(config).run()
    assert report.sync.followups == 0 and report.sync.rerendered == 2
    with PostStore(config) as store:
        updates = store.find(kind="update")
        assert {u.state for u in updates} == {"pending_approval"} and len(updates) == 2
        assert all("New title and time" in u.text for u in updates)
        for update in updates:
            with store.transaction() as con:
                store.change(con, update.id, actor="a@b", action="approve", state="approved")
    assert Publisher(config).run().count("published") == 2
    slack_update = servers["slack"].posts[-1]
    assert slack_update["thread_ts"] == servers["slack"].posts[0]["ts"]  # a reply in the announcement's thread
    assert "_New title and time_" in slack_update["text"]
    assert servers["x"].posts[-1]["reply"] == {"in_reply_to_tweet_id": servers["x"].posts[0]["id"]}
    # Cancelled: a cancellation draft per channel, needing approval.
    load(config, tmp_path, [cancelled("m1", time=utc(NOW - dt.timedelta(minutes=5)))])
    report = Publisher(config).run()
    with PostStore(config) as store:
        cancels = store.find(kind="cancel")
        assert len(cancels) == 2 and {c.state for c in cancels} == {"pending_approval"}
        assert all("Venue flooded" in c.text for c in cancels)


def test_a_venue_change_says_new_venue_not_a_new_time(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("x", "facebook")))
    starts = NOW + dt.timedelta(days=6)
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=3), starts=starts))
    Publisher(config).run()
    load(config, tmp_path, [updated("m1", time=utc(NOW - dt.timedelta(hours=1)), venue="The Loft, 2 King St")])
    Publisher(config).run()
    with PostStore(config) as store:
        texts = {p.channel: p.text for p in store.find(kind="update")}
    local = starts.astimezone(__import__("zoneinfo").ZoneInfo("Australia/Sydney"))
    when = f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[local.weekday()]} {local.day} "
    assert texts["x"].split("\n")[:4] == ["Update: Python Meetup", "New venue", texts["x"].split("\n")[2],
                                          "📍 The Loft, 2 King St"]
    assert texts["x"].split("\n")[2].startswith(f"🗓 {when}") and "now" not in texts["x"]
    assert texts["facebook"].split("\n")[1] == "New venue"


def test_cancellation_before_publishing_withdraws(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, mode="approval"))
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=3),
                                                          starts=NOW + dt.timedelta(days=6)))
    Publisher(config).run()
    load(config, tmp_path, [cancelled("m1", time=utc(NOW - dt.timedelta(hours=1)))])
    report = Publisher(config).run()
    assert report.sync.withdrawn == 3 and report.sync.followups == 0
    with PostStore(config) as store:
        assert {p.state for p in store.find()} == {"withdrawn"}
