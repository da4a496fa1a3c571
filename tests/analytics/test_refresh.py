"""The incremental refresh: late events rewrite history, a timezone change re-buckets a city,
stale models are noticed; every step equals a full rebuild."""

from __future__ import annotations

import shutil

import pytest

from analytics import metrics, refresh
from tests.analytics.helpers import body, build, ev, load, read, rows

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")


def joined(id, time, user, city="sydney"):
    return ev("user:joined_city", id, time, city, user_id=user)


def left(id, time, user, city="sydney"):
    return ev("user:left_city", id, time, city, user_id=user)


def everything(config) -> dict:
    """Every metric of every city over the spring of 2026, as CSV rows."""
    with metrics.connect(config, build_if_stale=False, on_notice=pytest.fail) as con:
        out = {}
        for period in ("day", "week", "month"):
            out[f"growth/{period}"] = body(rows(metrics.member_growth(con, "all", period, "2026-01-01", "2026-06-30")))
            out[f"views/{period}"] = body(rows(metrics.blog_views(con, "all", period, "2026-01-01", "2026-06-30")))
        out["attendance"] = body(rows(metrics.attendance(con, "all")))
        out["trend"] = body(rows(metrics.attendance_trend(con, "all", "2026-01-01", "2026-06-30")))
        out["top"] = body(rows(metrics.top_posts(con, "all", "2026-01-01", "2026-06-30")))
    return out


def assert_same_as_full_rebuild(config, tmp_path, name):
    copy = tmp_path / f"full-{name}"
    shutil.copytree(config.data_dir, copy, ignore=shutil.ignore_patterns("*.lock", "tmp"))
    full = config.with_data_dir(copy)
    assert build(full, full=True).full
    assert everything(full) == everything(config)


def test_a_late_join_changes_every_later_period(config, tmp_path):
    load(config, [SYDNEY, joined("a", "2026-04-10T10:00:00+10:00", "u1"), left("b", "2026-05-10T10:00:00+10:00", "u1"),
                  joined("c", "2026-04-20T10:00:00+10:00", "u2")], tmp_path / "in")
    assert build(config).full
    growth = lambda: body(read(config, metrics.member_growth, "sydney", "month", "2026-03-01", "2026-06-30"))  # noqa: E731
    assert growth() == [
        ["sydney", "2026-03-01", "0", "0", "0", "0"],
        ["sydney", "2026-04-01", "2", "0", "2", "2"],
        ["sydney", "2026-05-01", "0", "1", "-1", "1"],
        ["sydney", "2026-06-01", "0", "0", "0", "1"],
    ]
    # u1 joined in March already: the April join becomes a join of a member
    load(config, [joined("d", "2026-03-05T10:00:00+11:00", "u1"), left("e", "2026-02-01T10:00:00+11:00", "u3")],
         tmp_path / "in")
    report = build(config)
    assert (report.full, report.events) == (False, 2)
    assert growth() == [
        ["sydney", "2026-03-01", "1", "0", "1", "1"],
        ["sydney", "2026-04-01", "1", "0", "1", "2"],
        ["sydney", "2026-05-01", "0", "1", "-1", "1"],
        ["sydney", "2026-06-01", "0", "0", "0", "1"],
    ]
    assert_same_as_full_rebuild(config, tmp_path, "2")
    # ... and left in March: the April join counts again
    load(config, [left("f", "2026-03-20T10:00:00+11:00", "u1")], tmp_path / "in")
    assert not build(config).full
    assert growth() == [
        ["sydney", "2026-03-01", "1", "1", "0", "0"],
        ["sydney", "2026-04-01", "2", "0", "2", "2"],
        ["sydney", "2026-05-01", "0", "1", "-1", "1"],
        ["sydney", "2026-06-01", "0", "0", "0", "1"],
    ]
    assert_same_as_full_rebuild(config, tmp_path, "3")


def test_a_timezone_change_rebuckets_the_whole_city(config, tmp_path):
    late_evening = "2026-03-31T20:00:00Z"  # 01:30 on 1 April in Kolkata
    load(config, [
        joined("a", late_evening, "u1", city="pune"),
        ev("blog:post_viewed", "b", late_evening, "pune", post_id="p", visitor_id="v"),
        ev("event:created", "c", "2026-03-01T00:00:00Z", "pune", event_id="m", title="T", starts_at=late_evening),
        joined("d", late_evening, "u1", city="oslo"),
    ], tmp_path / "in")
    build(config)
    assert read(config, metrics.member_growth, "pune", "month", "2026-03-01", "2026-04-30")[1][2] == "1"
    load(config, [ev("city:upserted", "e", "2026-01-01T00:00:00Z", "pune", name="Pune", timezone="Asia/Kolkata")],
         tmp_path / "in")
    assert not build(config).full
    assert body(read(config, metrics.member_growth, "pune", "month", "2026-03-01", "2026-04-30")) == [
        ["pune", "2026-03-01", "0", "0", "0", "0"],
        ["pune", "2026-04-01", "1", "0", "1", "1"],
    ]
    assert body(read(config, metrics.blog_views, "pune", "day", "2026-03-31", "2026-04-01")) == [
        ["pune", "p", "", "2026-04-01", "1", "1"],
    ]
    assert [row[1:3] for row in body(read(config, metrics.attendance_trend, "pune", "2026-03-01", "2026-04-30"))] == [
        ["2026-03-01", "0"], ["2026-04-01", "1"],
    ]
    assert read(config, metrics.member_growth, "oslo", "month", "2026-03-01", "2026-04-30")[1][2] == "1"
    assert_same_as_full_rebuild(config, tmp_path, "tz")


def test_a_new_default_timezone_in_the_configuration_rebuilds_everything(make_config, tmp_path):
    config = make_config()
    load(config, [joined("a", "2026-03-31T20:00:00Z", "u1", city="pune")], tmp_path / "in")
    build(config)
    kolkata = make_config(analytics={"default_timezone": "Asia/Kolkata"})
    with metrics.connect(kolkata, build_if_stale=False, on_notice=lambda message: None) as con:
        assert refresh.status(con).stale(kolkata)
    assert build(kolkata).full
    assert body(read(kolkata, metrics.member_growth, "pune", "day", "2026-04-01", "2026-04-01")) == [
        ["pune", "2026-04-01", "1", "0", "1", "1"],
    ]


def test_a_meetup_moving_city_moves_first_timers_in_both_cities(config, tmp_path):
    load(config, [
        SYDNEY,
        ev("event:created", "a", "2026-02-01T00:00:00Z", event_id="m1", title="One", starts_at="2026-03-01T10:00:00Z"),
        ev("event:created", "b", "2026-02-01T00:00:00Z", event_id="m2", title="Two", starts_at="2026-03-08T10:00:00Z"),
        ev("event:checked_in", "c", "2026-03-01T10:00:00Z", event_id="m1", user_id="u1"),
        ev("event:checked_in", "d", "2026-03-08T10:00:00Z", event_id="m2", user_id="u1"),
    ], tmp_path / "in")
    build(config)
    first_timers = lambda city: [(r[1], r[10]) for r in body(read(config, metrics.attendance, city))]  # noqa: E731
    assert first_timers("sydney") == [("m1", "1"), ("m2", "0")]
    load(config, [ev("event:updated", "e", "2026-02-02T00:00:00Z", "perth", event_id="m1", venue="moved")],
         tmp_path / "in")
    assert not build(config).full
    assert first_timers("sydney") == [("m2", "1")]
    assert first_timers("perth") == [("m1", "1")]
    assert_same_as_full_rebuild(config, tmp_path, "moved")


def test_stale_models_are_noticed_and_built_first_unless_told_not_to(config, tmp_path):
    notices = []
    with pytest.raises(metrics.NotBuilt), metrics.connect(config, build_if_stale=False, on_notice=notices.append):
        pass
    load(config, [SYDNEY, joined("a", "2026-03-02T10:00:00+11:00", "u1")], tmp_path / "in")
    with metrics.connect(config, on_notice=notices.append) as con:
        assert metrics.member_growth(con, "sydney", "day", "2026-03-02", "2026-03-02")["joins"].tolist() == [1]
    assert notices == ["the metrics have not been built yet; building the metrics first"]
    load(config, [joined("b", "2026-03-02T11:00:00+11:00", "u2")], tmp_path / "in")
    notices.clear()
    with metrics.connect(config, build_if_stale=False, on_notice=notices.append) as con:
        assert metrics.member_growth(con, "sydney", "day", "2026-03-02", "2026-03-02")["joins"].tolist() == [1]
    assert notices == ["stale metrics: 1 events were ingested since the last build; run `pulse build` for current figures"]
    with metrics.connect(config, on_notice=notices.append) as con:
        assert metrics.member_growth(con, "sydney", "day", "2026-03-02", "2026-03-02")["joins"].tolist() == [2]
    report = build(config)
    assert (report.full, report.events, report.model_seconds) == (False, 0, {})
