"""The HTTP feed source, with the real `requests` client against a real local server."""

from __future__ import annotations

import email.utils
import json
import socket
import time

import pytest

from jobs.ingest.sources.base import SourceError
from jobs.ingest.sources import find
from jobs.ingest.sources.feed import FeedSource
from pulse.core.config import ConfigError, from_dict
from tests.fakes.feed_server import FeedServer, Raw

TOKEN = "tok-3f9a1c-do-not-leak"
ENV = "PULSE_TEST_FEED_TOKEN"


def event(n: int) -> dict:
    return {
        "specversion": "1.0", "id": f"e{n}", "source": "platform/test", "type": "user:joined_city",
        "time": "2026-03-05T09:12:44.120+11:00", "city": "sydney", "data": {"user_id": f"u{n}"},
    }


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.fixture
def feed():
    with FeedServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_source(feed, sleeps):
    def make(url: str | None = None, token: str = TOKEN, **overrides) -> FeedSource:
        settings = dict(token_env=ENV, page_size=2, timeout_seconds=5.0, max_retries=3,
                        sleep=sleeps.append, random=lambda: 0.0)
        settings.update(overrides)
        return FeedSource("platform", url or feed.url, token, **settings)
    return make


def pull(source: FeedSource, position=None) -> list:
    return list(source.batches(position))


def error_of(source: FeedSource, position=None) -> str:
    with pytest.raises(SourceError) as caught:
        pull(source, position)
    message = str(caught.value)
    assert "\n" not in message
    assert TOKEN not in message
    return message


# -- paging, cursors, locations -----------------------------------------------------------------


def test_pages_follow_the_cursor_and_the_first_request_has_no_after(feed, make_source):
    feed.append(*[event(n) for n in range(5)])

    batches = pull(make_source())

    assert [len(b.raws) for b in batches] == [2, 2, 1]
    assert [b.raws for b in batches] == [[compact(event(0)), compact(event(1))],
                                         [compact(event(2)), compact(event(3))], [compact(event(4))]]
    assert [b.locations for b in batches] == [["feed:#0", "feed:#1"], ["feed:c2#0", "feed:c2#1"], ["feed:c4#0"]]
    assert [b.position for b in batches] == [{"cursor": "c2"}, {"cursor": "c4"}, {"cursor": "c5"}]
    assert [b.progress for b in batches] == [(2, None), (4, None), (5, None)]
    # Three pages, then an empty one: caught up.
    assert [r.query for r in feed.requests] == [
        {"limit": "2"}, {"after": "c2", "limit": "2"}, {"after": "c4", "limit": "2"}, {"after": "c5", "limit": "2"},
    ]
    assert all(r.path == "/events" and r.method == "GET" for r in feed.requests)
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in feed.requests)


def test_an_empty_feed_yields_nothing(feed, make_source):
    assert pull(make_source()) == []
    assert [r.query for r in feed.requests] == [{"limit": "2"}]


@pytest.mark.parametrize("base, expected_path", [
    ("", "/events"), ("/", "/events"), ("/api/v1", "/api/v1/events"), ("/api/v1/", "/api/v1/events"),
])
def test_events_is_joined_to_the_base_url_with_one_slash(feed, make_source, base, expected_path):
    feed.append(event(0))
    assert len(pull(make_source(url=feed.url + base))) == 1
    assert {r.path for r in feed.requests} == {expected_path}


def test_resuming_from_a_position_fetches_only_new_events(feed, make_source):
    feed.append(*[event(n) for n in range(3)])
    source = make_source()
    position = pull(source)[-1].position
    assert position == {"cursor": "c3"}

    feed.requests.clear()
    assert pull(source, position) == []  # nothing new
    assert [r.query.get("after") for r in feed.requests] == ["c3"]

    feed.append(event(3), event(4), event(5))
    feed.requests.clear()
    batches = pull(source, position)
    assert [raw for b in batches for raw in b.raws] == [compact(event(n)) for n in (3, 4, 5)]
    assert batches[0].locations == ["feed:c3#0", "feed:c3#1"]
    assert batches[-1].position == {"cursor": "c6"}
    assert [r.query.get("after") for r in feed.requests] == ["c3", "c5", "c6"]


@pytest.mark.parametrize("position", [None, {}, {"cursor": None}, {"cursor": ""}])
def test_a_position_without_a_cursor_starts_from_the_beginning(feed, make_source, position):
    feed.append(event(0))
    pull(make_source(), position)
    assert "after" not in feed.requests[0].query


def test_a_position_that_is_not_an_object_is_an_error(feed, make_source):
    assert "position" in error_of(make_source(), "c3")
    assert feed.requests == []


def test_events_pass_through_as_compact_json_whatever_they_are(feed, make_source):
    values = ["a string", 42, 1.5, None, [1, {"b": 2}], True, {"title": "Café <script>"}]
    feed.append(*values)
    feed.append(
        Raw('{"id": "x", "id": "y", "data": {"k": 1, "k": 2}}'),  # duplicate keys: the first wins
        Raw('{"n": 1.0, "m": 10, "big": 12345678901234567890}'),  # ints and floats as sent
        Raw('"\\u00e9t\\u00e9"'),
    )

    raws = [raw for b in pull(make_source(page_size=4)) for raw in b.raws]

    assert raws[:7] == ['"a string"', "42", "1.5", "null", '[1,{"b":2}]', "true", '{"title":"Café <script>"}']
    assert raws[7:] == ['{"id":"x","data":{"k":1}}', '{"n":1.0,"m":10,"big":12345678901234567890}', '"été"']


def test_a_page_larger_than_asked_for_is_taken_whole(feed, make_source):
    # The server decides the page; the client only asks. Locations still index within the page.
    feed.append(*[event(n) for n in range(3)])
    feed.malformed(json.dumps({"events": [event(0), event(1), event(2)], "next_cursor": "c3"}))
    batches = pull(make_source(page_size=1))
    assert batches[0].locations == ["feed:#0", "feed:#1", "feed:#2"]
    assert batches[0].position == {"cursor": "c3"}


# -- malformed pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("body, complaint", [
    ("<html>Bad gateway</html>", "not JSON"),
    ('{"events": [1, 2', "not JSON"),
    (b'{"events": ["\xff"], "next_cursor": "c1"}', "not JSON"),
    ("", "not JSON"),
    ("[1, 2, 3]", "not an object"),
    ('"events"', "not an object"),
    ('{"next_cursor": "c1"}', "no `events` list"),
    ('{"events": {"a": 1}, "next_cursor": "c1"}', "no `events` list"),
    ('{"events": [1]}', "no string `next_cursor`"),
    ('{"events": [1], "next_cursor": 7}', "no string `next_cursor`"),
    ('{"events": [1], "next_cursor": null}', "no string `next_cursor`"),
])
def test_a_malformed_page_is_a_source_error(feed, make_source, sleeps, body, complaint):
    feed.malformed(body)
    message = error_of(make_source())
    assert message.startswith("feed platform: ")
    assert complaint in message
    assert len(feed.requests) == 1 and sleeps == []


def test_a_malformed_page_later_on_says_which_cursor(feed, make_source):
    feed.append(*[event(n) for n in range(4)])
    feed.serve(1)
    feed.malformed("oops")
    source = make_source()
    batches = []
    with pytest.raises(SourceError, match="after cursor 'c2'"):
        for batch in source.batches(None):
            batches.append(batch)
    assert len(batches) == 1  # the first page was handed over before the error


def test_a_cursor_that_does_not_advance_is_an_error_not_a_loop(feed, make_source):
    feed.malformed('{"events": [1], "next_cursor": "c5"}', times=3)
    assert "did not advance" in error_of(make_source(), {"cursor": "c5"})
    assert len(feed.requests) == 1


def test_an_empty_page_needs_no_cursor(feed, make_source):
    feed.malformed('{"events": []}')
    assert pull(make_source()) == []


# -- retries ------------------------------------------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff(feed, make_source, sleeps):
    feed.append(event(0))
    feed.fail(500)
    feed.fail(503)
    feed.fail(502)

    batches = pull(make_source())

    assert [raw for b in batches for raw in b.raws] == [compact(event(0))]
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(feed.requests) == 5  # 3 failures, the page, the empty page
    assert all("after" not in r.query for r in feed.requests[:4])  # the same page asked again


def test_backoff_has_jitter_and_a_cap(feed, make_source, sleeps):
    feed.fail(500, times=10)
    error_of(make_source(max_retries=9, random=lambda: 0.999))
    assert sleeps[:3] == pytest.approx([0.5 * 1.24975, 1.0 * 1.24975, 2.0 * 1.24975])
    assert max(sleeps) == 60.0
    assert sleeps[-2:] == [60.0, 60.0]


def test_giving_up_after_max_retries_says_what_failed(feed, make_source, sleeps):
    feed.fail(503, body="upstream down", times=10)
    message = error_of(make_source(max_retries=2), {"cursor": "c9"})
    assert message == (
        f"feed platform: GET {feed.url}/events?after=c9&limit=2 failed after 3 attempts: "
        "503 Service Unavailable: upstream down"
    )
    assert len(feed.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_max_retries_zero_means_one_attempt(feed, make_source, sleeps):
    feed.fail(500, times=2)
    assert "after 1 attempts" in error_of(make_source(max_retries=0))
    assert len(feed.requests) == 1 and sleeps == []


def test_429_honours_retry_after_seconds(feed, make_source, sleeps):
    feed.append(event(0))
    feed.fail(429, retry_after="7")
    feed.fail(429, retry_after="1000")  # capped: one wait is at most 5 minutes
    assert len(pull(make_source())) == 1
    assert sleeps == [7.0, 300.0]


def test_429_honours_retry_after_as_an_http_date(feed, make_source, sleeps):
    feed.append(event(0))
    feed.fail(429, retry_after=email.utils.formatdate(time.time() + 120, usegmt=True))
    feed.fail(429, retry_after=email.utils.formatdate(time.time() - 3600, usegmt=True))  # already passed
    assert len(pull(make_source())) == 1
    assert 115 <= sleeps[0] <= 121
    assert sleeps[1] == 0.0


@pytest.mark.parametrize("retry_after", [None, "soon", "-5", "1.5x"])
def test_429_without_a_usable_retry_after_backs_off(feed, make_source, sleeps, retry_after):
    feed.append(event(0))
    feed.fail(429, retry_after=retry_after)
    feed.fail(429, retry_after=retry_after)
    assert len(pull(make_source())) == 1
    assert sleeps == [0.5, 1.0]


def test_429_counts_as_a_retry(feed, make_source, sleeps):
    feed.fail(429, retry_after="3", times=5)
    message = error_of(make_source(max_retries=2))
    assert "failed after 3 attempts: 429 Too Many Requests" in message
    assert sleeps == [3.0, 3.0]


def test_a_timeout_is_retried(feed, make_source, sleeps):
    feed.append(event(0))
    feed.delay(2.0)
    started = time.monotonic()
    batches = pull(make_source(timeout_seconds=0.2))
    assert time.monotonic() - started < 1.5  # it did not wait for the slow answer
    assert len(batches) == 1
    assert sleeps == [0.5]
    assert len(feed.requests) == 3


def test_timeouts_until_giving_up(feed, make_source, sleeps):
    feed.delay(2.0, times=3)
    message = error_of(make_source(timeout_seconds=0.2, max_retries=1))
    assert "failed after 2 attempts" in message and "timed out" in message.lower()
    assert sleeps == [0.5]


def test_connection_errors_are_retried_then_reported(make_source, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on that port now.
    message = error_of(make_source(url=f"http://127.0.0.1:{port}", max_retries=2))
    assert f"GET http://127.0.0.1:{port}/events?limit=2 failed after 3 attempts: ConnectionError" in message
    assert sleeps == [0.5, 1.0]


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status, phrase", [(401, "Unauthorized"), (403, "Forbidden")])
def test_a_refused_token_fails_at_once_naming_the_variable(feed, make_source, sleeps, status, phrase):
    feed.fail(status, body=f"bad token {TOKEN}")
    message = error_of(make_source())
    assert message == f"feed platform refused the token ({status} {phrase}); check the token in ${ENV}"
    assert len(feed.requests) == 1 and sleeps == []


def test_a_wrong_token_is_refused_by_the_server(feed, make_source):
    wrong = "tok-wrong-value"
    message = error_of(make_source(token=wrong))
    assert "401 Unauthorized" in message and ENV in message and wrong not in message
    assert feed.requests[0].headers["Authorization"] == f"Bearer {wrong}"


def test_other_4xx_fail_at_once_with_the_status_and_some_of_the_body(feed, make_source, sleeps):
    feed.fail(400, body="cursor expired; restart from scratch " + "x" * 1000)
    message = error_of(make_source(), {"cursor": "c1"})
    assert message.startswith(f"feed platform: GET {feed.url}/events?after=c1&limit=2 answered 400 Bad Request: "
                              "cursor expired; restart from scratch xxx")
    assert message.count("x") <= 200
    assert len(feed.requests) == 1 and sleeps == []


def test_the_token_is_never_in_a_message_even_when_the_server_echoes_it(feed, make_source):
    feed.fail(404, body=f"no such thing; you sent Authorization: Bearer {TOKEN}")
    assert "***" in error_of(make_source())
    feed.fail(500, body=f"crashed handling Bearer {TOKEN}", times=5)
    error_of(make_source(max_retries=1))


def test_the_token_is_not_in_the_sources_repr(make_source):
    assert TOKEN not in repr(make_source())


# -- configuration ------------------------------------------------------------------------------


def feed_config(tmp_path, url: str, **settings):
    return from_dict({
        "warehouse": {"data_dir": str(tmp_path / "data")},
        "sources": {"platform": {"kind": "feed", "url": url, "token_env": ENV, **settings}},
    }, base_dir=tmp_path)


def test_from_config_reads_the_token_from_the_environment(feed, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, TOKEN)
    feed.append(event(0), event(1), event(2))
    config = feed_config(tmp_path, feed.url + "/", page_size=2, timeout_seconds=3.0, max_retries=0)

    source = FeedSource.from_config(find(config, "platform"))

    assert (source.name, source.kind, source.page_size, source.timeout_seconds, source.max_retries) == \
        ("platform", "feed", 2, 3.0, 0)
    assert [len(b.raws) for b in source.batches(None)] == [2, 1]
    assert feed.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_from_config_without_the_token_variable_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    config = feed_config(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=f"sources.platform.token_env: environment variable {ENV} is not set"):
        FeedSource.from_config(find(config, "platform"))


# -- end to end: ingest from the feed into the warehouse ----------------------------------------


@pytest.fixture
def feed_ingest(feed, tmp_path, monkeypatch):
    """Run an ingest of the fake feed; returns (summary, the requests this run made)."""
    from jobs.ingest.run import ingest

    monkeypatch.setenv(ENV, TOKEN)

    def run(**settings):
        config = feed_config(tmp_path, feed.url, **{"page_size": 2, **settings})
        before = len(feed.requests)
        summary = ingest(config)
        return summary, feed.requests[before:]

    run.config = feed_config(tmp_path, feed.url)  # for reading the warehouse afterwards
    return run


def warehouse(config, sql: str) -> list[tuple]:
    from pulse.core.warehouse import open_warehouse

    with open_warehouse(config, write=False) as con:
        return con.execute(sql).fetchall()


def stored_ids(config) -> list[str]:
    return [row[0] for row in warehouse(config, "SELECT id FROM events ORDER BY seq")]


def stored_cursor(config):
    rows = warehouse(config, "SELECT kind, position FROM source_state WHERE source_name = 'platform'")
    assert [kind for kind, _ in rows] == ["feed"]
    return json.loads(rows[0][1])["cursor"]


def test_ingest_lands_every_event_once_and_a_rerun_adds_nothing(feed, feed_ingest):
    feed.append(*[event(n) for n in range(5)])

    summary, _ = feed_ingest()
    assert (summary.accepted, summary.duplicates, summary.rejected, summary.errors) == (5, 0, 0, [])
    assert stored_ids(feed_ingest.config) == ["e0", "e1", "e2", "e3", "e4"]
    assert stored_cursor(feed_ingest.config) == "c5"

    summary, requests = feed_ingest()
    assert (summary.accepted, summary.duplicates, summary.rejected) == (0, 0, 0)
    assert [r.query.get("after") for r in requests] == ["c5"]  # from the stored cursor, nothing new
    assert stored_ids(feed_ingest.config) == ["e0", "e1", "e2", "e3", "e4"]


def test_ingest_picks_up_new_events_from_the_stored_cursor(feed, feed_ingest):
    feed.append(event(0), event(1), event(2))
    feed_ingest()

    feed.append(event(3), event(4), event(0))  # e0 again: at-least-once delivery
    summary, requests = feed_ingest()

    assert (summary.accepted, summary.duplicates, summary.rejected) == (2, 1, 0)
    assert [r.query.get("after") for r in requests] == ["c3", "c5", "c6"]
    assert stored_ids(feed_ingest.config) == ["e0", "e1", "e2", "e3", "e4"]
    assert stored_cursor(feed_ingest.config) == "c6"


def test_a_failure_on_page_3_keeps_pages_1_and_2_and_a_rerun_continues(feed, feed_ingest):
    feed.append(*[event(n) for n in range(6)])
    feed.serve(2)
    feed.fail(500)

    summary, _ = feed_ingest(max_retries=0)
    assert summary.accepted == 4
    assert len(summary.errors) == 1 and "failed after 1 attempts: 500" in summary.errors[0]
    assert TOKEN not in summary.errors[0]
    assert stored_ids(feed_ingest.config) == ["e0", "e1", "e2", "e3"]
    assert stored_cursor(feed_ingest.config) == "c4"
    assert warehouse(feed_ingest.config, "SELECT status FROM ingest_runs ORDER BY run_id") == [("failed",)]

    summary, requests = feed_ingest(max_retries=0)
    assert (summary.accepted, summary.duplicates, summary.errors) == (2, 0, [])
    assert requests[0].query.get("after") == "c4"
    assert stored_ids(feed_ingest.config) == ["e0", "e1", "e2", "e3", "e4", "e5"]
    assert warehouse(feed_ingest.config, "SELECT count(*), count(DISTINCT id) FROM events") == [(6, 6)]


def test_a_non_object_event_is_rejected_at_its_feed_location(feed, feed_ingest):
    feed.append(event(0), event(1), event(2), "not an object", event(3))

    summary, _ = feed_ingest()

    assert (summary.accepted, summary.rejected) == (4, 1)
    assert warehouse(feed_ingest.config, "SELECT source_name, location, reason, raw FROM rejects") == [
        ("platform", "feed:c2#1", "not_object", '"not an object"'),
    ]
