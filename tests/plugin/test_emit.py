"""Pulse's own events: valid CloudEvents (checked by the `cloudevents` SDK and by Pulse's own
reading of the platform's envelope rules), each delivered once, kept while the sink is down (HTTP
500, connection refused, a full disk), sent at most once more after a SIGKILL, with the same id."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cloudevents.core.formats.json import JSONFormat

from jobs import pipeline
from jobs.ingest.run import ingest
from posters.publisher import Publisher
from posters.store import PostStore
from pulse.core import config as config_module, emit, manifest
from pulse.core.config import ConfigError
from tests.plugin.conftest import SINK_TOKEN
from tests.support.plugin import read_ndjson
from tests.support.posters import channels, city_event, config_file, load, meetup_events
from tests.support.records import envelope, query
from tests.support.web import free_port

NOW = dt.datetime.now(dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


def one_meetup(config, tmp_path, event_id="m1", **kwargs):
    kwargs.setdefault("created", NOW - dt.timedelta(hours=1))
    kwargs.setdefault("starts", NOW + dt.timedelta(days=5))
    load(config, tmp_path, [city_event()] + meetup_events(event_id, **kwargs))


def with_sink(servers, sink: dict, **extra) -> dict:
    return {**channels(servers, **extra), "events": sink}


def outbox(config) -> list[tuple]:
    with PostStore(config) as store:
        return store._con.execute("SELECT id, type, sent_at IS NOT NULL, attempts FROM outbox_events ORDER BY n").fetchall()


def valid_cloudevent(event: dict) -> None:
    """The cloudevents SDK's reading of one event (it raises on a missing or wrong attribute)."""
    read = JSONFormat().read(None, json.dumps(event).encode())
    assert read.get_specversion() == "1.0" and read.get_id() == event["id"]
    assert read.get_source() == manifest.plugin_id() == "pulse"
    assert read.get_time().tzinfo is not None
    assert read.get_extension("city") == event["city"]


def test_published_posts_are_emitted_once_each_as_valid_cloudevents(make_config, servers, secrets_env, tmp_path):
    out = tmp_path / "events.ndjson"
    config = make_config(**with_sink(servers, {"file": str(out)}))
    one_meetup(config, tmp_path)
    assert Publisher(config).run().count("published") == 3
    events = read_ndjson(out)
    with PostStore(config) as store:
        posts = {str(p.id): p for p in store.find(state="published")}
    assert [e["type"] for e in events] == ["social:post_published"] * 3
    assert {e["data"]["channel"] for e in events} == {"slack", "x", "facebook"}
    for event in events:
        valid_cloudevent(event)
        post = posts[event["data"]["post_id"]]
        assert event["city"] == event["data"]["city"] == "sydney"
        assert event["data"] == {"post_id": str(post.id), "meetup_id": "m1", "city": "sydney",
                                 "channel": post.channel, "kind": "announce", "link": post.external_url}
        assert event["id"].startswith(post.marker + "-")
    assert len({e["id"] for e in events}) == 3
    # Nothing new happened: nothing more is sent.
    Publisher(config).run()
    assert read_ndjson(out) == events
    assert [row[2] for row in outbox(config)] == [True] * 3


def test_pulse_reads_its_own_events_as_valid_and_counts_none_of_them(make_config, servers, secrets_env, tmp_path):
    """The platform's envelope rules, as Pulse's ingest applies them, accept every event Pulse
    emits; and fed back in (a platform echoing them), they are stored and ignored."""
    out = tmp_path / "events.ndjson"
    config = make_config(**with_sink(servers, {"file": str(out)}))
    one_meetup(config, tmp_path)
    Publisher(config, builder=pipeline.build).run()  # as `pulse publish` runs it: the build first
    emitted = read_ndjson(out)
    assert {e["type"] for e in emitted} == {"social:post_published", "analytics:refreshed"}
    before = query(config, "SELECT * FROM analytics.attendance ORDER BY ALL")
    summary = ingest(config, files=[str(out)])
    assert (summary.accepted, summary.rejected) == (len(emitted), 0)
    assert query(config, "SELECT count(*) FROM events WHERE source = 'pulse'") == [(len(emitted),)]
    pipeline.build(config)
    assert query(config, "SELECT * FROM analytics.attendance ORDER BY ALL") == before


def test_types_outside_listens_are_stored_and_ignored_by_metrics_and_publisher(make_config, servers, secrets_env,
                                                                                tmp_path):
    config = make_config(**channels(servers))
    listened = [city_event(), envelope("j1", "user:joined_city", data={"user_id": "u1"})]
    lookalikes = [  # shaped like the events the metrics and the publisher read, under other types
        envelope("x1", "user:joined", data={"user_id": "u2"}),
        envelope("x2", "meetup:created", data={"event_id": "m9", "title": "Not a meetup", "starts_at": "2031-01-01T10:00:00Z"}),
        envelope("x3", "event:Created", data={"event_id": "m8", "title": "Nor this", "starts_at": "2031-01-01T10:00:00Z"}),
        envelope("x4", "social:post_published", data={"post_id": "1", "meetup_id": "m1"}),
    ]
    assert not {e["type"] for e in lookalikes} & manifest.listens()
    load(config, tmp_path, listened + lookalikes)
    pipeline.build(config)
    assert query(config, "SELECT count(*) FROM events") == [(6,)]
    assert query(config, "SELECT count(*) FROM rejects") == [(0,)]
    # The oracle: by hand, one join in sydney and no meetup at all.
    assert query(config, "SELECT sum(joins) FROM analytics.member_daily") == [(1,)]
    assert query(config, "SELECT count(*) FROM analytics.meetups") == [(0,)]
    report = Publisher(config).run()
    # (The publisher may ask each API for its account's name; it posts nothing.)
    assert report.sync.drafted == 0 and not any(servers[k].posts for k in servers)


def test_a_failed_post_is_emitted_with_its_error(make_config, servers, secrets_env, tmp_path):
    out = tmp_path / "events.ndjson"
    config = make_config(**with_sink(servers, {"file": str(out)}, kinds=("x",)))
    servers["x"].fail_auth()
    one_meetup(config, tmp_path)
    assert Publisher(config).run().count("failed") == 1
    [event] = read_ndjson(out)
    valid_cloudevent(event)
    assert event["type"] == "social:post_failed"
    assert event["data"]["channel"] == "x" and event["data"]["attempts"] == 1
    assert "401" in event["data"]["error"] and "check the X keys" in event["data"]["error"]


def test_an_http_sink_down_keeps_the_events_and_gets_each_once_later(make_config, servers, secrets_env, tmp_path,
                                                                     sink):
    config = make_config(**with_sink(servers, {"url": sink.url + "/events", "token_env": "PULSE_SINK_TOKEN"}))
    one_meetup(config, tmp_path)
    sink.answer(500)
    report = Publisher(config).run()
    assert report.count("published") == 3
    assert report.events.sent == 0 and report.events.waiting == 3 and "HTTP 500" in report.events.problem
    assert [row[2:] for row in outbox(config)] == [(False, 1)] * 3
    refused = sink.requests[0]
    # The next run (a build, here, with nothing new to build) delivers them: the same bytes.
    pipeline.build(config)
    assert len(sink.requests) == 2 and sink.requests[1].body == refused.body
    request = sink.requests[1]
    assert request.headers["Authorization"] == f"Bearer {SINK_TOKEN}"
    assert request.headers["Content-Type"].startswith("application/cloudevents-batch+json")
    for event in request.events():
        valid_cloudevent(event)
    assert all(row[2] for row in outbox(config))
    # Later runs send nothing again.
    Publisher(config).run()
    pipeline.build(config)
    assert len(sink.requests) == 2


def test_a_sink_refusing_connections_keeps_the_events(make_config, servers, secrets_env, tmp_path, sink):
    closed = f"http://127.0.0.1:{free_port()}/events"  # nothing listens there
    config = make_config(**with_sink(servers, {"url": closed, "token_env": "PULSE_SINK_TOKEN"}, kinds=("slack",)))
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.events.waiting == 1 and "could not deliver (ConnectionError)" in report.events.problem
    assert SINK_TOKEN not in report.events.problem
    fixed = config.replace(events=config.events.model_copy(update={"url": sink.url + "/events"}))
    with PostStore(fixed) as store:
        assert store.deliver_events(fixed).sent == 1
        assert store.deliver_events(fixed).sent == 0
    assert [e["type"] for e in sink.sent_events()] == ["social:post_published"]


def test_a_full_disk_keeps_the_events_and_a_later_run_writes_each_once(make_config, servers, secrets_env, tmp_path):
    # /dev/full: every write fails with ENOSPC, as on a full disk.
    config = make_config(**with_sink(servers, {"file": "/dev/full"}))
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.count("published") == 3
    assert report.events.waiting == 3 and "No space left on device" in report.events.problem
    out = tmp_path / "events.ndjson"
    roomy = config.replace(events=config.events.model_copy(update={"file": str(out)}))
    with PostStore(roomy) as store:
        assert store.deliver_events(roomy).sent == 3
        assert store.deliver_events(roomy).sent == 0
    assert len(read_ndjson(out)) == 3 and len({e["id"] for e in read_ndjson(out)}) == 3


def test_a_line_cut_short_in_the_file_does_not_swallow_the_next_event(tmp_path):
    out = tmp_path / "events.ndjson"
    out.write_bytes(b'{"specversion":"1.0","id":"cut')  # a writer died mid-line
    emit.FileSink(out).send(['{"id":"next"}'])
    assert out.read_bytes().splitlines()[-1] == b'{"id":"next"}'


def test_sigkill_between_sending_and_recording_sends_each_at_most_once_more_with_the_same_id(
        servers, secrets_env, tmp_path, sink):
    config, path = config_file(tmp_path, with_sink(servers, {"url": sink.url + "/events",
                                                               "token_env": "PULSE_SINK_TOKEN"}))
    one_meetup(config, tmp_path)
    sink.answer(500)
    Publisher(config).run()  # three events now wait
    assert sum(1 for row in outbox(config) if not row[2]) == 3
    sink.requests.clear()
    sink.received.clear()
    sink.hold()  # the sink takes the batch and answers only later
    deliver = ("from pulse.core import config; from posters.store import PostStore; "
               f"c = config.load({str(path)!r}); PostStore(c).deliver_events(c)")
    process = subprocess.Popen([sys.executable, "-c", deliver], cwd=ROOT, env=os.environ.copy())
    try:
        assert sink.received.wait(30), "the delivery never reached the sink"
        time.sleep(0.2)
        process.send_signal(signal.SIGKILL)  # between sending and marking them sent
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    sink.release.set()
    sent_before_kill = [e["id"] for e in sink.requests[0].events()]
    assert len(sent_before_kill) == 3 and all(not row[2] for row in outbox(config))
    with PostStore(config) as store:
        assert store.deliver_events(config).sent == 3
        assert store.deliver_events(config).sent == 0
    ids = [e["id"] for seen in sink.requests for e in seen.events()]
    assert Counter(ids) == Counter({event_id: 2 for event_id in sent_before_kill})  # once more, same ids
    assert sink.requests[0].body == sink.requests[1].body


def test_analytics_refreshed_tells_the_cities_data_as_of_and_events_counted(make_config, tmp_path):
    out = tmp_path / "events.ndjson"
    config = make_config(events={"file": str(out)})
    load(config, tmp_path, [envelope("a1", city="sydney"), envelope("a2", data={"user_id": "u2"}, city="sydney"),
                            envelope("a3", city="melbourne"), envelope("a4", "photo:added", data={}, city="perth")])
    pipeline.build(config)
    [first] = read_ndjson(out)
    valid_cloudevent(first)
    finished = query(config, "SELECT max(finished_at) FROM ingest_runs WHERE status = 'completed'")[0][0]
    assert first["type"] == "analytics:refreshed" and first["city"] == "all"
    # By hand: three events of listened types, in two cities (perth's is of a type nobody listens to).
    data = dict(first["data"])
    as_of = data.pop("data_as_of")
    assert data == {"cities": ["melbourne", "sydney"], "events_counted": 3}
    assert as_of.endswith("Z") and dt.datetime.fromisoformat(as_of.replace("Z", "+00:00")) == finished
    pipeline.build(config)  # nothing new: nothing to tell
    assert len(read_ndjson(out)) == 1
    load(config, tmp_path, [envelope("a5", city="melbourne", data={"user_id": "u9"})])
    pipeline.build(config)
    second = read_ndjson(out)[1]
    assert second["data"]["cities"] == ["melbourne"] and second["data"]["events_counted"] == 4
    assert second["id"] != first["id"]


def test_a_change_and_its_event_commit_together_and_an_undeclared_type_is_refused(make_config, tmp_path,
                                                                                 monkeypatch):
    config = make_config(events={"file": str(tmp_path / "events.ndjson")})
    with PostStore(config) as store:
        with store.transaction() as con:
            post_id = store.insert(con, actor="test", city="sydney", event_id="m1", channel="slack", kind="announce",
                                   mode="auto", state="publishing", text="t", content={}, snapshot={},
                                   starts_at="2031-01-01T00:00:00.000000Z", due_at="2030-01-01T00:00:00.000000Z")
        # plugin.json no longer declaring social:post_published: the change cannot happen without its event.
        monkeypatch.setattr(emit, "emits", lambda: frozenset({"social:post_failed", "analytics:refreshed"}))
        with pytest.raises(manifest.ManifestError, match="'social:post_published', which it does not declare"), \
                store.transaction() as con:
            store.change(con, post_id, actor="test", action="published", state="published",
                         external_url="https://slack.com/archives/C1/p1")
        assert store.get(post_id).state == "publishing"
        monkeypatch.undo()
        with store.transaction() as con:
            store.change(con, post_id, actor="test", action="published", state="published",
                         external_url="https://slack.com/archives/C1/p1")
    assert [row[1] for row in outbox(config)] == ["social:post_published"]


def test_without_a_sink_nothing_is_recorded(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers))
    one_meetup(config, tmp_path)
    Publisher(config).run()
    pipeline.build(config)
    assert outbox(config) == []


@pytest.mark.parametrize("table, message", [
    ({"file": "a.ndjson", "url": "https://sink.example.org/events", "token_env": "T"},
     "events.url: give either file or url, not both"),
    ({"url": "https://sink.example.org/events"}, "events.token_env: required with url"),
    ({"url": "https://user:pw@sink.example.org/events", "token_env": "T"},
     "events.url: the URL must not carry credentials"),
    ({"files": "a.ndjson"}, "events.files: unknown key; did you mean `file`?"),
])
def test_a_bad_events_table_is_one_line(tmp_path, table, message):
    with pytest.raises(ConfigError) as error:
        config_module.from_dict({"events": table}, base_dir=tmp_path)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_missing_sink_token_is_said_and_the_events_wait(make_config, servers, secrets_env, tmp_path, monkeypatch):
    config = make_config(**with_sink(servers, {"url": "http://127.0.0.1:9/events", "token_env": "NO_SUCH_TOKEN"},
                                     kinds=("slack",)))
    one_meetup(config, tmp_path)
    report = Publisher(config).run()
    assert report.count("published") == 1
    assert report.events.waiting == 1 and "NO_SUCH_TOKEN is not set" in report.events.problem
