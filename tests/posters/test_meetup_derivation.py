"""The publisher reads a meetup's state from the analytics model, so it agrees with the dashboards.

The contract keys a meetup by its `event_id` and takes its city from the latest event. Folding
events by (city, event_id) instead (as the publisher once did) split a meetup that moved city in
two, and a cancellation sent under the new city never reached the old city's announcement.
"""

from __future__ import annotations

import datetime as dt

from posters.publisher import Publisher
from posters.store import PostStore
from tests.support.posters import channels, city_event, load, meetup_events, utc
from tests.support.records import envelope, query

NOW = dt.datetime.now(dt.UTC)


def moved_and_cancelled(event_id: str) -> list[dict]:
    """An update and a cancellation of `event_id`, both sent under the melbourne envelope."""
    return [envelope(f"{event_id}-u", "event:updated", city="melbourne", time=utc(NOW - dt.timedelta(minutes=20)),
                     data={"event_id": event_id, "venue": "Federation Square"}),
            envelope(f"{event_id}-c", "event:cancelled", city="melbourne", time=utc(NOW - dt.timedelta(minutes=10)),
                     data={"event_id": event_id, "reason": "Speaker unavailable"})]


def setup(make_config, servers, tmp_path, **options):
    config = make_config(**channels(servers, kinds=("slack",), **options))
    load(config, tmp_path, [city_event(), city_event("melbourne", "Melbourne", "Australia/Melbourne")]
         + meetup_events("m1", created=NOW - dt.timedelta(hours=1), starts=NOW + dt.timedelta(days=4)))
    return config


def test_a_published_meetup_cancelled_under_another_city_gets_its_cancellation(make_config, servers, secrets_env,
                                                                              tmp_path):
    config = setup(make_config, servers, tmp_path)
    assert Publisher(config).run().count("published") == 1  # announced in Sydney's channel

    load(config, tmp_path, moved_and_cancelled("m1"))
    Publisher(config).run()

    # The dashboards' model: one meetup, now in melbourne, cancelled.
    assert query(config, "SELECT city, cancelled FROM analytics.meetups WHERE event_id = 'm1'") == [("melbourne", True)]
    with PostStore(config) as store:
        posts = {(p.city, p.kind): p for p in store.find(event_id="m1")}
    # Sydney's readers saw the announcement: they are told it is cancelled (a follow-up to approve).
    assert set(posts) == {("sydney", "announce"), ("sydney", "cancel")}
    assert posts[("sydney", "cancel")].state == "pending_approval"
    assert "Speaker unavailable" in posts[("sydney", "cancel")].text


def test_a_waiting_draft_is_withdrawn_when_its_meetup_is_cancelled_under_another_city(make_config, servers,
                                                                                    secrets_env, tmp_path):
    config = setup(make_config, servers, tmp_path, mode="approval")
    Publisher(config).run()
    load(config, tmp_path, moved_and_cancelled("m1"))
    Publisher(config).run()
    with PostStore(config) as store:
        assert [(p.city, p.kind, p.state) for p in store.find(event_id="m1")] == [("sydney", "announce", "withdrawn")]
    assert servers["slack"].posts == []
