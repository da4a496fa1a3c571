"""The per-city headline figures `pulse demo` prints."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from analytics import summary
from tests.analytics.helpers import ev, load

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")


def test_members_growth_last_month_attendance_and_top_post(config, tmp_path):
    load(config, [
        SYDNEY,
        ev("user:joined_city", "j1", "2026-02-10T10:00:00+11:00", user_id="u1"),
        ev("user:joined_city", "j2", "2026-03-10T10:00:00+11:00", user_id="u2"),
        ev("user:joined_city", "j3", "2026-03-11T10:00:00+11:00", user_id="u3"),
        ev("user:left_city", "l1", "2026-03-12T10:00:00+11:00", user_id="u1"),
        ev("user:joined_city", "j4", "2026-04-01T10:00:00+11:00", user_id="u4"),
        ev("user:joined_city", "j5", "2026-04-03T10:00:00+11:00", user_id="u5"),  # after as_of
        ev("event:created", "m1", "2026-02-01T00:00:00Z", event_id="m1", title="Past", starts_at="2026-03-20T18:00:00+11:00"),
        ev("event:rsvp", "r1", "2026-02-01T00:00:00Z", event_id="m1", user_id="u1", status="going"),
        ev("event:rsvp", "r2", "2026-02-01T00:00:00Z", event_id="m1", user_id="u2", status="going"),
        ev("event:rsvp", "r3", "2026-02-01T00:00:00Z", event_id="m1", user_id="u3", status="going"),
        ev("event:checked_in", "k1", "2026-03-20T18:00:00+11:00", event_id="m1", user_id="u1"),
        ev("event:created", "m2", "2026-02-01T00:00:00Z", event_id="m2", title="Upcoming", starts_at="2026-04-20T18:00:00+10:00"),
        ev("event:rsvp", "r4", "2026-02-01T00:00:00Z", event_id="m2", user_id="u1", status="going"),
        ev("blog:post_published", "p1", "2026-02-01T00:00:00Z", post_id="b1", title="Old news"),
        ev("blog:post_published", "p2", "2026-02-01T00:00:00Z", post_id="b2", title="Fresh"),
        ev("blog:post_viewed", "v1", "2026-02-01T00:00:00Z", post_id="b1", visitor_id="x"),  # too old
        ev("blog:post_viewed", "v2", "2026-02-01T00:01:00Z", post_id="b1", visitor_id="x"),
        ev("blog:post_viewed", "v3", "2026-03-30T10:00:00+11:00", post_id="b2", visitor_id="x"),
        ev("user:joined_city", "j6", "2026-03-01T00:00:00Z", "perth", user_id="u9"),
    ], tmp_path / "in")
    notices = []
    frame = summary.summarize(config, as_of=date(2026, 4, 2), on_notice=notices.append)
    assert notices  # nothing was built yet: built first
    assert frame["city"].tolist() == ["perth", "sydney"]
    sydney = frame.iloc[1]
    assert (sydney["members"], sydney["last_month"], sydney["net_last_month"]) == (3, date(2026, 3, 1), 1)
    assert sydney["attendance_rate"] == 0.3333  # m1 only: 1 of 3 came; m2 has not started
    assert (sydney["top_post_id"], sydney["top_post_title"], sydney["top_post_views"]) == ("b2", "Fresh", 1)
    perth = frame.iloc[0]
    assert (perth["members"], perth["net_last_month"], perth["top_post_views"]) == (1, 1, 0)
    assert math.isnan(perth["attendance_rate"]) and pd.isna(perth["top_post_id"])
    assert summary.summary_lines(frame) == [
        "perth: 1 members, +1 in 2026-03, attendance rate n/a, no post viewed in 30 days",
        "sydney (Sydney): 3 members, +1 in 2026-03, attendance rate 0.3333, top post 'Fresh' (1 views in 30 days)",
    ]
