"""Meetups, RSVPs, check-ins and attendance, hand-computed from the contract."""

from __future__ import annotations

import pytest

from analytics import metrics
from tests.analytics.helpers import body, build, ev, load, read

SYDNEY = ev("city:upserted", "c1", "2026-01-01T00:00:00Z", name="Sydney", timezone="Australia/Sydney")
MELBOURNE = ev("city:upserted", "c2", "2026-01-01T00:00:00Z", "melbourne", name="Melbourne",
               timezone="Australia/Melbourne")


def created(id, time, event_id, title, starts_at, city="sydney"):
    return ev("event:created", id, time, city, event_id=event_id, title=title, starts_at=starts_at)


def updated(id, time, event_id, city="sydney", **fields):
    return ev("event:updated", id, time, city, event_id=event_id, **fields)


def rsvp(id, time, event_id, user, status):
    return ev("event:rsvp", id, time, event_id=event_id, user_id=user, status=status)


def checked_in(id, event_id, user, time="2026-04-01T20:00:00+11:00"):
    return ev("event:checked_in", id, time, event_id=event_id, user_id=user)


T0 = "2026-02-01T00:00:00Z"
T1 = "2026-02-02T00:00:00Z"
T2 = "2026-02-03T00:00:00Z"


@pytest.fixture
def meetups(config, tmp_path):
    load(config, [
        SYDNEY, MELBOURNE,
        # m0: an earlier meetup where u4 checked in
        created("a0", T0, "m0", "Early", "2026-03-10T18:00:00+11:00"),
        checked_in("k0", "m0", "u4", "2026-03-10T18:30:00+11:00"),
        # m1: created in March; the latest update moves it to 00:30 on 1 April local (still
        # 31 March in UTC); an older update's title loses to the creation's; the newest update
        # carries no title and leaves it alone.
        created("a1", T1, "m1", 'Launch, "night"\n2', "2026-03-31T19:00:00+11:00"),
        updated("a2", T0, "m1", title="Stale title"),
        updated("a3", T2, "m1", starts_at="2026-04-01T00:30:00+11:00"),
        updated("a4", "2026-02-04T00:00:00Z", "m1", venue="The hall"),
        # RSVPs: u1 going then not going; u2 the other way round; u3 two at the same time,
        # "r3b" (going) after "r3a" (waitlist); u4 going; u5 waitlist
        rsvp("r1a", T0, "m1", "u1", "going"), rsvp("r1b", T1, "m1", "u1", "not_going"),
        rsvp("r2a", T0, "m1", "u2", "not_going"), rsvp("r2b", T1, "m1", "u2", "going"),
        rsvp("r3b", T1, "m1", "u3", "going"), rsvp("r3a", T1, "m1", "u3", "waitlist"),
        rsvp("r4", T0, "m1", "u4", "going"), rsvp("r5", T0, "m1", "u5", "waitlist"),
        # check-ins: u2 twice, u4, and two walk-ins (u6 never answered, u1 said not going)
        checked_in("k1", "m1", "u2"), checked_in("k2", "m1", "u2"), checked_in("k3", "m1", "u4"),
        checked_in("k4", "m1", "u6"), checked_in("k5", "m1", "u1"),
        # m2: cancelled; its check-ins still count for first-timers (u7 and u8: their first)
        created("b1", T0, "m2", "Second", "2026-04-20T18:00:00+10:00"),
        ev("event:cancelled", "b2", T1, event_id="m2", reason="rain"),
        rsvp("r7", T0, "m2", "u7", "going"), checked_in("k6", "m2", "u7"),
        checked_in("k7", "m2", "u2"), checked_in("k8", "m2", "u8"),
        # m3 never gets a starts_at: it does not exist, its RSVPs and check-ins count nowhere
        updated("c3", T0, "m3", title="Ghost"),
        rsvp("r8", T0, "m3", "u1", "going"), checked_in("k9", "m3", "u9"),
        # m4: nobody going; a fractional start
        created("d1", T0, "m4", "Empty", "2026-05-02T10:00:00.120+10:00"),
        # m6 and m7 start together: u9's first is m6, by event_id
        created("e7", T0, "m7", "Twin B", "2026-05-10T10:00:00+10:00"),
        created("e6", T0, "m6", "Twin A", "2026-05-10T10:00:00+10:00"),
        checked_in("k10", "m7", "u9"), checked_in("k11", "m6", "u9"),
        # a Melbourne meetup: u6's first there does not make m1 less of a first for u6
        created("f1", T0, "mel1", "Naarm", "2026-02-01T18:00:00+11:00", city="melbourne"),
        checked_in("k12", "mel1", "u6"),
    ], tmp_path / "in")
    build(config)
    return config


def test_one_row_per_meetup_by_starts_at_with_cancelled_ones(meetups):
    assert body(read(meetups, metrics.attendance, "sydney")) == [
        ["sydney", "m0", "Early", "2026-03-10T07:00:00Z", "scheduled", "0", "1", "0", "1", "", "1"],
        ["sydney", "m1", 'Launch, "night"\n2', "2026-03-31T13:30:00Z", "scheduled", "3", "4", "1", "2", "0.6667", "3"],
        ["sydney", "m2", "Second", "2026-04-20T08:00:00Z", "cancelled", "1", "3", "0", "2", "1.0000", "2"],
        ["sydney", "m4", "Empty", "2026-05-02T00:00:00.120Z", "scheduled", "0", "0", "0", "0", "", "0"],
        ["sydney", "m6", "Twin A", "2026-05-10T00:00:00Z", "scheduled", "0", "1", "0", "1", "", "1"],
        ["sydney", "m7", "Twin B", "2026-05-10T00:00:00Z", "scheduled", "0", "1", "0", "1", "", "0"],
    ]
    assert body(read(meetups, metrics.attendance, "melbourne")) == [
        ["melbourne", "mel1", "Naarm", "2026-02-01T07:00:00Z", "scheduled", "0", "1", "0", "1", "", "1"],
    ]


def test_from_and_to_filter_on_the_local_date_of_starts_at(meetups):
    rows = read(meetups, metrics.attendance, "sydney", "2026-04-01", "2026-04-30")
    assert [row[1] for row in body(rows)] == ["m1", "m2"]
    rows = read(meetups, metrics.attendance, "sydney", None, "2026-03-31")
    assert [row[1] for row in body(rows)] == ["m0"]


def test_trend_by_local_month_without_cancelled_meetups(meetups):
    assert body(read(meetups, metrics.attendance_trend, "sydney", "2026-02-15", "2026-06-01")) == [
        ["sydney", "2026-02-01", "0", "0", "0", "0", ""],
        ["sydney", "2026-03-01", "1", "0", "1", "0", ""],
        ["sydney", "2026-04-01", "1", "3", "4", "1", "0.6667"],
        ["sydney", "2026-05-01", "3", "0", "2", "0", ""],
        ["sydney", "2026-06-01", "0", "0", "0", "0", ""],
    ]


def test_attendance_rate_is_rounded_half_up_exactly(config, tmp_path):
    # 1 of 32 going came: 0.03125 exactly, which half-even (and binary float) round to 0.0312.
    going = [rsvp(f"r{i:02d}", T0, "m", f"u{i:02d}", "going") for i in range(32)]
    load(config, [SYDNEY, created("a", T0, "m", "M", "2026-03-10T18:00:00+11:00"), *going,
                  checked_in("k", "m", "u00")], tmp_path / "in")
    build(config)
    [row] = body(read(config, metrics.attendance, "sydney"))
    assert row[5:10] == ["32", "1", "31", "0", "0.0313"]
    [row] = body(read(config, metrics.attendance_trend, "sydney", "2026-03-01", "2026-03-31"))
    assert row[3:] == ["32", "1", "31", "0.0313"]


def test_a_meetup_exists_once_title_and_starts_at_are_known_from_any_events(config, tmp_path):
    load(config, [
        SYDNEY,
        updated("u1", T1, "m", starts_at="2026-03-10T18:00:00+11:00"),
        rsvp("r", T0, "m", "u1", "going"),
    ], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.attendance, "sydney")) == []
    load(config, [updated("u2", T0, "m", title="Late title")], tmp_path / "in")
    build(config)
    assert body(read(config, metrics.attendance, "sydney")) == [
        ["sydney", "m", "Late title", "2026-03-10T07:00:00Z", "scheduled", "1", "0", "1", "0", "0.0000", "0"],
    ]
