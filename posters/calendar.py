"""The posts calendar: each post on the day, in its city's time, when it went or goes out
(published: when it was; approved or automatic: when it is due, or after a throttle's reset;
awaiting approval: when it would be due). Rejected and withdrawn posts are not on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pulse.core.instants import parse_iso

from posters.channels import kind_of
from posters.store import Post

_KIND = {"announce": "", "update": "update", "cancel": "cancellation"}


@dataclass
class Entry:
    post_id: int
    city: str
    title: str
    channel: str
    channel_label: str
    kind: str
    state: str
    time: str
    at: dt.datetime
    href: str


@dataclass
class Day:
    date: dt.date
    label: str
    today: bool
    in_range: bool
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Calendar:
    span: str
    title: str
    day: dt.date
    previous: dt.date
    next: dt.date
    today: dt.date
    days: list[Day]

    @property
    def weeks(self) -> list[list[Day]]:
        return [self.days[i:i + 7] for i in range(0, len(self.days), 7)]

    @property
    def count(self) -> int:
        return sum(len(d.entries) for d in self.days if d.in_range)


def moment(post: Post, published: dict[int, str]) -> dt.datetime | None:
    """When a post is on the calendar (None: not on it)."""
    if post.state in ("rejected", "withdrawn"):
        return None
    if post.state == "published":
        return parse_iso(published.get(post.id) or post.updated_at)
    due = parse_iso(post.due_at)
    if post.state in ("approved", "scheduled") and post.not_before:
        return max(due, parse_iso(post.not_before))
    return due


def calendar_view(posts: list[Post], published: dict[int, str], *, span: str, day: dt.date | None,
                  now: dt.datetime) -> Calendar:
    today = now.date()
    day = day or today
    if span == "week":
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=6)
        start, end = first, last
        title = f"Week of {first.day} {first:%b %Y}"
        previous, following = day - dt.timedelta(days=7), day + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        start = first - dt.timedelta(days=first.weekday())
        end = last + dt.timedelta(days=6 - last.weekday())
        title = f"{first:%B %Y}"
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        following = last + dt.timedelta(days=1)
    days = {}
    current = start
    while current <= end:
        days[current] = Day(current, f"{current:%a} {current.day}", current == today, first <= current <= last)
        current += dt.timedelta(days=1)
    for post in posts:
        at = moment(post, published)
        if at is None:
            continue
        zone = _zone(post.snapshot.get("timezone", "UTC"))
        seen = at.astimezone(zone)
        if seen.date() not in days:
            continue
        kind = _KIND.get(post.kind, post.kind)
        days[seen.date()].entries.append(Entry(
            post_id=post.id, city=post.city, title=post.snapshot.get("title") or post.event_id, channel=post.channel,
            channel_label=kind_of(post.channel).label + (f" {kind}" if kind else ""), kind=post.kind, state=post.state,
            time=f"{seen:%H:%M} {seen.tzname()}", at=at,
            href=f"/posts/{post.id}#post-{post.id}"))
    for entry_day in days.values():
        entry_day.entries.sort(key=lambda e: (e.at, e.post_id))
    return Calendar(span=span, title=title, day=day, previous=previous, next=following, today=today,
                    days=list(days.values()))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")
