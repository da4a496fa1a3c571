"""A city's digest: the figures of one complete week (or month) and the message that tells them,
as a neutral structure (title, facts, sections, link) that the sender turns into its channel's
format and escapes (`posters.notices` for Slack). Pure functions over a connection holding the
`analytics.*` tables (the dashboard snapshot), no sending here.

The figures are the dashboards' own (`dashboards.series`, as the tiles read them): members at the end of the period and
net growth, meetups held (started, not cancelled) with their attendance rate and first-timers,
each against the period before; the most viewed post; the meetups coming up with their RSVPs.
A period with no membership change, no meetup held and no blog view has no digest (`has_data`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pandas as pd

from analytics import metrics
from analytics.periods import period_start, rate
from dashboards.data import City, held_meetups, member_days
from dashboards.series import HeldMeetups, MemberDays, period_name

PERIODS = ("week", "month")
TEXT_LIMIT = 120
"""Characters of user-written text (a title, a venue) a digest line carries; longer is cut with "…"."""
UPCOMING_SHOWN = 5


def bound(text: str | None, limit: int = TEXT_LIMIT) -> str:
    """User text cut to `limit` characters (whole code points), with "…" when cut; one line."""
    text = " ".join(("" if text is None else str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def last_complete(period: str, today: date) -> tuple[date, date]:
    """The last whole period (ISO week, month) before the one containing `today`."""
    end = period_start(today, period) - timedelta(days=1)
    return period_start(end, period), end


def previous_of(period: str, start: date) -> tuple[date, date]:
    """The period before the one starting on `start`."""
    end = start - timedelta(days=1)
    return period_start(end, period), end


def local_midnight_after(day: date, timezone_name: str) -> datetime:
    """The instant the local day after `day` begins: when a period ending on `day` is over."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone_name))


def due(settings, period: str, timezone_name: str, now: datetime) -> tuple[date, date] | None:
    """The period whose digest is due at `now` for a city in `timezone_name` under `[digests]`
    (`settings`), or None. A week's digest is due from `day` at `time` (local) of the week after
    it, until that week ends; a month's from the 1st at `time` until that month ends. A digest
    missed for a whole period (Pulse was down) is not sent late."""
    if (period == "week" and not settings.weekly) or (period == "month" and not settings.monthly):
        return None
    local = now.astimezone(ZoneInfo(timezone_name))
    hour, minute = settings.hour_minute
    this_period = period_start(local.date(), period)
    send_day = this_period + timedelta(days=settings.weekday) if period == "week" else this_period
    send_at = datetime.combine(send_day, time(hour, minute), tzinfo=ZoneInfo(timezone_name))
    if local < send_at:
        return None
    return last_complete(period, local.date())


@dataclass(frozen=True)
class UpcomingMeetup:
    starts_at: datetime
    when: str
    """Local date and time, e.g. "Tue 8 Sep 18:30"."""
    title: str
    venue: str
    going: int
    waitlist: int
    capacity: int | None


@dataclass(frozen=True)
class PeriodFigures:
    city: City
    period: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    members_end: int
    members_previous_end: int | None
    joins: int
    leaves: int
    net: int
    net_previous: int | None
    meetups_held: int
    meetups_held_previous: int | None
    going: int
    no_shows: int
    attendance_rate: Decimal | None
    attendance_rate_previous: Decimal | None
    first_timers: int
    blog_views: int
    top_post: tuple[str, str, int] | None
    """(post_id, title, views) of the most viewed post of the period."""
    upcoming: tuple[UpcomingMeetup, ...]
    upcoming_total: int
    """How many meetups start within the digest's upcoming days (the message lists a few)."""

    @property
    def has_data(self) -> bool:
        """Whether anything happened in the period (else no digest goes)."""
        return bool(self.joins or self.leaves or self.meetups_held or self.blog_views)

    @property
    def no_show_rate(self) -> Decimal | None:
        return rate(self.no_shows, self.going)


def period_figures(con, city: City, period: str, start: date, end: date, as_of: datetime,
                   upcoming_days: int = 14) -> PeriodFigures:
    """The digest's figures for `city` over start..end (local days); `as_of` is when the figures
    were taken (meetups starting after it are upcoming, not held)."""
    slug = city.slug
    previous_start, previous_end = previous_of(period, start)
    members = member_days(con, slug).get(slug) or MemberDays.empty()
    held = held_meetups(con, as_of, slug).get(slug) or HeldMeetups.empty()
    members_known = members.first_day is not None and members.first_day <= previous_end
    meetups_known = held.first_day is not None and held.first_day <= previous_end
    joins, leaves = members.changes(start, end)
    going, _, no_shows, first_timers = held.sums(start, end)

    posts = metrics.top_posts(con, slug, start, end)
    top = None
    if len(posts):
        first = posts.iloc[0]
        top = (str(first["post_id"]), str(first["title"]), int(first["views"]))

    horizon = pd.Timestamp(as_of) + pd.Timedelta(days=upcoming_days)
    coming = metrics.upcoming(con, slug, as_of)
    coming = coming[coming["starts_at"] <= horizon] if len(coming) else coming
    zone = ZoneInfo(city.timezone)
    upcoming = tuple(
        UpcomingMeetup(row.starts_at.to_pydatetime(), row.starts_at.tz_convert(zone).strftime("%a %-d %b %H:%M"),
                       row.title, row.venue, int(row.going), int(row.waitlist),
                       None if row.capacity is None or pd.isna(row.capacity) else int(row.capacity))
        for row in coming.head(UPCOMING_SHOWN).itertuples(index=False))

    return PeriodFigures(
        city=city, period=period, start=start, end=end, previous_start=previous_start, previous_end=previous_end,
        members_end=members.members_on(end),
        members_previous_end=members.members_on(previous_end) if members_known else None,
        joins=joins, leaves=leaves, net=joins - leaves,
        net_previous=members.net(previous_start, previous_end) if members_known else None,
        meetups_held=held.count(start, end),
        meetups_held_previous=held.count(previous_start, previous_end) if meetups_known else None,
        going=going, no_shows=no_shows, attendance_rate=held.rate(start, end),
        attendance_rate_previous=held.rate(previous_start, previous_end) if meetups_known else None,
        first_timers=first_timers, blog_views=int(posts["views"].sum()) if len(posts) else 0,
        top_post=top, upcoming=upcoming, upcoming_total=len(coming))


# --- the message ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """What a notice says, in no channel's format: every string is plain text (user text
    included, bounded), for the sender to escape and lay out."""

    key: str
    """Exactly once per key: `digest:week:sydney:2026-08-31`."""
    city: str
    title: str
    facts: tuple[tuple[str, str], ...]
    """(label, text) pairs: the figures."""
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(heading, lines): e.g. the upcoming meetups."""
    link: str = ""
    link_text: str = ""

    def text(self) -> str:
        """The whole message as plain text (a notification's fallback, `--dry-run`)."""
        lines = [self.title]
        lines += [f"{label}: {value}" for label, value in self.facts]
        for heading, items in self.sections:
            lines.append(f"{heading}:")
            lines += [f"  - {item}" for item in items]
        if self.link:
            lines.append(f"{self.link_text}: {self.link}")
        return "\n".join(lines)


def _signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else (f"\u2212{abs(value):,}" if value < 0 else "\u00b10")


def _percent(value: Decimal | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def city_link(dashboard_url: str, slug: str, period: str, start: date, end: date) -> str:
    """The city's page on the dashboards for exactly this period."""
    query = urlencode({"range": "custom", "from": start.isoformat(), "to": end.isoformat(), "period": period})
    return f"{dashboard_url}/city/{quote(slug)}?{query}"


def compose(figures: PeriodFigures, dashboard_url: str = "") -> Message:
    """The digest of `figures` as a message."""
    f = figures
    word = "week" if f.period == "week" else "month"
    before = f"the {word} before"
    name = period_name(f.start, f.period)
    title = f"{bound(f.city.title, 60)} · {name} ({f.start.day} {f.start.strftime('%b')} – {f.end.day} {f.end.strftime('%b %Y')})"
    members = f"{f.members_end:,} at the end of the {word}, net {_signed(f.net)} ({f.joins:,} joined, {f.leaves:,} left)"
    members += f"; {before}: net {_signed(f.net_previous)}" if f.net_previous is not None else f"; nothing {before} to compare with"
    meetups = f"{f.meetups_held:,} held, attendance rate {_percent(f.attendance_rate)}"
    if f.meetups_held_previous is not None:
        meetups += f"; {before}: {f.meetups_held_previous:,} held, {_percent(f.attendance_rate_previous)}"
    facts = [("Members", members), ("Meetups", meetups), ("First-timers", f"{f.first_timers:,}")]
    if f.top_post is not None:
        post_id, post_title, views = f.top_post
        facts.append(("Top post", f"\u201c{bound(post_title) or '(untitled ' + bound(post_id, 40) + ')'}\u201d, "
                                  f"{views:,} view{'s' if views != 1 else ''} ({f.blog_views:,} blog views in all)"))
    else:
        facts.append(("Top post", "no post was read"))
    items = []
    for meetup in f.upcoming:
        seats = f", capacity {meetup.capacity:,}" if meetup.capacity is not None else ""
        waiting = f", {meetup.waitlist:,} on the waitlist" if meetup.waitlist else ""
        venue = f" at {bound(meetup.venue, 60)}" if meetup.venue else ""
        items.append(f"{meetup.when} \u201c{bound(meetup.title)}\u201d{venue}: {meetup.going:,} going{waiting}{seats}")
    if f.upcoming_total > len(f.upcoming):
        items.append(f"and {f.upcoming_total - len(f.upcoming)} more")
    sections = (("Upcoming meetups", tuple(items) or ("none scheduled yet",)),)
    link = city_link(dashboard_url, f.city.slug, f.period, f.start, f.end) if dashboard_url else ""
    return Message(key=f"digest:{f.period}:{f.city.slug}:{f.start.isoformat()}", city=f.city.slug, title=title,
                   facts=tuple(facts), sections=sections, link=link, link_text=f"{bound(f.city.title, 60)} on the dashboards")
