"""Members: each day, who joins which city chapter (more as the year goes on, at the hours people
are awake), and later leaves, comes back, or gets a duplicated join from the platform."""

from __future__ import annotations

from bisect import bisect_right
from functools import cache

from pulse.demo.clock import DAY_MS, HOUR_MS, MIN_MS
from pulse.demo.world import World, poisson

# local-hour activity profile for joins (index = local hour)
_ACTIVITY = [1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.2, 2.5, 2.5, 2.4,
             2.6, 2.5, 2.3, 2.2, 2.2, 2.4, 2.8, 3.0, 2.9, 2.5, 2.0, 1.5]


@cache
def _hour_profile(off_ms: int) -> tuple[list[float], float]:
    """The join profile by UTC hour for a city at UTC offset ``off_ms``: cumulative, and its total."""
    oh = round(off_ms / HOUR_MS)
    acc, cum = 0.0, []
    for h in range(24):
        acc += _ACTIVITY[(h + oh) % 24]
        cum.append(acc)
    return cum, acc


def apply_changes(w: World, day: int) -> None:
    """Bring the member pools up to ``day``: the joins and leaves planned for it count from now."""
    pools = w.pools
    for ci, uid, add in w.changes.pop(day, ()):
        if add:
            pools[ci].add(uid)
        else:
            pools[ci].remove(uid)


def plan_joins(w: World, day: int) -> None:
    """Schedule ``day``'s joins in every city, with the leaves and rejoins that follow them."""
    rng, rnd, randrange, randint, put, expo = w.rng, w.rnd, w.randrange, w.randint, w.put, w.expo
    now_ms, ncity, pools, changes = w.now_ms, w.ncity, w.pools, w.changes
    earliest = w.start_ms + 10 * MIN_MS
    day_start = day * DAY_MS
    growth = 0.5 + (day - w.first_day) / w.days
    for ci in range(ncity):
        cum, total = _hour_profile(w.clocks[ci].offset_ms(day_start + 12 * HOUR_MS))
        pool = pools[ci]
        rate = w.scale * 300.0 * w.cities[ci]["weight"] / w.days
        for _ in range(poisson(rng, rate * growth)):
            t = day_start + bisect_right(cum, rnd() * total) * HOUR_MS + randrange(HOUR_MS)
            if t > now_ms or t < earliest:
                continue
            uid = None
            if ncity > 1 and rnd() < 0.02:  # already a member elsewhere
                other = pools[(ci + randint(1, ncity - 1)) % ncity].items
                if other:
                    cand = other[randrange(len(other))]
                    if cand not in pool.pos:
                        uid = cand
            if uid is None:
                uid = w.new_user()
            put(t, "user:joined_city", ci, {"user_id": uid})
            pool.add(uid)
            if rnd() < 0.15:
                w.regulars[ci].append(uid)
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
