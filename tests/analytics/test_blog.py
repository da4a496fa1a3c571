"""Blog views per post and local day; unique visitors distinct over each period or range."""

from __future__ import annotations

import pytest

from analytics import metrics
from tests.analytics.helpers import body, build, ev, load, read

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")


def viewed(id, time, post, visitor, city="sydney"):
    return ev("blog:post_viewed", id, time, city, post_id=post, visitor_id=visitor)


@pytest.fixture
def views(config, tmp_path):
    load(config, [
        SYDNEY,
        # the newer title arrives first; the older one does not win
        ev("blog:post_published", "p2", "2026-02-02T00:00:00Z", post_id="b1", title="  Hello, world\u0301 "),
        ev("blog:post_published", "p1", "2026-02-01T00:00:00Z", post_id="b1", title="Hello"),
        viewed("v1", "2026-03-02T09:00:00+11:00", "b1", "x"),
        viewed("v2", "2026-03-02T10:00:00+11:00", "b1", "x"),
        viewed("v3", "2026-03-03T09:00:00+11:00", "b1", "x"),
        viewed("v4", "2026-03-03T09:00:00+11:00", "b1", "y"),
        viewed("v5", "2026-03-03T09:00:00+11:00", "b2", "x"),       # b2 never published: no title
        viewed("v6", "2026-03-04T00:00:00+11:00", "b1", "z"),       # local midnight: 03-04, not 03-03
        viewed("v7", "2026-03-03T12:00:00+11:00", "b1", "w", city="melbourne"),  # Melbourne: UTC, 03-03
        viewed("v8", "2026-03-09T09:00:00+11:00", "b3", "x"),       # next week
    ], tmp_path / "in")
    build(config)
    return config


TITLE = "  Hello, world\u0301 "


def test_views_per_post_and_day(views):
    assert body(read(views, metrics.blog_views, "sydney", "day", "2026-03-01", "2026-03-04")) == [
        ["sydney", "b1", TITLE, "2026-03-02", "2", "1"],
        ["sydney", "b1", TITLE, "2026-03-03", "2", "2"],
        ["sydney", "b2", "", "2026-03-03", "1", "1"],
        ["sydney", "b1", TITLE, "2026-03-04", "1", "1"],
    ]


def test_unique_visitors_are_distinct_over_a_week_not_summed(views):
    assert body(read(views, metrics.blog_views, "sydney", "week", "2026-03-04", "2026-03-10")) == [
        ["sydney", "b1", TITLE, "2026-03-02", "5", "3"],
        ["sydney", "b2", "", "2026-03-02", "1", "1"],
        ["sydney", "b3", "", "2026-03-09", "1", "1"],
    ]


def test_top_posts_over_a_range(views):
    assert body(read(views, metrics.top_posts, "sydney", "2026-03-02", "2026-03-09")) == [
        ["sydney", "b1", TITLE, "5", "3"],
        ["sydney", "b2", "", "1", "1"],   # ties in views by post_id
        ["sydney", "b3", "", "1", "1"],
    ]
    assert body(read(views, metrics.top_posts, "sydney", "2026-03-03", "2026-03-03", limit=1)) == [
        ["sydney", "b1", TITLE, "2", "2"],
    ]
    assert body(read(views, metrics.top_posts, "all", "2026-03-03", "2026-03-03")) == [
        ["melbourne", "b1", TITLE, "1", "1"],
        ["sydney", "b1", TITLE, "2", "2"],
        ["sydney", "b2", "", "1", "1"],
    ]
