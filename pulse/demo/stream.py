"""The demo stream: a deterministic, realistic platform event stream, for demos, tests and benchmarks.

Pure standard library. The stream follows ``../shared/event-stream.md`` (CloudEvents 1.0
envelopes, one JSON object per line) and reproduces what Pulse has to cope with in production:

* a year of activity per city chapter: members joining with growth, leaving, rejoining, a few
  duplicated joins; meetups (created, updated, cancelled, RSVPs and RSVP changes, check-ins,
  walk-ins, no-shows, a few upcoming ones after ``now``); blog posts and their views;
* ``city:upserted`` for every city near the start, a later rename, timezones with and without
  daylight saving, and some activity right around each DST change;
* ``time`` in the city's local offset (a few in UTC ``Z``, a few without a fraction);
* arrival order mostly by time, locally shuffled, a small fraction arriving days late.

:func:`pulse.demo.files.generate_files` writes it as the exporter's files, with redeliveries,
dirty lines, blank lines and events of an unknown type mixed in.

Everything is a function of ``seed``, ``now``, ``days``, ``cities`` and ``scale``: the same
arguments give the same events."""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from pulse.demo import words
from pulse.demo.clock import DAY_MS, HOUR_MS, MIN_MS, Clock, fmt_utc, to_ms
from pulse.demo.ndjson import PLAIN
from pulse.demo.region import REGION, normalise_cities

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

def stream(*, seed: int, now: datetime, days: int, cities: Iterable[Mapping[str, Any]],
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
    if not PLAIN.fullmatch(source):
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
    for _, i, so, ty, ti, ci, da in stream(seed=seed, now=now, days=days, cities=cities,
                                          scale=scale):
        yield {"specversion": "1.0", "id": i, "source": so, "type": ty, "time": ti, "city": ci,
               "data": da}
