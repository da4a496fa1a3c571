"""The events a stream plans up front rather than day by day: each city's ``city:upserted``, the
one rename, and the deliberate edge cases (still valid events) that Pulse must get right."""

from __future__ import annotations

from pulse.demo.clock import DAY_MS, HOUR_MS, MIN_MS
from pulse.demo.world import World


def plan_fixed(w: World) -> tuple[dict, list[tuple]]:
    """Schedule the fixed events; returns the ``data`` of the view whose id another source reuses
    (the stream gives it that id) and the meetups planned on the day after each DST change."""
    randrange, put, new_user = w.randrange, w.put, w.new_user
    start_ms, days, ncity = w.start_ms, w.days, w.ncity

    for ci, c in enumerate(w.cities):
        data = {"name": c["name"], "timezone": c["timezone"]}
        if c["region"]:
            data["region"] = c["region"]
        put(start_ms + 60_000 + ci * 37_000 + randrange(1000), "city:upserted", ci, data)
    for ci, c in enumerate(w.cities):
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
    xsrc_data = {"post_id": "p_1", "visitor_id": w.new_visitor(), "referrer": ""}
    put(start_ms + int(days * 0.5 * DAY_MS) + 1, "blog:post_viewed", 0, xsrc_data)

    # joins right around each DST change, scheduled now; the pool learns of them on the day
    dst_meetups = []
    for ci, clock in enumerate(w.clocks):
        for tr in clock.transitions:
            if start_ms + 2 * DAY_MS < tr < w.now_ms - 2 * DAY_MS:
                for m in (-95, -31, -1, 1, 29, 93):
                    uid = new_user()
                    t = tr + m * MIN_MS + randrange(60_000)
                    put(t, "user:joined_city", ci, {"user_id": uid})
                    w.changes[t // DAY_MS].append((ci, uid, True))
                ld = clock.local_date(tr + 3 * HOUR_MS)
                ts = clock.local(ld.year, ld.month, ld.day, 18, 0)
                tc = ts - 20 * DAY_MS - randrange(DAY_MS)
                if tc >= start_ms + 2 * DAY_MS:
                    dst_meetups.append((tc, ts, ci, "dst", None))
    return xsrc_data, dst_meetups
