"""For random event sets, delivered in random order and batches with redeliveries, the
incremental build equals a full rebuild and the plain-Python reference of the contract, after
every batch. PULSE_PROPERTY_EXAMPLES=N runs N examples (default 30) for a deeper search."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone, UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import metrics
from pulse.core.config import from_dict
from tests.analytics.helpers import build, load, rows
from tests.analytics.reference import Reference

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

TIMEZONES = ["Australia/Sydney", "America/New_York", "UTC", "Asia/Kolkata"]
CITIES = ["syd", "nyc", "a-b"]
USERS = ["u1", "u2", "u3"]
MEETUPS = ["m1", "m2", "m3"]
POSTS = ["p1", "p2"]
VISITORS = ["v1", "v2", "v3"]
TEXT = st.lists(st.sampled_from(["a", " ", ",", '"', "\n", "\r", "é", "e\u0301", "😀", "<b>"]),
                max_size=4).map("".join)
# Around Sydney's end of daylight saving (2026-04-05) and New York's start (2026-03-08), across
# three month ends, in half hours: local midnights of +05:30, +10/+11 and -4/-5 are all reachable.
BASE = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
OFFSETS = [timedelta(0), timedelta(hours=11), timedelta(hours=-5), timedelta(hours=5, minutes=30)]
KINDS = ["city:upserted", "user:joined_city", "user:joined_city", "user:left_city", "user:left_city",
         "event:created", "event:updated", "event:cancelled", "event:rsvp", "event:rsvp",
         "event:checked_in", "event:checked_in", "blog:post_published", "blog:post_viewed",
         "blog:post_viewed", "poll:voted"]
WIDE = (date(2026, 2, 10), date(2026, 5, 20))
NARROW = (date(2026, 3, 25), date(2026, 4, 8))


def rfc3339(draw, moment: datetime) -> str:
    offset = draw(st.sampled_from(OFFSETS))
    local = moment.astimezone(timezone(offset))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond // 1000:03d}"
    elif draw(st.booleans()):
        text += ".000"
    return text + ("Z" if offset == timedelta(0) and draw(st.booleans()) else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])


@st.composite
def scenario(draw):
    pool = draw(st.lists(st.integers(-1920, 1920), min_size=1, max_size=6, unique=True))
    instants = [BASE + timedelta(minutes=30 * k, milliseconds=draw(st.sampled_from([0, 0, 120])))
                for k in pool]
    count = draw(st.integers(1, 35))
    envelopes = []
    for i in range(count):
        kind = draw(st.sampled_from(KINDS))
        moment = draw(st.sampled_from(instants))
        if kind == "city:upserted":
            data = {"name": draw(TEXT), "timezone": draw(st.sampled_from(TIMEZONES))}
        elif kind in ("user:joined_city", "user:left_city"):
            data = {"user_id": draw(st.sampled_from(USERS))}
        elif kind in ("event:created", "event:updated"):
            data = {"event_id": draw(st.sampled_from(MEETUPS))}
            if kind == "event:created" or draw(st.booleans()):
                data["title"] = draw(TEXT)
            if kind == "event:created" or draw(st.booleans()):
                data["starts_at"] = rfc3339(draw, draw(st.sampled_from(instants)))
        elif kind == "event:cancelled":
            data = {"event_id": draw(st.sampled_from(MEETUPS))}
        elif kind == "event:rsvp":
            data = {"event_id": draw(st.sampled_from(MEETUPS)), "user_id": draw(st.sampled_from(USERS)),
                    "status": draw(st.sampled_from(["going", "waitlist", "not_going"]))}
        elif kind == "event:checked_in":
            data = {"event_id": draw(st.sampled_from(MEETUPS)), "user_id": draw(st.sampled_from(USERS))}
        elif kind == "blog:post_published":
            data = {"post_id": draw(st.sampled_from(POSTS)), "title": draw(TEXT)}
        elif kind == "blog:post_viewed":
            data = {"post_id": draw(st.sampled_from(POSTS)), "visitor_id": draw(st.sampled_from(VISITORS))}
        else:
            data = {"poll_id": "x"}
        envelopes.append({
            "specversion": "1.0",
            # a random prefix decides ties in time; the index keeps (source, id) unique
            "id": draw(st.text(alphabet="aZé9", max_size=2)) + str(i),
            "source": draw(st.sampled_from(["platform/au", "platform/nz"])),
            "type": kind, "time": rfc3339(draw, moment), "city": draw(st.sampled_from(CITIES)),
            "data": data,
        })
    arrival = [envelopes[i] for i in draw(st.permutations(range(count)))]
    for _ in range(draw(st.integers(0, 4))):  # redeliveries, after the first delivery
        first = draw(st.integers(0, len(arrival) - 1))
        arrival.insert(draw(st.integers(first + 1, len(arrival))), arrival[first])
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(arrival) - 1)), max_size=3))))
    batches = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)], strict=True) if arrival[a:b]]
    return draw(st.sampled_from(["UTC", "Australia/Sydney"])), batches


def figures(config) -> dict:
    with metrics.connect(config, build_if_stale=False, on_notice=pytest.fail) as con:
        out = {}
        for period in ("day", "week", "month"):
            out[f"member_growth/{period}"] = rows(metrics.member_growth(con, "all", period, *WIDE))
            out[f"blog_views/{period}"] = rows(metrics.blog_views(con, "all", period, *NARROW))
        out["attendance"] = rows(metrics.attendance(con, "all"))
        out["attendance/narrow"] = rows(metrics.attendance(con, "all", *NARROW))
        out["attendance_trend"] = rows(metrics.attendance_trend(con, "all", *WIDE))
        out["top_posts"] = rows(metrics.top_posts(con, "all", *NARROW))
        out["top_posts/1"] = rows(metrics.top_posts(con, "all", *WIDE, limit=1))
        out["cities"] = [[city, tz] for city, _name, tz in rows(metrics.cities(con))[1:]]
    return out


def expected(envelopes, default_timezone) -> dict:
    ref = Reference(envelopes, default_timezone)
    out = {}
    for period in ("day", "week", "month"):
        out[f"member_growth/{period}"] = ref.member_growth("all", period, *WIDE)
        out[f"blog_views/{period}"] = ref.blog_views("all", period, *NARROW)
    out["attendance"] = ref.attendance("all")
    out["attendance/narrow"] = ref.attendance("all", *NARROW)
    out["attendance_trend"] = ref.attendance_trend("all", *WIDE)
    out["top_posts"] = ref.top_posts("all", *NARROW)
    out["top_posts/1"] = ref.top_posts("all", *WIDE, limit=1)
    out["cities"] = [[city, ref.tz[city]] for city in ref.cities]
    return out


def differences(got: dict, want: dict) -> str:
    """Just the metrics and rows that differ, to read a failure at a glance."""
    lines = []
    for name in want:
        if got.get(name) != want[name]:
            lines.append(f"\n{name}:\n  got  {[r for r in got.get(name, []) if r not in want[name]]}"
                         f"\n  want {[r for r in want[name] if r not in got.get(name, [])]}")
    return "".join(lines)


@settings(max_examples=int(os.environ.get("PULSE_PROPERTY_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario())
def test_incremental_equals_full_rebuild_and_the_reference(case):
    default_timezone, batches = case
    # tmpfs when there is one: DuckDB syncs every commit, and this test makes many
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        root = Path(folder)
        config = from_dict({"warehouse": {"data_dir": str(root / "incremental")},
                            "analytics": {"default_timezone": default_timezone}}, base_dir=root)
        delivered = []
        for number, batch in enumerate(batches):
            load(config, batch, root / "in")
            delivered.extend(batch)
            report = build(config)
            assert report.full == (number == 0)
            incremental = figures(config)
            # the same warehouse, rebuilt from scratch
            shutil.copytree(config.data_dir, root / f"full{number}", ignore=shutil.ignore_patterns("*.lock", "tmp"))
            full = config.with_data_dir(root / f"full{number}")
            assert build(full, full=True).full
            where = f"after batch {number + 1} of {len(batches)}"
            assert figures(full) == incremental, where + differences(figures(full), incremental)
            reference = expected(delivered, default_timezone)
            assert incremental == reference, where + differences(incremental, reference)
