"""Meetups: when each chapter holds them, and each one's life: ``event:created``, updates or a
cancellation, RSVPs and changes of mind, then check-ins, no-shows and walk-ins.

A meetup is planned as ``(created, starts, city index, kind, moved_to)``: ``kind`` is
``normal``, ``dst`` (the day after a DST change), ``upcoming`` (after ``now``) or
``moves_month`` (an update moves it to ``moved_to``, in the next month).
"""

from __future__ import annotations

from datetime import date

from pulse.demo import words
from pulse.demo.clock import DAY_MS, HOUR_MS, MIN_MS
from pulse.demo.world import World, sround

Meetup = tuple[int, int, int, str, int | None]


def month_plan(w: World, ci: int, y: int, mo: int, ndays: int) -> list[Meetup]:
    """City ``ci``'s meetups in local month ``y-mo``, mostly on weekdays, early evening."""
    rng, rnd, randint = w.rng, w.rnd, w.randint
    clock = w.clocks[ci]
    planned = []
    for _ in range(sround(rng, rng.choice((2, 3, 3, 4)) * w.scale)):
        day = randint(1, ndays)
        if date(y, mo, day).weekday() >= 4 and rnd() < 0.7:
            day = randint(1, ndays)
        h, mi = rng.choice(((18, 0), (18, 30), (18, 30), (19, 0), (17, 30)))
        ts = clock.local(y, mo, day, h, mi)
        tc = ts - int(rng.uniform(10, 35) * DAY_MS)
        if w.start_ms + 2 * DAY_MS <= tc <= w.now_ms:
            planned.append((tc, ts, ci, "normal", None))
    return planned


def upcoming(w: World) -> list[Meetup]:
    """A meetup per city 2-6 weeks after ``now``, announced in the last days."""
    randint, randrange, now_ms = w.randint, w.randrange, w.now_ms
    planned = []
    for ci, clock in enumerate(w.clocks):
        ld = clock.local_date(now_ms + randint(15, 40) * DAY_MS)
        ts = clock.local(ld.year, ld.month, ld.day, 18, 30)
        tc = now_ms - randint(2, 12) * DAY_MS - randrange(DAY_MS)
        if tc > w.start_ms:
            planned.append((tc, ts, ci, "upcoming", None))
    return planned


def moving_to_next_month(w: World) -> list[Meetup]:
    """One meetup of the first city, mid-window, that an update moves into the next month."""
    clock = w.clocks[0]
    ld = clock.local_date(w.start_ms + w.days * DAY_MS // 2)
    ts = clock.local(ld.year, ld.month, 27, 19, 0)
    if ts - 21 * DAY_MS > w.start_ms + 2 * DAY_MS and ts + 7 * DAY_MS < w.now_ms:
        return [(ts - 21 * DAY_MS + w.randrange(HOUR_MS), ts, 0, "moves_month", ts + 6 * DAY_MS)]
    return []


def plan_meetup(w: World, tc: int, ts: int, ci: int, kind: str, moved_to: int | None) -> None:
    """Schedule one meetup's events, from its creation at ``tc`` (planned on that day)."""
    rng, rnd, randrange, randint, put = w.rng, w.rnd, w.randrange, w.randint, w.put
    now_ms = w.now_ms
    w.last_meetup += 1
    mid = f"m_{w.last_meetup}"
    clock = w.clocks[ci]
    series, venues, recent = w.series[ci], w.venues[ci], w.recent_titles[ci]
    r = rnd()
    if r < 0.12 and kind == "normal":
        title = f"{rng.choice(series)} #{w.last_meetup}"
    else:
        title = f"{rng.choice(series)}: {rng.choice(words.TOPICS)}"
    recent.append(title)
    if len(recent) > 8:
        del recent[0]
    venue = rng.choice(venues)
    length = rng.choice((2, 2, 3)) * HOUR_MS
    data = {"event_id": mid, "title": title, "starts_at": clock.fmt(ts),
            "ends_at": clock.fmt(ts + length), "venue": venue,
            "url": f"https://community.example.org/{w.slugs[ci]}/events/{mid}"}
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
                upd["venue"] = rng.choice(venues)
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
    pool = w.pools[ci].items
    n = min(n, len(pool) // 2 + 3)
    chosen: dict[str, None] = {}
    regs = w.regulars[ci]
    members = w.pools[ci].pos
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
            st = ("not_going" if rnd() < 0.7 else "waitlist") if st == "going" else "going"
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
            u = w.new_user()
        if u in going:
            continue
        put(final + randint(-10, 70) * MIN_MS + randrange(60_000), "event:checked_in", ci,
            {"event_id": mid, "user_id": u})
