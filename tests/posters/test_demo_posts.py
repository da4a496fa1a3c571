"""`pulse demo`'s posts: drafts for the upcoming meetups, dry-run, nothing sent."""

from __future__ import annotations

import datetime as dt

from jobs.ingest.run import ingest
from posters.demo import demo_posts
from posters.store import PostStore
from pulse import demo as demo_data


def test_demo_drafts_only_upcoming_meetups_and_sends_nothing(config, tmp_path):
    now = dt.datetime.now(dt.UTC)
    events = list(demo_data.generate_events(now=now, days=120))
    demo_data.write_events(tmp_path / "e.ndjson", events)
    ingest(config, files=[str(tmp_path / "e.ndjson")])
    text = demo_posts(config, now=now)
    assert "dry run, nothing sent" in text and "would go to Slack #" in text
    with PostStore(config) as store:
        posts = store.find()
    assert posts and all(p.starts_at > now.strftime("%Y-%m-%dT%H:%M:%S") for p in posts)
    assert {p.channel for p in posts} == {"slack", "x", "facebook"}
    # Slack posts on its own; X and Facebook wait in the queue, and the demo says where it is.
    assert {p.state for p in posts if p.channel == "slack"} == {"scheduled"}
    assert {p.state for p in posts if p.channel != "slack"} == {"pending_approval"}
    waiting = sum(1 for p in posts if p.state == "pending_approval")
    assert f"posts queue: {waiting} X and Facebook drafts await approval at http://127.0.0.1:8080/posts" in text
