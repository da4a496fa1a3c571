"""The state one demo stream is made from, shared by its planners (members, meetups, blog).

A :class:`World` holds the random source, the cities with their clocks, who is a member where,
the ids handed out so far, and the schedule: every event planned so far, by UTC day, which the
stream emits day by day. Every draw comes from the one random source in
a fixed order, so the same arguments give the same stream: a planner that draws once more, or
earlier, changes every event after it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pulse.demo import words
from pulse.demo.clock import DAY_MS, Clock, to_ms
from pulse.demo.ndjson import PLAIN
from pulse.demo.region import normalise_cities


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (a normal approximation above 40)."""
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


def sround(rng: random.Random, x: float) -> int:
    """``x`` rounded up or down at random, so that the mean is ``x``."""
    i = int(x)
    return i + (rng.random() < x - i)


class Pool:
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


class World:
    """One stream's arguments, random source, cities, members and schedule (see the module)."""

    def __init__(self, *, seed: int, now: datetime, days: int,
                 cities: Iterable[Mapping[str, Any]], scale: float):
        if days < 1:
            raise ValueError("days must be at least 1")
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.rng = rng = random.Random(seed)
        self.rnd = rng.random
        self.expo = rng.expovariate
        self.days = days
        self.scale = scale

        self.cities = cities = normalise_cities(cities)
        self.ncity = len(cities)
        self.now_ms = now_ms = to_ms(now)
        self.start_ms = start_ms = now_ms - days * DAY_MS
        self.first_day = start_ms // DAY_MS
        self.last_day = now_ms // DAY_MS
        region = cities[0]["region"] or "demo"
        self.source = f"platform/{region}"
        # the stream's lines are built by hand around the source: it must need no escaping
        if not PLAIN.fullmatch(self.source):
            raise ValueError(f"region {region!r} makes an odd source {self.source!r}")
        self.clocks = [Clock(c["timezone"], start_ms - 3 * DAY_MS, now_ms + 100 * DAY_MS)
                       for c in cities]
        self.slugs = [c["slug"] for c in cities]
        self.names = [c["name"] for c in cities]

        self.buckets: dict[int, list] = defaultdict(list)  # day -> [(t, seq, type, city, data)]
        self.changes: dict[int, list] = defaultdict(list)  # day -> [(city, user id, join?)]
        self.next_seq = itertools.count(1).__next__  # ties in time keep the order of planning
        self.cur_day = self.first_day  # the day being planned; earlier ones are emitted
        self.last_user = 1000
        self.last_meetup = 0
        self.last_post = 0
        self._next_visitor = itertools.count(1).__next__

        self.pools = [Pool() for _ in cities]  # members now, by city
        self.regulars: list[list[str]] = [[] for _ in cities]  # who comes often, by city
        self.visitors: list[list[str]] = [[] for _ in cities]  # returning blog readers
        self.series = []  # each chapter's four meetup series
        for c in cities:
            short = c.get("short") or c["name"]
            self.series.append([s.format(c=short) for s in rng.sample(words.SERIES, 4)])
        self.venues = [words.VENUES.get(c["slug"]) or [f"{c['name']} Library, Meeting Room 2",
                                                       f"{c['name']} Tech Hub",
                                                       f"{c['name']} Town Hall Annex"]
                       for c in cities]
        self.recent_titles: list[list[str]] = [[] for _ in cities]  # for blog recaps

    # cheaper than Random.randrange/randint and just as deterministic
    def randrange(self, n: int) -> int:
        return int(self.rnd() * n)

    def randint(self, a: int, b: int) -> int:
        return a + int(self.rnd() * (b - a + 1))

    def put(self, t: int, typ: str, ci: int, data: dict) -> None:
        """Schedule an event of city ``ci`` at ``t`` (dropped when after ``now``)."""
        if t > self.now_ms:
            return
        d = t // DAY_MS
        if d < self.cur_day:  # never schedule into a day already emitted
            d = self.cur_day
        self.buckets[d].append((t, self.next_seq(), typ, ci, data))

    def new_user(self) -> str:
        self.last_user += 1
        return f"u_{self.last_user}"

    def new_visitor(self) -> str:
        k = self._next_visitor()
        return f"v_{k * 2654435761 % 4294967296:08x}{k % 97:02d}"
