"""The demo stream generator, checked against the contract by a small checker written here from
../shared/event-stream.md (not from the generator), and for the shape a demo needs."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from pulse import demo as demo_data
from tests.support.contract import (
    STATUSES,
    TYPES,
    ZONES,
    canonical,
    classify_files,
    parse_time,
    read_lines,
    reject_reason,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
# ---------------------------------------------------------------------------------------------
# Fixtures: one year at scale 1 (about 17k events), generated once per module.


@pytest.fixture(scope="module")
def events():
    return list(demo_data.generate_events(now=NOW))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo_data.generate_files(out, now=NOW)
    return out, summary


@pytest.fixture(scope="module")
def classified(files):
    out, summary = files
    return classify_files(out, summary["files"])


def by_type(events, typ):
    return [e for e in events if e["type"] == typ]


def instant(e) -> datetime:
    return parse_time(e["time"])


# ---------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def run(name, seed):
        out = tmp_path / name
        summary = demo_data.generate_files(out, seed=seed, now=NOW, days=120, scale=0.5)
        return summary, {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    first, second, other = run("a", 11), run("b", 11), run("c", 12)
    assert first == second
    assert first[1] and other[1] != first[1]


def test_generate_events_is_repeatable_and_the_files_hold_exactly_those_events(events, classified):
    again = list(demo_data.generate_events(now=NOW))
    assert again == events
    accepted, *_ = classified
    known = [e for e in accepted if not e["type"].startswith("poll:")]
    assert Counter(canonical(e) for e in known) == Counter(canonical(e) for e in events)


# ---------------------------------------------------------------------------------------------
# Every clean event follows the contract


def test_every_generated_event_is_valid_by_the_contract(events):
    assert len(events) > 5000
    bad = [(reject_reason(e), e) for e in events if reject_reason(e) is not None]
    assert bad == []
    assert all(list(e) == ["specversion", "id", "source", "type", "time", "city", "data"]
               for e in events)
    keys = Counter((e["source"], e["id"]) for e in events)
    assert max(keys.values()) == 1, "source + id must identify one event"
    assert {e["type"] for e in events} == set(TYPES)


def test_times_carry_the_citys_local_offset_some_in_utc_and_are_in_the_window(events):
    zones = {e["city"]: e["data"]["timezone"] for e in by_type(events, "city:upserted")}
    assert set(zones) == {c["slug"] for c in demo_data.REGION}
    assert all(z in ZONES for z in zones.values())
    kinds = Counter()
    for e in events:
        t = instant(e)
        assert NOW - timedelta(days=365) <= t <= NOW, e
        if e["time"].endswith("Z"):
            kinds["utc"] += 1
            continue
        kinds["local"] += 1
        assert t.utcoffset() == t.astimezone(ZoneInfo(zones[e["city"]])).utcoffset(), e
        for key in ("starts_at", "ends_at"):
            if key in e["data"]:
                s = parse_time(e["data"][key])
                assert s.utcoffset() == s.astimezone(ZoneInfo(zones[e["city"]])).utcoffset(), e
        if "." not in e["time"]:
            kinds["whole_seconds"] += 1
    assert kinds["utc"] > 0.01 * len(events)
    assert kinds["local"] > 0.9 * len(events)
    assert kinds["whole_seconds"] > 0


def test_a_dst_change_has_events_on_both_sides_within_two_hours(events):
    tz = ZoneInfo("Australia/Sydney")
    # the DST changes in the window, found by walking hours with zoneinfo
    changes = []
    t = NOW - timedelta(days=365)
    while t < NOW:
        if t.astimezone(tz).utcoffset() != (t + timedelta(hours=1)).astimezone(tz).utcoffset():
            changes.append(t + timedelta(hours=1))
        t += timedelta(hours=1)
    assert len(changes) == 2
    sydney = [instant(e) for e in events if e["city"] == "sydney"]
    for change in changes:
        before = [t for t in sydney if change - timedelta(hours=2) <= t < change]
        after = [t for t in sydney if change <= t < change + timedelta(hours=2)]
        assert before and after, change
        offsets = {e["time"][-6:] for e in events if e["city"] == "sydney"
                   and abs(instant(e) - change) < timedelta(hours=2) and not e["time"].endswith("Z")}
        assert offsets == {"+10:00", "+11:00"}


# ---------------------------------------------------------------------------------------------
# The shape of a year: members, meetups, blog


def test_cities_upserted_first_and_one_renamed(events):
    ups = sorted(by_type(events, "city:upserted"), key=instant)
    first_by_city = {}
    for e in ups:
        first_by_city.setdefault(e["city"], instant(e))
    earliest = min(instant(e) for e in events if e["type"] != "city:upserted")
    assert all(t < earliest for t in first_by_city.values())
    names = defaultdict(list)
    for e in ups:
        names[e["city"]].append(e["data"]["name"])
    renamed = {c: n for c, n in names.items() if len(set(n)) > 1}
    assert len(renamed) == 1 and all(len(n) == 2 for n in renamed.values())
    assert {e["data"]["region"] for e in ups} == {"apac"}


def test_edge_cases_a_tie_decided_by_id_and_an_id_shared_by_two_sources(events):
    membership = defaultdict(list)
    for e in events:
        if e["type"] in ("user:joined_city", "user:left_city"):
            membership[(e["city"], e["data"]["user_id"], instant(e))].append(e)
    ties = [sorted(group, key=lambda e: e["id"]) for group in membership.values() if len(group) > 1]
    assert [[e["type"] for e in g] for g in ties] == [["user:joined_city", "user:left_city"]]
    sources = defaultdict(set)
    for e in events:
        sources[e["id"]].add(e["source"])
    assert [len(s) for s in sources.values() if len(s) > 1] == [2]


def test_members_join_with_growth_leave_rejoin_and_some_joins_repeat(events):
    per_user = defaultdict(list)
    for e in sorted(events, key=lambda e: (instant(e), e["id"])):
        if e["type"] in ("user:joined_city", "user:left_city"):
            per_user[(e["city"], e["data"]["user_id"])].append(e["type"].split(":")[1])
    joined = Counter(city for (city, _), seq in per_user.items() if "joined_city" in seq)
    assert all(150 <= n <= 1000 for n in joined.values()), joined
    patterns = Counter()
    for seq in per_user.values():
        member = left_before = False
        for step in seq:
            if step == "joined_city":
                patterns["repeat_join" if member else "rejoin" if left_before else "join"] += 1
                member = True
            elif member:
                patterns["leave"] += 1
                member, left_before = False, True
            else:
                patterns["leave_non_member"] += 1
    assert patterns["leave"] > 50 and patterns["rejoin"] > 5
    assert patterns["repeat_join"] > 5 and patterns["leave_non_member"] > 0
    # growth: more joins in the last quarter than in the first
    joins = [instant(e) for e in by_type(events, "user:joined_city")]
    q1 = sum(t < NOW - timedelta(days=270) for t in joins)
    q4 = sum(t >= NOW - timedelta(days=91) for t in joins)
    assert q4 > 1.5 * q1


def test_meetups_rsvps_checkins_walk_ins_and_no_shows(events):
    created = {e["data"]["event_id"]: e for e in by_type(events, "event:created")}
    # about 2-4 meetups a month per city, by starts_at
    months = Counter((e["city"], e["data"]["starts_at"][:7]) for e in created.values()
                     if parse_time(e["data"]["starts_at"]) < NOW - timedelta(days=40))
    per_month = [n for (city, month), n in months.items() if month > "2025-04"]
    assert 1.8 <= sum(per_month) / len(per_month) <= 4.5
    for e in created.values():
        local = parse_time(e["data"]["starts_at"])
        assert 17 <= local.hour <= 19, e  # evenings, local time
        assert instant(e) < local
    latest = {}
    statuses = defaultdict(list)
    for e in sorted(by_type(events, "event:rsvp"), key=lambda e: (instant(e), e["id"])):
        key = (e["data"]["event_id"], e["data"]["user_id"])
        statuses[key].append(e["data"]["status"])
        latest[key] = e["data"]["status"]
    assert set(latest.values()) == STATUSES
    assert sum(len(set(s)) > 1 for s in statuses.values()) > 50  # people change their minds
    checked = {(e["data"]["event_id"], e["data"]["user_id"])
               for e in by_type(events, "event:checked_in")}
    going = {k for k, s in latest.items() if s == "going"}
    past = {k for k in going if k[0] in created
            and parse_time(created[k[0]]["data"]["starts_at"]) < NOW - timedelta(days=1)}
    shows = len(past & checked) / len(past)
    assert 0.6 <= shows <= 0.9, shows  # most going users come, some don't
    assert len(checked - going) > 20  # walk-ins
    # RSVPs for a meetup that was never created
    assert {k[0] for k in latest} - set(created)


def test_updates_cancellations_and_a_meetup_moved_into_the_next_month(events):
    created = {e["data"]["event_id"]: e for e in by_type(events, "event:created")}
    updated = by_type(events, "event:updated")
    assert any("title" in e["data"] for e in updated)
    moved = [e for e in updated if "starts_at" in e["data"]
             and e["data"]["starts_at"][:7] != created[e["data"]["event_id"]]["data"]["starts_at"][:7]]
    assert moved
    cancelled = {e["data"]["event_id"] for e in by_type(events, "event:cancelled")}
    assert 1 <= len(cancelled) <= 0.1 * len(created)
    checked = {e["data"]["event_id"] for e in by_type(events, "event:checked_in")}
    assert not cancelled & checked


def test_a_few_meetups_are_upcoming_with_rsvps_but_no_check_ins(events):
    upcoming = {e["data"]["event_id"] for e in by_type(events, "event:created")
                if NOW + timedelta(days=14) <= parse_time(e["data"]["starts_at"])
                <= NOW + timedelta(days=42)}
    assert len(upcoming) >= 3
    rsvped = {e["data"]["event_id"] for e in by_type(events, "event:rsvp")}
    checked = {e["data"]["event_id"] for e in by_type(events, "event:checked_in")}
    assert len(upcoming & rsvped) >= 3
    assert not upcoming & checked


def test_blog_titles_are_user_text_and_visitors_come_back_on_other_days(events):
    titles = [e["data"]["title"] for e in by_type(events, "blog:post_published")]
    assert any("<script>alert(1)</script>" in t for t in titles)
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in titles)  # emoji
    assert any(any(0x7F < ord(ch) <= 0xFFFF for ch in t) for t in titles)  # other non-ASCII
    per_city_month = Counter((e["city"], e["time"][:7]) for e in by_type(events, "blog:post_published"))
    assert 1 <= sum(per_city_month.values()) / len(per_city_month) <= 3.5
    views = by_type(events, "blog:post_viewed")
    days = defaultdict(set)
    for e in views:
        days[e["data"]["visitor_id"]].add(e["time"][:10])
    assert sum(len(d) > 1 for d in days.values()) > 50
    assert any("user_id" in e["data"] for e in views)
    assert any("referrer" in e["data"] for e in views)
    assert any("referrer" not in e["data"] for e in views)


def test_arrival_is_mostly_by_time_but_some_events_are_late(events):
    times = [instant(e) for e in events]
    in_order = sum(a <= b for a, b in zip(times, times[1:], strict=False))
    assert 0.9 * len(times) < in_order < len(times) - 1
    latest = times[0]
    late_by_a_day = 0
    for t in times:
        if latest - t > timedelta(days=1):
            late_by_a_day += 1
        latest = max(latest, t)
    assert late_by_a_day > 10


# ---------------------------------------------------------------------------------------------
# The exporter's files


def test_files_are_monthly_in_path_order_the_oldest_gzipped(files):
    out, summary = files
    names = sorted(p.name for p in out.iterdir())
    assert names == summary["files"]
    assert all(re.fullmatch(r"events-\d{4}-\d{2}\.ndjson(\.gz)?", n) for n in names)
    months = [n[7:14] for n in names]
    expected, y, m = [], NOW.year - 1, NOW.month
    while (y, m) <= (NOW.year, NOW.month):
        expected.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    assert months == expected
    assert [n.endswith(".gz") for n in names] == [True] + [False] * (len(names) - 1)
    with gzip.open(out / names[0], "rt", encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert first["type"] == "city:upserted"
    assert sum(len(read_lines(out / n)) for n in names) == summary["lines"]


def test_every_intended_dirty_line_is_where_the_summary_says_with_its_reason(files, classified):
    out, summary = files
    _, _, rejects, blanks = classified
    intended = sorted((d["file"], d["line"], d["reason"]) for d in summary["dirty_lines"]
                      if d["reason"] is not None)
    assert sorted(rejects) == intended
    assert sorted(blanks) == sorted((d["file"], d["line"]) for d in summary["dirty_lines"]
                                    if d["reason"] is None)
    assert {d["kind"] for d in summary["dirty_lines"]} == set(demo_data.DIRTY_KINDS)
    reasons = {r for *_, r in rejects}
    assert reasons >= {"invalid_utf8", "invalid_json", "not_object", "missing_time", "bad_time",
                       "bad_city", "bad_field:status", "bad_field:capacity",
                       "bad_field:timezone", "conflicting_duplicate"}
    assert Counter(r for *_, r in rejects) == Counter(summary["dirty"])
    assert summary["blank_lines"] == len(blanks) >= 1


def test_unknown_types_are_valid_events_that_are_kept(files, classified):
    out, summary = files
    accepted, *_ = classified
    unknown = [e for e in accepted if e["type"] not in TYPES]
    assert len(unknown) == summary["unknown_type_events"] == 2
    assert {e["type"] for e in unknown} == {"poll:created", "poll:voted"}


def test_redeliveries_are_byte_identical_lines_some_in_a_later_file(files, classified):
    out, summary = files
    accepted, redelivered, rejects, _ = classified
    assert redelivered and all(copy == first for copy, first, _, _ in redelivered)
    assert len(redelivered) == summary["redeliveries"]
    assert 0.005 * summary["events"] < len(redelivered) < 0.02 * summary["events"]
    assert any(f != first_file for _, _, f, first_file in redelivered)
    assert summary["events"] == len(accepted) - summary["unknown_type_events"]
    assert summary["lines"] == (summary["events"] + summary["redeliveries"]
                                + summary["unknown_type_events"] + len(summary["dirty_lines"]))


def test_clean_files_without_redeliveries(tmp_path):
    summary = demo_data.generate_files(tmp_path, now=NOW, days=60, scale=0.3, dirty=False,
                                       redeliver=0)
    accepted, redelivered, rejects, blanks = classify_files(tmp_path, summary["files"])
    assert (redelivered, rejects, blanks) == ([], [], [])
    assert len(accepted) == summary["events"] == summary["lines"]
    assert summary["dirty"] == {} and summary["unknown_type_events"] == 0


# ---------------------------------------------------------------------------------------------
# Writer and scale


@pytest.mark.parametrize("compress", [False, True])
def test_write_events_round_trips_any_envelope(tmp_path, events, compress):
    odd = [
        {"specversion": "1.0", "id": 'a"b\\c', "source": "platform/x", "type": "t", "time": "z",
         "city": "sydney", "data": {"title": "<b>\u2028</b>\n\t😀"}},
        {"specversion": "1.0", "id": "é", "source": "s", "type": "t", "time": "t", "city": "c",
         "data": {"n": 1.0, "m": 1, "x": None, "l": [True, False]}},
        {"id": "1", "specversion": "1.0"},
        [1, 2],
    ]
    records = events[:500] + odd
    path = tmp_path / ("x.ndjson.gz" if compress else "x.ndjson")
    assert demo_data.write_events(path, iter(records), gzip=compress) == len(records)
    lines = read_lines(path)
    assert [json.loads(x) for x in lines] == records
    assert lines == [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()
                     for r in records]


def test_scale_grows_the_stream_and_events_for_scale_hits_a_target(events):
    small = sum(1 for _ in demo_data.generate_events(now=NOW, scale=0.5))
    big = sum(1 for _ in demo_data.generate_events(now=NOW, scale=3))
    assert small < len(events) < big
    assert 4.0 < big / small < 8.0
    scale = demo_data.events_for_scale(80_000, now=NOW)
    n = sum(1 for _ in demo_data.generate_events(now=NOW, scale=scale))
    assert 0.9 * 80_000 <= n <= 1.1 * 80_000


def test_other_cities_and_bad_arguments():
    cities = [{"slug": "reykjavik", "name": "Reykjavík", "timezone": "Atlantic/Reykjavik",
               "region": "emea"},
              {"slug": "st-johns", "name": "St. John's", "timezone": "America/St_Johns"}]
    evs = list(demo_data.generate_events(now=NOW, days=90, cities=cities))
    assert {e["city"] for e in evs} == {"reykjavik", "st-johns"}
    assert all(reject_reason(e) is None for e in evs)
    assert {e["time"][-6:] for e in evs if e["city"] == "st-johns" and e["time"][-1] != "Z"} \
        <= {"-03:30", "-02:30"}
    with pytest.raises(ValueError):
        list(demo_data.generate_events(now=NOW, cities=[{"slug": "Sydney!", "name": "S",
                                                         "timezone": "Australia/Sydney"}]))
    with pytest.raises(LookupError):  # zoneinfo's ZoneInfoNotFoundError
        list(demo_data.generate_events(now=NOW, cities=[{"slug": "x", "name": "X",
                                                         "timezone": "Mars/Olympus"}]))
