"""A plain-Python reading of the contract's metric definitions (../shared/event-stream.md),
written from the contract alone: no SQL, nothing shared with `analytics`. The property and
demo-data tests hold Pulse's figures against it.

Every metric comes out as CSV rows (lists of strings, header first), formatted by the
contract's "Output formats" section.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, UTC
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

KNOWN_TYPES = {
    "city:upserted", "user:joined_city", "user:left_city", "event:created", "event:updated",
    "event:cancelled", "event:rsvp", "event:checked_in", "blog:post_published", "blog:post_viewed",
}


def instant(text: str) -> datetime:
    """RFC 3339 with an offset, as an aware UTC datetime (digits past microseconds dropped)."""
    text = text.upper()
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = head + "." + (digits + "000000")[:6] + rest
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def fmt_rate(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return ""
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def fmt_instant(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    if utc.microsecond == 0:
        spec = "seconds"
    elif utc.microsecond % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def first_of(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.isoweekday() - 1)
    return date(day.year, day.month, 1)


def after(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(weeks=1)
    return (start + timedelta(days=31)).replace(day=1)


def period_list(first: date, last: date, period: str) -> list[date]:
    out = [first_of(first, period)]
    while out[-1] < first_of(last, period):
        out.append(after(out[-1], period))
    return out


class Reference:
    def __init__(self, envelopes, default_timezone: str = "UTC"):
        seen = set()
        self.events = []
        for envelope in envelopes:  # at least once: the first of each (source, id) counts
            key = (envelope["source"], envelope["id"])
            if key in seen:
                continue
            seen.add(key)
            if envelope["type"] in KNOWN_TYPES:
                self.events.append({**envelope, "_t": instant(envelope["time"])})
        # (time, id) orders events; source settles what the contract leaves open.
        self.events.sort(key=lambda e: (e["_t"], e["id"], e["source"]))
        self.tz = {e["city"]: default_timezone for e in self.events}
        for e in self.events:  # later ones overwrite: the latest wins
            if e["type"] == "city:upserted":
                self.tz[e["city"]] = e["data"]["timezone"]
        self.cities = sorted(self.tz)
        self._membership()
        self._meetups()
        self._blog()

    def local_day(self, city: str, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.tz[city])).date()

    def _select(self, city: str) -> list[str]:
        return self.cities if city == "all" else [city]

    # -- membership ------------------------------------------------------------------------
    def _membership(self):
        member = defaultdict(bool)
        self.transitions = defaultdict(list)  # city -> [(local day, +1 | -1)]
        for e in self.events:
            if e["type"] not in ("user:joined_city", "user:left_city"):
                continue
            key = (e["city"], e["data"]["user_id"])
            joining = e["type"] == "user:joined_city"
            if joining != member[key]:
                member[key] = joining
                self.transitions[e["city"]].append((self.local_day(e["city"], e["_t"]), 1 if joining else -1))

    def member_growth(self, city, period, first, last):
        rows = [["city", "period_start", "joins", "leaves", "net", "members_end"]]
        for c in self._select(city):
            for start in period_list(first, last, period):
                end = after(start, period)
                joins = sum(1 for d, s in self.transitions[c] if start <= d < end and s > 0)
                leaves = sum(1 for d, s in self.transitions[c] if start <= d < end and s < 0)
                members = sum(s for d, s in self.transitions[c] if d < end)
                rows.append([c, start.isoformat(), str(joins), str(leaves), str(joins - leaves), str(members)])
        return rows

    # -- meetups ---------------------------------------------------------------------------
    def _meetups(self):
        fields = defaultdict(dict)
        cancelled = set()
        for e in self.events:
            if e["type"] in ("event:created", "event:updated"):
                m = fields[e["data"]["event_id"]]
                m["city"] = e["city"]
                for name in ("title", "starts_at"):
                    if e["data"].get(name) is not None:
                        m[name] = e["data"][name]
            elif e["type"] == "event:cancelled":
                cancelled.add(e["data"]["event_id"])
        self.meetups = {
            event_id: {"city": m["city"], "title": m["title"], "starts_at": instant(m["starts_at"]),
                       "cancelled": event_id in cancelled}
            for event_id, m in fields.items() if "title" in m and "starts_at" in m
        }
        latest_rsvp = {}
        self.checked = defaultdict(set)
        for e in self.events:
            if e["type"] == "event:rsvp":
                latest_rsvp[(e["data"]["event_id"], e["data"]["user_id"])] = e["data"]["status"]
            elif e["type"] == "event:checked_in":
                self.checked[e["data"]["event_id"]].add(e["data"]["user_id"])
        self.going = defaultdict(set)
        for (event_id, user), status in latest_rsvp.items():
            if status == "going":
                self.going[event_id].add(user)
        # first meetup per (city, user) among the city's existing meetups they checked in at,
        # cancelled ones included
        first = {}
        for event_id, m in self.meetups.items():
            for user in self.checked[event_id]:
                key = (m["city"], user)
                rank = (m["starts_at"], event_id)
                if key not in first or rank < first[key]:
                    first[key] = rank
        self.first_timers = defaultdict(int)
        for _, event_id in first.values():
            self.first_timers[event_id] += 1

    def _counts(self, event_id):
        going, checked = self.going[event_id], self.checked[event_id]
        return len(going), len(checked), len(going - checked), len(checked - going)

    def attendance(self, city, first=None, last=None):
        rows = [["city", "event_id", "title", "starts_at", "status", "going", "checked_in", "no_shows",
                 "walk_ins", "attendance_rate", "first_timers"]]
        for c in self._select(city):
            chosen = sorted((m["starts_at"], event_id) for event_id, m in self.meetups.items() if m["city"] == c)
            for starts_at, event_id in chosen:
                day = self.local_day(c, starts_at)
                if (first and day < first) or (last and day > last):
                    continue
                m = self.meetups[event_id]
                going, checked, no_shows, walk_ins = self._counts(event_id)
                rows.append([c, event_id, m["title"], fmt_instant(starts_at),
                             "cancelled" if m["cancelled"] else "scheduled", str(going), str(checked),
                             str(no_shows), str(walk_ins), fmt_rate(going - no_shows, going),
                             str(self.first_timers[event_id])])
        return rows

    def attendance_trend(self, city, first, last):
        rows = [["city", "month", "events", "going", "checked_in", "no_shows", "attendance_rate"]]
        for c in self._select(city):
            for month in period_list(first, last, "month"):
                totals = [0, 0, 0, 0]
                for event_id, m in self.meetups.items():
                    if m["city"] != c or m["cancelled"] or first_of(self.local_day(c, m["starts_at"]), "month") != month:
                        continue
                    going, checked, no_shows, _ = self._counts(event_id)
                    for i, n in enumerate((1, going, checked, no_shows)):
                        totals[i] += n
                events, going, checked, no_shows = totals
                rows.append([c, month.isoformat(), str(events), str(going), str(checked), str(no_shows),
                             fmt_rate(going - no_shows, going)])
        return rows

    # -- blog ------------------------------------------------------------------------------
    def _blog(self):
        self.titles = {}
        self.views = []  # (city, post, local day, visitor)
        for e in self.events:
            if e["type"] == "blog:post_published":
                self.titles[e["data"]["post_id"]] = e["data"]["title"]
            elif e["type"] == "blog:post_viewed":
                self.views.append((e["city"], e["data"]["post_id"], self.local_day(e["city"], e["_t"]),
                                   e["data"]["visitor_id"]))

    def blog_views(self, city, period, first, last):
        rows = [["city", "post_id", "title", "period_start", "views", "unique_visitors"]]
        for c in self._select(city):
            wanted = set(period_list(first, last, period))
            counts, visitors = defaultdict(int), defaultdict(set)
            for view_city, post, day, visitor in self.views:
                start = first_of(day, period)
                if view_city == c and start in wanted:
                    counts[(start, post)] += 1
                    visitors[(start, post)].add(visitor)
            for start, post in sorted(counts):
                rows.append([c, post, self.titles.get(post, ""), start.isoformat(),
                             str(counts[(start, post)]), str(len(visitors[(start, post)]))])
        return rows

    def top_posts(self, city, first, last, limit=None):
        rows = [["city", "post_id", "title", "views", "unique_visitors"]]
        for c in self._select(city):
            counts, visitors = defaultdict(int), defaultdict(set)
            for view_city, post, day, visitor in self.views:
                if view_city == c and first <= day <= last:
                    counts[post] += 1
                    visitors[post].add(visitor)
            ranked = sorted(counts, key=lambda post: (-counts[post], post))
            for post in ranked[:limit]:
                rows.append([c, post, self.titles.get(post, ""), str(counts[post]), str(len(visitors[post]))])
        return rows
