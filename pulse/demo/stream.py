"""The demo stream: a deterministic, realistic platform event stream, for demos, tests and
benchmarks.

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

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from pulse.demo import blog, meetups, members
from pulse.demo.clock import DAY_MS, fmt_utc
from pulse.demo.fixed import plan_fixed
from pulse.demo.region import REGION
from pulse.demo.world import World, sround

Event = tuple[int, str, str, str, str, str, dict]  # see stream()


def stream(*, seed: int, now: datetime, days: int, cities: Iterable[Mapping[str, Any]],
           scale: float) -> Iterator[Event]:
    """Yield ``(arrival_day, id, source, type, time, city, data)`` in arrival order.

    ``arrival_day`` counts days since 1970-01-01 (UTC). Tuples, not envelopes: cheaper, and
    generate_files() turns them straight into lines.
    """
    w = World(seed=seed, now=now, days=days, cities=cities, scale=scale)
    xsrc_data, planned_meetups = plan_fixed(w)
    planned_posts: list[blog.Post] = []
    for ci, clock in enumerate(w.clocks):
        d0 = clock.local_date(w.start_ms)
        d1 = clock.local_date(w.now_ms + 45 * DAY_MS)
        y, mo = d0.year, d0.month
        while (y, mo) <= (d1.year, d1.month):
            ndays = ((date(y + (mo == 12), mo % 12 + 1, 1)) - date(y, mo, 1)).days
            planned_meetups += meetups.month_plan(w, ci, y, mo, ndays)
            planned_posts += blog.month_plan(w, ci, y, mo, ndays)
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    planned_meetups += meetups.upcoming(w)
    planned_meetups += meetups.moving_to_next_month(w)
    planned_posts += blog.special_posts(w)
    planned_meetups.sort(key=lambda m: (m[0], m[1], m[2]))
    planned_posts.sort(key=lambda p: (p[0], p[1]))

    arrivals = _Arrivals(w, xsrc_data)
    mi = pi = 0
    nmeet, npost = len(planned_meetups), len(planned_posts)
    for day in range(w.first_day, w.last_day + 1):
        w.cur_day = day
        members.apply_changes(w, day)
        members.plan_joins(w, day)
        while mi < nmeet and planned_meetups[mi][0] // DAY_MS <= day:
            meetups.plan_meetup(w, *planned_meetups[mi])
            mi += 1
        while pi < npost and planned_posts[pi][0] // DAY_MS <= day:
            blog.plan_post(w, *planned_posts[pi])
            pi += 1
        yield from arrivals.day(day, w.buckets.pop(day, None))
    yield from arrivals.still_late()


class _Arrivals:
    """The order events arrive in: each day's in time order, ids given in that order, then a few
    swapped with a neighbour and a few held back for up to 10 days."""

    def __init__(self, w: World, xsrc_data: dict):
        self.w = w
        self.xsrc_data = xsrc_data  # this view gets the id of the event before it, other source
        self.src_blog = w.source + "-blog"
        self.fmts = [c.fmt for c in w.clocks]
        self.n = 0  # ids handed out
        self.prev_id: str | None = None
        self.late: dict[int, list[Event]] = defaultdict(list)  # arrival day -> held back

    def day(self, day: int, items: list | None) -> list[Event]:
        """The events that arrive on ``day``: those planned for it (``items``) and late ones."""
        w = self.w
        rng, randrange, randint, late = w.rng, w.randrange, w.randint, self.late
        envs: list[Event] = []
        if items:
            items.sort()
            append = envs.append
            n, prev_id, xsrc_data, fmts = self.n, self.prev_id, self.xsrc_data, self.fmts
            source, slugs = w.source, w.slugs
            for t, _s, typ, ci, data in items:
                n += 1
                eid = f"ev-{n:010d}"
                if n % 13 == 0:  # some producers send whole seconds
                    t -= t % 1000
                tstr = fmt_utc(t) if (n * 2654435761) % 1000 < 40 else fmts[ci](t)
                src = source
                if data is xsrc_data and prev_id is not None:
                    eid, src = prev_id, self.src_blog
                prev_id = eid
                append((day, eid, src, typ, tstr, slugs[ci], data))
            self.n, self.prev_id = n, prev_id
        m = len(envs)
        if m > 1:
            for _ in range(sround(rng, m * 0.03)):  # local shuffle
                i = randrange(m)
                j = min(m - 1, i + randint(1, 25))
                envs[i], envs[j] = envs[j], envs[i]
            delayed = sorted({randrange(m) for _ in range(sround(rng, m * 0.004))})
            if delayed:
                for i in delayed:
                    late[day + randint(1, 10)].append(envs[i])
                dset = set(delayed)
                envs = [e for i, e in enumerate(envs) if i not in dset]
        for e in late.pop(day, ()):
            envs.insert(randrange(len(envs) + 1), (day,) + e[1:])
        return envs

    def still_late(self) -> Iterator[Event]:
        """The events held back past the last day: they arrive on it, after the rest."""
        last_day = self.w.last_day
        for day in sorted(self.late):
            for e in self.late[day]:
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
