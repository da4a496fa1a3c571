"""A deterministic generator of a realistic platform event stream, for demos, tests and benchmarks.

Pure standard library. The stream follows ``../shared/event-stream.md`` (CloudEvents 1.0
envelopes, one JSON object per line) and reproduces what Pulse has to cope with in production:

* a year of activity per city chapter: members joining with growth, leaving, rejoining, a few
  duplicated joins; meetups (created, updated, cancelled, RSVPs and RSVP changes, check-ins,
  walk-ins, no-shows, a few upcoming ones after ``now``); blog posts and their views;
* ``city:upserted`` for every city near the start, a later rename, timezones with and without
  daylight saving, and some activity right around each DST change;
* ``time`` in the city's local offset (a few in UTC ``Z``, a few without a fraction);
* arrival order mostly by time, locally shuffled, a small fraction arriving days late;
* from :func:`generate_files`: monthly NDJSON files as the exporter writes them (the oldest
  gzipped), redeliveries (byte-identical lines), dirty lines of every reject reason, blank lines
  and events of an unknown type.

Everything is a function of ``seed``, ``now``, ``days``, ``cities`` and ``scale``: the same
arguments give the same bytes.
"""

from __future__ import annotations

import gc
import gzip as _gzip
import heapq
import itertools
import json
import math
import random
import re
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from pulse.demo import words
from pulse.demo.clock import DAY_MS, HOUR_MS, MIN_MS, Clock, date_str, fmt_utc, to_ms
from pulse.demo.region import REGION, normalise_cities

__all__ = [
    "REGION",
    "DIRTY_KINDS",
    "generate_events",
    "generate_files",
    "write_events",
    "events_for_scale",
]

_PLAIN = re.compile(r'[\x20\x21\x23-\x5b\x5d-\x7e]*')  # printable ASCII but " and \\

# The dirty lines generate_files(dirty=True) writes: kind -> the reject reason the contract
# gives it (``None``: a blank line, skipped rather than rejected).
DIRTY_KINDS: dict[str, str | None] = {
    "invalid_utf8": "invalid_utf8",
    "cut_short": "invalid_json",
    "not_json": "invalid_json",
    "json_array": "not_object",
    "bad_specversion": "bad_specversion",
    "missing_id": "missing_id",
    "empty_id": "bad_id",
    "missing_time": "missing_time",
    "time_without_offset": "bad_time",
    "time_not_an_instant": "bad_time",
    "missing_city": "missing_city",
    "bad_city": "bad_city",
    "missing_data": "missing_data",
    "data_not_object": "bad_data",
    "join_without_user": "missing_field:user_id",
    "numeric_user_id": "bad_field:user_id",
    "rsvp_maybe": "bad_field:status",
    "negative_capacity": "bad_field:capacity",
    "starts_at_without_offset": "bad_field:starts_at",
    "unknown_timezone": "bad_field:timezone",
    "conflicting_duplicate": "conflicting_duplicate",
    "blank_empty": None,
    "blank_whitespace": None,
}

# ---------------------------------------------------------------------------------------------
# Helpers

# local-hour activity profile for joins (index = local hour)
_ACTIVITY = [1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.2, 2.5, 2.5, 2.4,
             2.6, 2.5, 2.3, 2.2, 2.2, 2.4, 2.8, 3.0, 2.9, 2.5, 2.0, 1.5]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _sround(rng: random.Random, x: float) -> int:
    i = int(x)
    return i + (rng.random() < x - i)


class _Pool:
    """A set of user ids with O(1) add, remove and random choice (in a deterministic order)."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.pos: dict[str, int] = {}

    def add(self, uid: str) -> None:
        if uid not in self.pos:
            self.pos[uid] = len(self.items)
            self.items.append(uid)

    def remove(self, uid: str) -> None:
        i = self.pos.pop(uid, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.pos[last] = i


# ---------------------------------------------------------------------------------------------
# The stream

def _stream(*, seed: int, now: datetime, days: int, cities: Iterable[Mapping[str, Any]],
            scale: float) -> Iterator[tuple[int, str, str, str, str, str, dict]]:
    """Yield ``(arrival_day, id, source, type, time, city, data)`` in arrival order.

    ``arrival_day`` counts days since 1970-01-01 (UTC). Tuples, not envelopes: cheaper, and
    generate_files() turns them straight into lines.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(seed)
    rnd = rng.random

    # cheaper than Random.randrange/randint and just as deterministic
    def randrange(n: int) -> int:
        return int(rnd() * n)

    def randint(a: int, b: int) -> int:
        return a + int(rnd() * (b - a + 1))

    expo = rng.expovariate

    cities = normalise_cities(cities)
    ncity = len(cities)
    now_ms = to_ms(now)
    start_ms = now_ms - days * DAY_MS
    first_day = start_ms // DAY_MS
    last_day = now_ms // DAY_MS
    region = cities[0]["region"] or "demo"
    source = f"platform/{region}"
    if not _PLAIN.fullmatch(source):
        raise ValueError(f"region {region!r} makes an odd source {source!r}")
    clocks = [Clock(c["timezone"], start_ms - 3 * DAY_MS, now_ms + 100 * DAY_MS) for c in cities]
    slugs = [c["slug"] for c in cities]
    names = [c["name"] for c in cities]

    buckets: dict[int, list] = defaultdict(list)  # utc day -> [(t, seq, type, city index, data)]
    changes: dict[int, list] = defaultdict(list)  # utc day -> [(city index, user id, join?)]
    next_seq = itertools.count(1).__next__  # ties in time keep the order of planning
    cur_day = first_day

    def put(t: int, typ: str, ci: int, data: dict) -> None:
        if t > now_ms:
            return
        d = t // DAY_MS
        if d < cur_day:  # never schedule into a day already emitted
            d = cur_day
        buckets[d].append((t, next_seq(), typ, ci, data))

    counters = {"u": 1000, "m": 0, "p": 0}

    def new_user() -> str:
        counters["u"] += 1
        return f"u_{counters['u']}"

    next_visitor = itertools.count(1).__next__

    def new_visitor() -> str:
        k = next_visitor()
        return f"v_{k * 2654435761 % 4294967296:08x}{k % 97:02d}"

    pools = [_Pool() for _ in cities]
    regulars: list[list[str]] = [[] for _ in cities]
    visitors: list[list[str]] = [[] for _ in cities]
    series = []
    for c in cities:
        short = c.get("short") or c["name"]
        series.append([s.format(c=short) for s in rng.sample(words.SERIES, 4)])
    venues = [words.VENUES.get(c["slug"]) or [f"{c['name']} Library, Meeting Room 2",
                                         f"{c['name']} Tech Hub", f"{c['name']} Town Hall Annex"]
              for c in cities]
    recent_titles: list[list[str]] = [[] for _ in cities]

    # --- fixed events: city:upserted, the rename, edge cases -------------------------------
    for ci, c in enumerate(cities):
        data = {"name": c["name"], "timezone": c["timezone"]}
        if c["region"]:
            data["region"] = c["region"]
        put(start_ms + 60_000 + ci * 37_000 + randrange(1000), "city:upserted", ci, data)
    for ci, c in enumerate(cities):
        if c.get("rename"):
            t = start_ms + int(days * 0.45 * DAY_MS) + randrange(DAY_MS)
            data = {"name": c["rename"], "timezone": c["timezone"]}
            if c["region"]:
                data["region"] = c["region"]
            put(t, "city:upserted", ci, data)
            break

    # a join and a leave of one user at the very same instant: the id decides the order
    t_tie = start_ms + int(days * 0.6 * DAY_MS) // 1000 * 1000
    uid = new_user()
    put(t_tie, "user:joined_city", 0, {"user_id": uid})
    put(t_tie, "user:left_city", 0, {"user_id": uid})
    # leaves of users who never joined (no-ops for membership)
    for k in range(max(2, ncity)):
        put(start_ms + randrange(days * DAY_MS), "user:left_city", k % ncity,
            {"user_id": new_user()})
    # RSVPs and a check-in for a meetup that never gets created (count nowhere)
    t_ghost = start_ms + int(days * 0.3 * DAY_MS)
    for k in range(3):
        put(t_ghost + k * 7 * MIN_MS, "event:rsvp", ncity - 1,
            {"event_id": "m_ghost_1", "user_id": new_user(), "status": "going"})
    put(t_ghost + 2 * DAY_MS, "event:checked_in", ncity - 1,
        {"event_id": "m_ghost_1", "user_id": new_user()})
    # an event whose id is reused by another source: a different event, not a duplicate
    xsrc_data = {"post_id": "p_1", "visitor_id": new_visitor(), "referrer": ""}
    put(start_ms + int(days * 0.5 * DAY_MS) + 1, "blog:post_viewed", 0, xsrc_data)

    # joins right around each DST change, scheduled now; the pool learns of them on the day
    dst_meetups = []
    for ci, clock in enumerate(clocks):
        for tr in clock.transitions:
            if start_ms + 2 * DAY_MS < tr < now_ms - 2 * DAY_MS:
                for m in (-95, -31, -1, 1, 29, 93):
                    uid = new_user()
                    t = tr + m * MIN_MS + randrange(60_000)
                    put(t, "user:joined_city", ci, {"user_id": uid})
                    changes[t // DAY_MS].append((ci, uid, True))
                ld = clock.local_date(tr + 3 * HOUR_MS)
                ts = clock.local(ld.year, ld.month, ld.day, 18, 0)
                tc = ts - 20 * DAY_MS - randrange(DAY_MS)
                if tc >= start_ms + 2 * DAY_MS:
                    dst_meetups.append((tc, ts, ci, "dst", None))

    # --- meetup and blog plans ----------------------------------------------------------------
    meetups = list(dst_meetups)
    posts = []
    for ci, clock in enumerate(clocks):
        d0 = clock.local_date(start_ms)
        d1 = clock.local_date(now_ms + 45 * DAY_MS)
        y, mo = d0.year, d0.month
        while (y, mo) <= (d1.year, d1.month):
            ndays = ((date(y + (mo == 12), mo % 12 + 1, 1)) - date(y, mo, 1)).days
            for _ in range(_sround(rng, rng.choice((2, 3, 3, 4)) * scale)):
                day = randint(1, ndays)
                if date(y, mo, day).weekday() >= 4 and rnd() < 0.7:
                    day = randint(1, ndays)
                h, mi = rng.choice(((18, 0), (18, 30), (18, 30), (19, 0), (17, 30)))
                ts = clock.local(y, mo, day, h, mi)
                tc = ts - int(rng.uniform(10, 35) * DAY_MS)
                if start_ms + 2 * DAY_MS <= tc <= now_ms:
                    meetups.append((tc, ts, ci, "normal", None))
            for _ in range(_sround(rng, rng.choice((1, 2, 2, 3)) * scale)):
                day = randint(1, ndays)
                tp = clock.local(y, mo, day, randint(8, 11), randint(0, 59)) + randrange(60_000)
                if start_ms + 3 * DAY_MS <= tp <= now_ms:
                    posts.append((tp, ci, None))
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)

    # a few upcoming meetups (2-6 weeks after now), announced in the last days
    for ci, clock in enumerate(clocks):
        ld = clock.local_date(now_ms + randint(15, 40) * DAY_MS)
        ts = clock.local(ld.year, ld.month, ld.day, 18, 30)
        tc = now_ms - randint(2, 12) * DAY_MS - randrange(DAY_MS)
        if tc > start_ms:
            meetups.append((tc, ts, ci, "upcoming", None))
    # one meetup that an update moves into the next month
    ld = clocks[0].local_date(start_ms + days * DAY_MS // 2)
    ts = clocks[0].local(ld.year, ld.month, 27, 19, 0)
    if ts - 21 * DAY_MS > start_ms + 2 * DAY_MS and ts + 7 * DAY_MS < now_ms:
        meetups.append((ts - 21 * DAY_MS + randrange(HOUR_MS), ts, 0, "moves_month",
                        ts + 6 * DAY_MS))
    # posts with titles that are not plain ASCII text
    def city_index(slug: str, fallback: int) -> int:
        return slugs.index(slug) if slug in slugs else fallback % ncity

    specials = [
        (0, "Security night recap: <script>alert(1)</script> is not a title"),
        (city_index("auckland", 3), "Tāmaki Makaurau meetup recap: kia ora 👋🎉"),
        (city_index("singapore", 4), "新加坡 Python 聚会回顾 🚀 — async & \"quotes\""),
        (city_index("melbourne", 1), "Café ☕ & Kaffeeklatsch: Zürich-style code review"),
    ]
    for k, (ci, title) in enumerate(specials):
        tp = start_ms + int(days * (0.2 + 0.15 * k) * DAY_MS) + randrange(DAY_MS)
        posts.append((tp, ci, title))

    meetups.sort(key=lambda m: (m[0], m[1], m[2]))
    posts.sort(key=lambda p: (p[0], p[1]))

    # --- per-meetup lifecycle ---------------------------------------------------------------
    def plan_meetup(tc: int, ts: int, ci: int, kind: str, moved_to: int | None) -> None:
        counters["m"] += 1
        mid = f"m_{counters['m']}"
        clock = clocks[ci]
        r = rnd()
        if r < 0.12 and kind == "normal":
            title = f"{rng.choice(series[ci])} #{counters['m']}"
        else:
            title = f"{rng.choice(series[ci])}: {rng.choice(words.TOPICS)}"
        recent_titles[ci].append(title)
        if len(recent_titles[ci]) > 8:
            del recent_titles[ci][0]
        venue = rng.choice(venues[ci])
        length = rng.choice((2, 2, 3)) * HOUR_MS
        data = {"event_id": mid, "title": title, "starts_at": clock.fmt(ts),
                "ends_at": clock.fmt(ts + length), "venue": venue,
                "url": f"https://community.example.org/{slugs[ci]}/events/{mid}"}
        cap = None
        if rnd() < 0.8:
            cap = rng.choice((30, 40, 50, 60, 80, 100, 120, 150))
            data["capacity"] = cap
        r = rnd()
        if r < 0.25:
            data["description"] = f"{title} at {venue}. Everyone welcome, no experience needed."
        elif r < 0.26:
            data["description"] = words.LONG_DESCRIPTION
        if rnd() < 0.2:
            data["image_url"] = f"https://cdn.example.org/events/{mid}.jpg"
        put(tc, "event:created", ci, data)

        final = ts
        cancelled = None
        if kind == "moves_month":
            tu = ts - 4 * DAY_MS - randrange(DAY_MS)
            put(tu, "event:updated", ci, {"event_id": mid, "starts_at": clock.fmt(moved_to),
                                          "ends_at": clock.fmt(moved_to + length)})
            final = moved_to
        elif kind == "normal":
            r = rnd()
            if r < 0.06:  # the title changes
                tu = tc + int((ts - tc) * rng.uniform(0.2, 0.9))
                put(tu, "event:updated", ci, {"event_id": mid, "title": title + " (venue change)"
                                              if rnd() < 0.5 else f"{title} — new speaker"})
            elif r < 0.12:  # starts_at moves
                shift = rng.choice((DAY_MS, 2 * DAY_MS, -DAY_MS, 30 * MIN_MS, 7 * DAY_MS))
                tu = tc + int((min(ts, ts + shift) - tc) * rng.uniform(0.2, 0.8))
                final = ts + shift
                upd = {"event_id": mid, "starts_at": clock.fmt(final),
                       "ends_at": clock.fmt(final + length)}
                if rnd() < 0.3:
                    upd["venue"] = rng.choice(venues[ci])
                put(tu, "event:updated", ci, upd)
            elif r < 0.15:
                cancelled = tc + int((ts - tc) * rng.uniform(0.3, 0.95))
                data_c = {"event_id": mid}
                if rnd() < 0.8:
                    data_c["reason"] = rng.choice(words.REASONS)
                put(cancelled, "event:cancelled", ci, data_c)

        # RSVPs
        end = final - 30 * MIN_MS
        if cancelled is not None:
            end = cancelled
        window = end - tc
        if window <= HOUR_MS:
            return
        n = randint(12, 60)
        if end > now_ms:  # still open: only the part before now has happened
            n = max(3, int(n * max(0.3, (now_ms - tc) / window)))
            end = now_ms
            window = end - tc
        pool = pools[ci].items
        n = min(n, len(pool) // 2 + 3)
        chosen: dict[str, None] = {}
        regs = regulars[ci]
        members = pools[ci].pos
        if regs:
            for _ in range(n // 2):
                u = regs[randrange(len(regs))]
                if u in members:
                    chosen[u] = None
        if pool:
            for _ in range(n * 2):
                if len(chosen) >= n:
                    break
                chosen[pool[randrange(len(pool))]] = None
        going = []
        rest = []
        ngoing = 0
        for u in chosen:
            r = rnd()
            if r < 0.78:
                st = "going" if cap is None or ngoing < cap else "waitlist"
            elif r < 0.88:
                st = "not_going"
            else:
                st = "waitlist"
            ngoing += st == "going"
            u1 = rnd()
            if rnd() < 0.5:
                u1 *= u1
            t = tc + int(window * u1)
            put(t, "event:rsvp", ci, {"event_id": mid, "user_id": u, "status": st})
            if rnd() < 0.12:  # changes their mind later
                t2 = t + 1000 + int((end - t) * rnd())
                if st == "going":
                    st = "not_going" if rnd() < 0.7 else "waitlist"
                else:
                    st = "going"
                put(t2, "event:rsvp", ci, {"event_id": mid, "user_id": u, "status": st})
            (going if st == "going" else rest).append(u)

        # check-ins, no-shows, walk-ins
        if cancelled is not None or final > now_ms:
            return
        show = rng.uniform(0.6, 0.9)
        for u in going:
            if rnd() < show:
                t = final + randint(-25, 50) * MIN_MS + randrange(60_000)
                put(t, "event:checked_in", ci, {"event_id": mid, "user_id": u})
                if rnd() < 0.01:  # the scanner fired twice
                    put(t + randint(2, 40) * 1000, "event:checked_in", ci,
                        {"event_id": mid, "user_id": u})
        for _ in range(randint(0, 4)):
            r = rnd()
            if rest and r < 0.4:
                u = rest[randrange(len(rest))]
            elif pool and r < 0.8:
                u = pool[randrange(len(pool))]
            else:
                u = new_user()
            if u in going:
                continue
            put(final + randint(-10, 70) * MIN_MS + randrange(60_000), "event:checked_in", ci,
                {"event_id": mid, "user_id": u})

    # --- per-post lifecycle -----------------------------------------------------------------
    def plan_post(tp: int, ci: int, special: str | None) -> None:
        counters["p"] += 1
        pid = f"p_{counters['p']}"
        if special:
            title = special
        else:
            ld = clocks[ci].local_date(tp)
            meetup = rng.choice(recent_titles[ci]) if recent_titles[ci] else names[ci]
            title = rng.choice(words.BLOG).format(
                m=meetup, c=names[ci], mon=words.MONTHS[ld.month % 12], n=randint(3, 12),
                t=rng.choice(words.TOPICS), v=rng.choice(venues[ci]), s=rng.choice(series[ci]))
        data = {"post_id": pid, "title": title,
                "url": f"https://community.example.org/{slugs[ci]}/blog/{pid}"}
        regs = regulars[ci]
        if regs and rnd() < 0.8:
            data["author_id"] = regs[randrange(min(len(regs), 5))]
        put(tp, "blog:post_published", ci, data)
        if rnd() < 0.05:  # republished with an edited title
            d2 = dict(data)
            d2["title"] = title + " (updated)"
            put(tp + randint(1, 72) * HOUR_MS, "blog:post_published", ci, d2)
        nviews = int(rng.lognormvariate(3.8, 0.7))
        vis = visitors[ci]
        pool = pools[ci].items
        for _ in range(nviews):
            if rnd() < 0.85:
                t = tp + int(expo(1.0) * 2 * DAY_MS)
            else:
                t = tp + int(expo(1.0) * 20 * DAY_MS)
            r = rnd()
            data = {"post_id": pid}
            if r < 0.35 and vis:
                data["visitor_id"] = vis[int(rnd() * len(vis))]
            elif r < 0.55 and pool:
                u = pool[int(rnd() * len(pool))]
                data["visitor_id"] = "v-" + u
                data["user_id"] = u
            else:
                v = new_visitor()
                data["visitor_id"] = v
                if rnd() < 0.3:
                    vis.append(v)
            r = rnd()
            if r < 0.5:
                data["referrer"] = words.REFERRERS[int(r * 14)]
            if t <= now_ms:  # put(), inlined: views are the bulk of the stream
                buckets[t // DAY_MS].append((t, next_seq(), "blog:post_viewed", ci, data))
                if rnd() < 0.05:  # reloads the page a bit later
                    put(t + randint(5, 600) * 1000, "blog:post_viewed", ci, dict(data))

    # --- join profile by UTC hour, per offset -----------------------------------------------
    cum_cache: dict[int, tuple[list[float], float]] = {}

    def hour_profile(off_ms: int) -> tuple[list[float], float]:
        prof = cum_cache.get(off_ms)
        if prof is None:
            oh = round(off_ms / HOUR_MS)
            acc, cum = 0.0, []
            for h in range(24):
                acc += _ACTIVITY[(h + oh) % 24]
                cum.append(acc)
            prof = cum_cache[off_ms] = (cum, acc)
        return prof

    base_rate = [scale * 300.0 * c["weight"] / days for c in cities]
    late: dict[int, list] = defaultdict(list)
    mi = pi = 0
    nmeet, npost = len(meetups), len(posts)
    n = 0
    src_blog = source + "-blog"
    prev_id = None
    fmts = [c.fmt for c in clocks]

    # --- day by day -------------------------------------------------------------------------
    for D in range(first_day, last_day + 1):
        cur_day = D
        day_start = D * DAY_MS
        for ci, uid, add in changes.pop(D, ()):
            if add:
                pools[ci].add(uid)
            else:
                pools[ci].remove(uid)
        growth = 0.5 + (D - first_day) / days
        for ci in range(ncity):
            cum, total = hour_profile(clocks[ci].offset_ms(day_start + 12 * HOUR_MS))
            pool = pools[ci]
            for _ in range(_poisson(rng, base_rate[ci] * growth)):
                t = day_start + bisect_right(cum, rnd() * total) * HOUR_MS + randrange(HOUR_MS)
                if t > now_ms or t < start_ms + 10 * MIN_MS:
                    continue
                uid = None
                if ncity > 1 and rnd() < 0.02:  # already a member elsewhere
                    other = pools[(ci + randint(1, ncity - 1)) % ncity].items
                    if other:
                        cand = other[randrange(len(other))]
                        if cand not in pool.pos:
                            uid = cand
                if uid is None:
                    uid = new_user()
                put(t, "user:joined_city", ci, {"user_id": uid})
                pool.add(uid)
                if rnd() < 0.15:
                    regulars[ci].append(uid)
                r = rnd()
                if r < 0.015:  # the platform sent the join twice (a separate event)
                    put(t + randint(1, 180) * MIN_MS + randrange(60_000), "user:joined_city", ci,
                        {"user_id": uid})
                elif r < 0.135:  # leaves later, maybe comes back
                    tl = t + DAY_MS + int(expo(1.0) * 90 * DAY_MS)
                    if tl <= now_ms:
                        put(tl, "user:left_city", ci, {"user_id": uid})
                        changes[tl // DAY_MS].append((ci, uid, False))
                        if rnd() < 0.35:
                            tr = tl + DAY_MS + int(expo(1.0) * 45 * DAY_MS)
                            if tr <= now_ms:
                                put(tr, "user:joined_city", ci, {"user_id": uid})
                                changes[tr // DAY_MS].append((ci, uid, True))
        while mi < nmeet and meetups[mi][0] // DAY_MS <= D:
            plan_meetup(*meetups[mi])
            mi += 1
        while pi < npost and posts[pi][0] // DAY_MS <= D:
            plan_post(*posts[pi])
            pi += 1

        # emit the day's events in time order, ids in that order
        items = buckets.pop(D, None)
        envs: list[dict] = []
        if items:
            items.sort()
            append = envs.append
            for t, _s, typ, ci, data in items:
                n += 1
                eid = "ev-%010d" % n
                if n % 13 == 0:  # some producers send whole seconds
                    t -= t % 1000
                if (n * 2654435761) % 1000 < 40:
                    tstr = fmt_utc(t)
                else:
                    tstr = fmts[ci](t)
                src = source
                if data is xsrc_data:
                    if prev_id is not None:
                        eid, src = prev_id, src_blog
                prev_id = eid
                append((D, eid, src, typ, tstr, slugs[ci], data))
        m = len(envs)
        if m > 1:
            for _ in range(_sround(rng, m * 0.03)):  # local shuffle
                i = randrange(m)
                j = min(m - 1, i + randint(1, 25))
                envs[i], envs[j] = envs[j], envs[i]
            delayed = sorted({randrange(m) for _ in range(_sround(rng, m * 0.004))})
            if delayed:
                for i in delayed:
                    late[D + randint(1, 10)].append(envs[i])
                dset = set(delayed)
                envs = [e for i, e in enumerate(envs) if i not in dset]
        for e in late.pop(D, ()):
            envs.insert(randrange(len(envs) + 1), (D,) + e[1:])
        yield from envs
    for D in sorted(late):
        for e in late[D]:
            yield (last_day,) + e[1:]


def generate_events(*, seed: int = 7, now: datetime, days: int = 365,
                    cities: Iterable[Mapping[str, Any]] = REGION,
                    scale: float = 1.0) -> Iterator[dict]:
    """The demo stream's envelopes in arrival order (mostly by time, some late or shuffled).

    About 18k events for :data:`REGION` over a year at ``scale=1``, about 19.5k more per unit of
    scale above that (see :func:`events_for_scale`). Some deliberate edge cases that are still
    valid events: a join and a leave of one user at the same instant (the smaller id first), leaves
    of users who never joined, RSVPs and a check-in for a meetup that is never created, one view
    whose id is also used by another event under a different ``source`` (``platform/<region>-blog``),
    a republished post with an edited title.
    """
    for _, i, so, ty, ti, ci, da in _stream(seed=seed, now=now, days=days, cities=cities,
                                           scale=scale):
        yield {"specversion": "1.0", "id": i, "source": so, "type": ty, "time": ti, "city": ci,
               "data": da}


_PROBE_NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def events_for_scale(n_events: int, *, seed: int = 7, now: datetime | None = None,
                     days: int = 365, cities: Iterable[Mapping[str, Any]] = REGION) -> float:
    """The ``scale`` that gives about ``n_events`` events (within a few percent).

    Counts a probe stream at scale 2, then one at the estimated scale (at most 20, where the
    count per unit of scale has settled) and extrapolates linearly: about 3 s for 5 M events.
    """
    cities = list(cities)
    now = now or _PROBE_NOW

    def count(scale: float) -> int:
        return max(1, sum(1 for _ in _stream(seed=seed, now=now, days=days, cities=cities,
                                             scale=scale)))

    first = n_events * 2.0 / count(2.0)
    probe = min(max(first, 0.05), 20.0)
    return max(0.01, n_events * probe / count(probe))


# ---------------------------------------------------------------------------------------------
# Writing

def _make_encoder():
    """``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))``, without building the C
    encoder anew for every call (which is most of the cost for a small object)."""
    import json.encoder as je

    slow = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    if je.c_make_encoder is None:
        return slow

    def default(o: Any) -> Any:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    # markers=None: no circular-reference check (events are trees)
    c = je.c_make_encoder(None, default, je.encode_basestring, None, ":", ",", False, False, True)
    join = "".join

    def encode(obj: Any) -> str:
        return join(c(obj, 0))

    return encode


_ENCODE = _make_encoder()
_ENVELOPE_KEYS = ("specversion", "id", "source", "type", "time", "city", "data")


def _line(env: Mapping) -> str:
    """``env`` as one compact JSON line: exactly ``json.dumps(env, ensure_ascii=False,
    separators=(",", ":"))``, but builds the envelope by hand when its attributes are plain ASCII
    strings in the usual order (the generator's), which halves the cost."""
    if type(env) is dict and tuple(env) == _ENVELOPE_KEYS and env["specversion"] == "1.0":
        i, so, ty, ti, ci = env["id"], env["source"], env["type"], env["time"], env["city"]
        if (type(i) is str and type(so) is str and type(ty) is str and type(ti) is str
                and type(ci) is str and _PLAIN.fullmatch(i + so + ty + ti + ci)):
            return (f'{{"specversion":"1.0","id":"{i}","source":"{so}","type":"{ty}",'
                    f'"time":"{ti}","city":"{ci}","data":{_ENCODE(env["data"])}}}')
    return _ENCODE(env)


def write_events(path: str | Path, events: Iterable[Mapping], *, gzip: bool = False) -> int:
    """Write ``events`` as NDJSON (UTF-8, one compact object a line), streaming; returns the count."""
    opener = (lambda p: _gzip.open(p, "wb", compresslevel=6)) if gzip else (lambda p: open(p, "wb"))
    n = 0
    buf: list[str] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects: the cyclic collector only costs time here
    try:
        with opener(path) as fh:
            for env in events:
                buf.append(_line(env))
                if len(buf) >= 20_000:
                    fh.write(("\n".join(buf) + "\n").encode("utf-8"))
                    n += len(buf)
                    buf.clear()
            if buf:
                fh.write(("\n".join(buf) + "\n").encode("utf-8"))
                n += len(buf)
    finally:
        if gc_was_enabled:
            gc.enable()
    return n


def _month_of(day: int) -> str:
    return date_str(day)[:7]


class _MonthFiles:
    """The exporter's files: one per arrival month, lines counted, the first one gzipped.

    Lines collect in ``buf`` (the same list for the whole run, so a caller may append to it
    directly and call :meth:`maybe_flush`); ``line`` is the current file's last line number.
    """

    def __init__(self, out_dir: Path, gzip_first: bool):
        self.out_dir = out_dir
        self.gzip_next = gzip_first
        self.fh = None
        self.name: str | None = None
        self.flushed = 0
        self.buf: list[str] = []
        self.files: list[str] = []

    @property
    def line(self) -> int:
        return self.flushed + len(self.buf)

    def open(self, month: str) -> None:
        self.close()
        name = f"events-{month}.ndjson" + (".gz" if self.gzip_next else "")
        path = self.out_dir / name
        self.fh = _gzip.open(path, "wb", compresslevel=6) if self.gzip_next else open(path, "wb")
        self.gzip_next = False
        self.name = name
        self.files.append(name)
        self.flushed = 0

    def write(self, line: str) -> int:
        """Append one line; returns its 1-based line number in the current file."""
        self.buf.append(line)
        if len(self.buf) >= 20_000:
            self.flush()
        return self.line

    def maybe_flush(self) -> None:
        if len(self.buf) >= 20_000:
            self.flush()

    def write_bytes(self, raw: bytes) -> int:
        self.flush()
        self.fh.write(raw + b"\n")
        self.flushed += 1
        return self.line

    def flush(self) -> None:
        if self.buf:
            self.fh.write(("\n".join(self.buf) + "\n").encode("utf-8"))
            self.flushed += len(self.buf)
            self.buf.clear()

    def close(self) -> None:
        if self.fh is not None:
            self.flush()
            self.fh.close()
            self.fh = None


def _dirty_line(kind: str, env: dict, k: int, cities: list[dict]) -> str | bytes:
    """A dirty line made from a clean envelope ``env`` (its time, city and source)."""
    base = {"specversion": "1.0", "id": f"ev-dirty-{k:04d}", "source": env["source"],
            "type": "user:joined_city", "time": env["time"], "city": env["city"],
            "data": {"user_id": f"u_dirty_{k}"}}
    city = next((c for c in cities if c["slug"] == env["city"]), cities[0])
    meetup = {"event_id": f"m_dirty_{k}", "title": f"{city['name']} Python Night: pop-up",
              "starts_at": env["time"], "venue": "TBA"}
    e = dict(base)
    if kind == "invalid_utf8":
        e["type"] = "blog:post_published"
        e["data"] = {"post_id": f"p_dirty_{k}", "title": "Caf@@ night"}
        return _ENCODE(e).encode("utf-8").replace(b"@@", b"\xe9\xff")
    if kind == "cut_short":
        line = _ENCODE(e)
        return line[: len(line) // 2]
    if kind == "not_json":
        return "upstream connect error or disconnect/reset before headers. reset reason: overflow"
    if kind == "json_array":
        return "[" + _ENCODE(e) + "]"
    if kind == "bad_specversion":
        e["specversion"] = "0.3"
    elif kind == "missing_id":
        del e["id"]
    elif kind == "empty_id":
        e["id"] = ""
    elif kind == "missing_time":
        del e["time"]
    elif kind == "time_without_offset":
        t = e["time"]
        e["time"] = t[:-1] if t.endswith("Z") else t[:-6]
    elif kind == "time_not_an_instant":
        e["time"] = e["time"][:4] + "-02-30T19:00:00" + ("+00:00" if e["time"].endswith("Z")
                                                          else e["time"][-6:])
    elif kind == "missing_city":
        del e["city"]
    elif kind == "bad_city":
        e["city"] = city["name"].split(" ")[0].split("/")[0] + "!"
    elif kind == "missing_data":
        e["type"] = "event:rsvp"
        del e["data"]
    elif kind == "data_not_object":
        e["data"] = "user_id=u_8812"
    elif kind == "join_without_user":
        e["data"] = {}
    elif kind == "numeric_user_id":
        e["data"] = {"user_id": 8812}
    elif kind == "rsvp_maybe":
        e["type"] = "event:rsvp"
        e["data"] = {"event_id": "m_1", "user_id": "u_1001", "status": "maybe"}
    elif kind == "negative_capacity":
        e["type"] = "event:created"
        e["data"] = dict(meetup, capacity=-3)
    elif kind == "starts_at_without_offset":
        e["type"] = "event:created"
        e["data"] = dict(meetup, starts_at=meetup["starts_at"][:19])
    elif kind == "unknown_timezone":
        e["type"] = "city:upserted"
        e["data"] = {"name": city["name"], "timezone": "Australia/Atlantis", "region": "apac"}
    else:
        raise ValueError(kind)
    return _ENCODE(e)


def generate_files(out_dir: str | Path, *, seed: int = 7, now: datetime, days: int = 365,
                   cities: Iterable[Mapping[str, Any]] = REGION, scale: float = 1.0,
                   dirty: bool = True, redeliver: float = 0.01) -> dict:
    """Write the stream as the platform's exporter would, into ``out_dir``.

    One file per arrival month (``events-YYYY-MM.ndjson``; the oldest month ``.ndjson.gz``), lines
    in arrival order. About ``redeliver`` of the events are delivered a second time (the identical
    line, later in the same file or in a later one). With ``dirty``, one line of each kind in
    :data:`DIRTY_KINDS` and two events of unknown types (``poll:created``, ``poll:voted``) are
    mixed in. The clean events are exactly those of :func:`generate_events` with the same
    arguments.

    Existing ``events-*.ndjson*`` files in ``out_dir`` are removed first. Returns a summary:
    ``files`` (names in path order), ``events`` (distinct clean events),
    ``lines`` (all lines written), ``redeliveries``, ``dirty`` (intended reject reason -> count),
    ``dirty_lines`` (``{"file", "line", "kind", "reason"}``, reason ``None`` for blank lines),
    ``blank_lines``, ``unknown_type_events``, ``cities`` and ``by_type``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("events-*.ndjson*"):
        old.unlink()
    cities = normalise_cities(cities)
    rng = random.Random(seed * 1_000_003 + 424_242)
    rnd = rng.random
    now_ms = to_ms(now)
    first_day = (now_ms - days * DAY_MS) // DAY_MS
    last_day = now_ms // DAY_MS

    # what goes where: dirty kinds and unknown types at random arrival days
    plan: list[tuple[int, int, str]] = []
    if dirty:
        for k, kind in enumerate(DIRTY_KINDS):
            plan.append((rng.randint(first_day + 3, last_day), k, kind))
        for k, kind in enumerate(("unknown:poll:created", "unknown:poll:voted")):
            plan.append((rng.randint(first_day + 3, last_day), 100 + k, kind))
    plan.sort()
    next_plan_day = plan[0][0] if plan else 1 << 62
    pi = 0

    files = _MonthFiles(out, gzip_first=True)
    month_day = -1
    month = None
    heap: list[tuple[int, int, str, str | None]] = []  # (due line, tie, line, dirty kind)
    carry: list[tuple[str, str | None]] = []  # for the next file
    tie = 0
    written = 0  # lines written so far, all files
    redeliveries = 0
    dirty_lines: list[dict] = []
    by_type: dict[str, int] = defaultdict(int)
    encode = _ENCODE
    pending_conflict = False
    unknown = 0

    def emit_scheduled(line: str, kind: str | None) -> None:
        nonlocal written, redeliveries
        ln = files.write(line)
        written += 1
        if kind is None:
            redeliveries += 1
        else:
            dirty_lines.append({"file": files.name, "line": ln, "kind": kind,
                                "reason": DIRTY_KINDS[kind]})

    gc_was_enabled = gc.isenabled()
    gc.disable()  # the stream allocates millions of small objects and frees them in order
    try:
        for D, eid, src, typ, tstr, slug, data in _stream(seed=seed, now=now, days=days,
                                                         cities=cities, scale=scale):
            if D != month_day:
                month_day = D
                mo = _month_of(D)
                if mo != month:
                    month = mo
                    files.open(mo)
                    write = files.write
                    buf_append = files.buf.append
                    for line, kind in carry:
                        tie += 1
                        heapq.heappush(heap, (written + rng.randint(1, 300), tie, line, kind))
                    carry.clear()
            while heap and heap[0][0] <= written:
                _, _, line, kind = heapq.heappop(heap)
                emit_scheduled(line, kind)
            # exactly _ENCODE(envelope): every attribute but data is plain ASCII by construction
            line = (f'{{"specversion":"1.0","id":"{eid}","source":"{src}","type":"{typ}",'
                    f'"time":"{tstr}","city":"{slug}","data":{encode(data)}}}')
            buf_append(line)
            written += 1
            if written % 4096 == 0:
                files.maybe_flush()
            by_type[typ] += 1
            if rnd() < redeliver:
                if rnd() < 0.2:
                    carry.append((line, None))
                else:
                    tie += 1
                    heapq.heappush(heap, (written + rng.randint(1, 2000), tie, line, None))
            if D < next_plan_day and not pending_conflict:
                continue
            env = {"specversion": "1.0", "id": eid, "source": src, "type": typ, "time": tstr,
                   "city": slug, "data": data}
            if pending_conflict and typ == "event:created":
                pending_conflict = False
                data2 = dict(data)
                data2["title"] = data["title"] + " (edited)"
                tie += 1
                heapq.heappush(heap, (written + rng.randint(20, 400), tie,
                                      encode(dict(env, data=data2)), "conflicting_duplicate"))
            while D >= next_plan_day:
                _, k, kind = plan[pi]
                pi += 1
                next_plan_day = plan[pi][0] if pi < len(plan) else 1 << 62
                if kind == "conflicting_duplicate":
                    pending_conflict = True
                elif kind.startswith("unknown:"):
                    typ2 = kind.split(":", 1)[1]
                    data2 = ({"poll_id": f"poll_{k}", "question": "Which topic next month?",
                              "options": ["DuckDB", "Rust", "htmx"]} if typ2 == "poll:created"
                             else {"poll_id": "poll_100", "user_id": "u_1001", "option": 1})
                    write(encode(dict(env, id=f"ev-poll-{k:04d}", type=typ2, data=data2)))
                    written += 1
                    unknown += 1
                elif kind.startswith("blank_"):
                    ln = write("" if kind == "blank_empty" else "   \t")
                    written += 1
                    dirty_lines.append({"file": files.name, "line": ln, "kind": kind,
                                        "reason": None})
                else:
                    raw = _dirty_line(kind, env, k, cities)
                    ln = files.write_bytes(raw) if isinstance(raw, bytes) else write(raw)
                    written += 1
                    dirty_lines.append({"file": files.name, "line": ln, "kind": kind,
                                        "reason": DIRTY_KINDS[kind]})
        for line, kind in carry:
            tie += 1
            heapq.heappush(heap, (written, tie, line, kind))
        while heap:
            _, _, line, kind = heapq.heappop(heap)
            emit_scheduled(line, kind)
    finally:
        files.close()
        if gc_was_enabled:
            gc.enable()
    events = sum(by_type.values())

    reasons: dict[str, int] = defaultdict(int)
    for d in dirty_lines:
        if d["reason"]:
            reasons[d["reason"]] += 1
    return {
        "files": sorted(files.files),
        "events": events,
        "lines": written,
        "redeliveries": redeliveries,
        "dirty": dict(sorted(reasons.items())),
        "dirty_lines": dirty_lines,
        "blank_lines": sum(1 for d in dirty_lines if d["reason"] is None),
        "unknown_type_events": unknown,
        "cities": [c["slug"] for c in cities],
        "by_type": dict(sorted(by_type.items())),
    }
