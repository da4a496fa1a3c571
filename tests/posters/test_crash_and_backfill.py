"""Crash safety (SIGKILL between the API call and recording it) and backfill (history posts nothing)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.ingest.run import ingest
from posters.publisher import Publisher
from posters.store import PostStore
from pulse.core import config as config_module
from pulse import demo as demo_data
from tests.support.posters import channels, city_event, load, meetup_events, toml

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

NOW = dt.datetime.now(dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["slack", "x", "facebook"])
def test_killed_between_call_and_record_never_posts_twice(tmp_path, servers, secrets_env, kind):
    raw = {"warehouse": {"data_dir": str(tmp_path / "warehouse")}, **channels(servers, kinds=(kind,))}
    raw["publisher"]["timeout_seconds"] = 60.0
    config_path = tmp_path / "pulse.toml"
    config_path.write_text(toml(raw), encoding="utf-8")
    config = config_module.load(config_path)
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=1),
                                                          starts=NOW + dt.timedelta(days=3)))
    server = servers[kind]
    server.delay(30.0, process=True)  # the API takes the post, and the publisher waits for its answer ...
    child = subprocess.Popen([sys.executable, "-m", "pulse", "--config", str(config_path), "publish"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        assert server.wait_for_posts(1, timeout=30), child.stderr.read1(4000) if child.poll() is not None else "no post"
    finally:
        os.kill(child.pid, signal.SIGKILL)  # ... and dies before it can record success
        child.wait(timeout=10)
    with PostStore(config) as store:
        assert store.find()[0].state == "publishing"

    report = Publisher(config).run()
    assert len(server.posts) == 1  # never sent again
    with PostStore(config) as store:
        post = store.find()[0]
        if kind == "slack":
            # Found in the channel by its marker, settled without a person.
            assert post.state == "published" and post.external_id == f"C0MEETUPS/{server.posts[0]['ts']}"
            assert report.count("published") == 1  # the summary counts what recovery settled
        else:
            assert post.state == "needs_attention"
            assert [o.state for o in report.recovered] == ["needs_attention"]
            assert report.count("needs_attention") == 1 and report.needs_a_person
            # A later run leaves it alone too.
            Publisher(config).run()
            assert store.get(post.id).state == "needs_attention" and len(server.posts) == 1


def test_a_year_of_history_posts_nothing(make_config, servers, secrets_env, tmp_path):
    # The channels are enabled now (no enabled_since: recorded at first sight) and the stream
    # brings a year of meetups, a few of them still upcoming.
    config = make_config(**channels(servers, enabled_since=""))
    history = list(demo_data.generate_events(seed=3, now=NOW, days=365))
    path = tmp_path / "history.ndjson"
    demo_data.write_events(path, history)
    ingest(config, files=[str(path)])
    upcoming = [e for e in history if e["type"] == "event:created"
                and dt.datetime.fromisoformat(e["data"]["starts_at"].replace("Z", "+00:00")) > NOW]
    assert upcoming, "the history should hold upcoming meetups, or this test proves nothing"
    report = Publisher(config).run()
    assert report.sync.drafted == 0 and report.outcomes == []
    # Nothing is posted (the accounts' names are asked, once: GETs only).
    assert [r.path for k in servers for r in servers[k].requests] == ["/2/users/me", "/v21.0/1122334455"]
    # A meetup created after the channel was enabled is announced.
    load(config, tmp_path, meetup_events("new1", created=dt.datetime.now(dt.UTC),
                                         starts=NOW + dt.timedelta(days=4), city="sydney"))
    assert Publisher(config).run().count("published") == 3


def test_enabled_since_in_config(make_config, servers, secrets_env, tmp_path):
    config = make_config(**channels(servers, kinds=("x",), enabled_since=(NOW - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")))
    load(config, tmp_path, [city_event()]
         + meetup_events("old", created=NOW - dt.timedelta(days=2), starts=NOW + dt.timedelta(days=3), title="Old")
         + meetup_events("new", created=NOW - dt.timedelta(hours=2), starts=NOW + dt.timedelta(days=3), title="New"))
    report = Publisher(config).run()
    assert report.count("published") == 1 and servers["x"].posts[0]["text"].startswith("New\n")
