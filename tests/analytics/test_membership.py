"""Member growth, hand-computed from the contract's transition rule, in each city's calendar."""

from __future__ import annotations

import pytest

from analytics import metrics
from pulse.core.warehouse import open_warehouse
from tests.analytics.helpers import body, build, ev, load, read

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")


def joined(id, time, user, city="sydney"):
    return ev("user:joined_city", id, time, city, user_id=user)


def left(id, time, user, city="sydney"):
    return ev("user:left_city", id, time, city, user_id=user)


@pytest.fixture
def transitions(config, tmp_path):
    load(config, [
        SYDNEY,
        joined("j1", "2026-03-02T10:00:00+11:00", "u1"),   # join
        joined("j2", "2026-03-03T10:00:00+11:00", "u1"),   # join of a member: nothing
        left("l1", "2026-03-03T11:00:00+11:00", "u2"),     # leave of a non-member: nothing
        left("l2", "2026-03-04T10:00:00+11:00", "u1"),     # leave
        joined("j3", "2026-03-10T10:00:00+11:00", "u1"),   # rejoin
        joined("j4", "2026-03-10T12:00:00+11:00", "u2"),   # join
    ], tmp_path / "in")
    build(config)
    return config


def test_days_count_only_transitions(transitions):
    assert body(read(transitions, metrics.member_growth, "sydney", "day", "2026-03-01", "2026-03-04")) == [
        ["sydney", "2026-03-01", "0", "0", "0", "0"],
        ["sydney", "2026-03-02", "1", "0", "1", "1"],
        ["sydney", "2026-03-03", "0", "0", "0", "1"],
        ["sydney", "2026-03-04", "0", "1", "-1", "0"],
    ]


def test_weeks_are_named_by_their_monday_and_months_by_their_first_day(transitions):
    assert body(read(transitions, metrics.member_growth, "sydney", "week", "2026-03-04", "2026-03-15")) == [
        ["sydney", "2026-03-02", "1", "1", "0", "0"],
        ["sydney", "2026-03-09", "2", "0", "2", "2"],
    ]
    assert body(read(transitions, metrics.member_growth, "sydney", "month", "2026-02-28", "2026-04-01")) == [
        ["sydney", "2026-02-01", "0", "0", "0", "0"],
        ["sydney", "2026-03-01", "3", "1", "2", "2"],
        ["sydney", "2026-04-01", "0", "0", "0", "2"],
    ]


def test_members_end_of_the_first_period_counts_everything_before_it(transitions):
    assert body(read(transitions, metrics.member_growth, "sydney", "day", "2026-03-03", "2026-03-03")) == [
        ["sydney", "2026-03-03", "0", "0", "0", "1"],
    ]
    assert body(read(transitions, metrics.member_growth, "sydney", "month", "2026-05-15", "2026-05-15")) == [
        ["sydney", "2026-05-01", "0", "0", "0", "2"],
    ]


def test_ties_in_time_are_broken_by_id_as_plain_strings(config, tmp_path):
    at = "2026-03-05T10:00:00+11:00"
    load(config, [
        SYDNEY,
        # u1: join (id a) comes before leave (id b): a join, then a leave
        left("b", at, "u1"), joined("a", at, "u1"),
        # u2: leave (id k1) comes first and does nothing, then the join counts
        joined("k2", at, "u2"), left("k1", at, "u2"),
        # u3: "10" < "9" as strings: the leave first (nothing), then the join
        joined("9", at, "u3"), left("10", at, "u3"),
        # u4: "Z" < "a" < "é" byte-wise: join "Z", leave "a", join "é"
        joined("é", at, "u4"), left("a4", at, "u4"), joined("Z4", at, "u4"),
    ], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.member_growth, "sydney", "day", "2026-03-05", "2026-03-05")) == [
        ["sydney", "2026-03-05", "5", "2", "3", "3"],
    ]


def test_a_week_across_the_end_of_daylight_saving_and_local_midnight(config, tmp_path):
    # Sydney leaves daylight saving on Sunday 2026-04-05 (03:00 +11:00 -> 02:00 +10:00).
    load(config, [
        SYDNEY,
        joined("a", "2026-03-29T23:59:59+11:00", "u4"),  # Sunday: the week of 03-23
        joined("b", "2026-03-30T00:00:00+11:00", "u3"),  # local midnight on Monday (Sunday in UTC)
        joined("c", "2026-04-05T23:30:00+10:00", "u1"),  # Sunday after the change: 13:30 UTC
        joined("d", "2026-04-06T00:30:00+10:00", "u2"),  # Monday: 14:30 UTC, same UTC day as c
    ], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.member_growth, "sydney", "week", "2026-03-23", "2026-04-12")) == [
        ["sydney", "2026-03-23", "1", "0", "1", "1"],
        ["sydney", "2026-03-30", "2", "0", "2", "3"],
        ["sydney", "2026-04-06", "1", "0", "1", "4"],
    ]
    assert body(read(config, metrics.member_growth, "sydney", "day", "2026-04-05", "2026-04-06")) == [
        ["sydney", "2026-04-05", "1", "0", "1", "3"],
        ["sydney", "2026-04-06", "1", "0", "1", "4"],
    ]


def test_the_timezone_is_the_latest_upsert_by_time_not_by_arrival(config, tmp_path):
    load(config, [
        ev("city:upserted", "c2", "2026-02-01T00:00:00Z", name="Pune", timezone="Asia/Kolkata"),
        joined("j", "2026-03-01T20:00:00Z", "u1"),  # 01:30 on 03-02 in Kolkata
        ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Pune", timezone="UTC"),
    ], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.member_growth, "sydney", "day", "2026-03-01", "2026-03-02")) == [
        ["sydney", "2026-03-01", "0", "0", "0", "0"],
        ["sydney", "2026-03-02", "1", "0", "1", "1"],
    ]


def test_without_an_upsert_the_configured_default_timezone_applies(make_config, tmp_path):
    config = make_config(analytics={"default_timezone": "America/New_York"})
    load(config, [joined("j", "2026-03-02T03:00:00Z", "u1", city="nyc")], tmp_path / "in")  # 22:00 on 03-01
    build(config)
    assert body(read(config, metrics.member_growth, "nyc", "day", "2026-03-01", "2026-03-02")) == [
        ["nyc", "2026-03-01", "1", "0", "1", "1"],
        ["nyc", "2026-03-02", "0", "0", "0", "1"],
    ]
    assert body(read(config, metrics.cities)) == [["nyc", "", "America/New_York"]]


def test_every_city_in_slug_order_and_unknown_types_name_no_city(config, tmp_path):
    load(config, [
        joined("1", "2026-03-02T00:00:00Z", "u1", city="a2"),
        joined("2", "2026-03-02T00:00:00Z", "u1", city="a-city"),
        joined("3", "2026-03-02T00:00:00Z", "u1", city="a"),
        ev("poll:created", "4", "2026-03-02T00:00:00Z", city="ghost", poll_id="p"),
    ], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.member_growth, "all", "month", "2026-03-01", "2026-03-01")) == [
        ["a", "2026-03-01", "1", "0", "1", "1"],
        ["a-city", "2026-03-01", "1", "0", "1", "1"],
        ["a2", "2026-03-01", "1", "0", "1", "1"],
    ]
    with pytest.raises(metrics.MetricsError, match="ghost"):
        read(config, metrics.member_growth, "ghost", "month", "2026-03-01", "2026-03-01")


def test_a_timezone_duckdb_cannot_use_is_passed_over(config, tmp_path):
    # Ingest only lets tzdata's IANA names through, but DuckDB's own timezone database may lag
    # behind tzdata: the build then keeps the latest usable timezone rather than failing. The
    # unusable upsert is written straight into the stored events (`event_log`, whose `raw` the
    # view `events` reads `data` from), as if ingest had accepted it.
    load(config, [
        ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Pune", timezone="Asia/Kolkata"),
        joined("j", "2026-03-01T20:00:00Z", "u1"),
    ], tmp_path / "in")
    with open_warehouse(config, write=True) as con:
        con.execute(
            """INSERT INTO event_log (seq, source, id, type, time, city, raw, run_id, key_hash)
               SELECT max(seq) + 1, 'platform/test', 'c2', 'city:upserted', '2026-01-02T00:00:00Z', 'sydney',
                      '{"data":{"name":"Pune!","timezone":"localtime"}}', 0, hash('platform/test', 'c2')
               FROM events""")
    build(config)
    assert body(read(config, metrics.cities)) == [["sydney", "Pune!", "Asia/Kolkata"]]
    assert body(read(config, metrics.member_growth, "sydney", "day", "2026-03-02", "2026-03-02")) == [
        ["sydney", "2026-03-02", "1", "0", "1", "1"],
    ]
