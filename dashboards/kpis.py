"""The KPI tiles: each figure for the chosen range and for the previous range of the same
length, worked out from the city's membership changes per day and meetups held
(`dashboards.series`) and the metrics API's blog tables. Pure functions, no I/O.

Definitions (shown on the page too):
- members now / at end of range: `members_end` on the range's last day, or on the figures'
  as-of day when the range runs past it (members at the end of the previous range for the
  comparison); "now" only when the range reaches the as-of day;
- net growth: joins minus leaves over the range's days (up to the as-of day: a change dated
  later is not "in the range so far", and members = members before + net growth holds);
- meetups held: meetups not cancelled that started within the range, before the figures'
  as-of time (when the snapshot was taken: later check-ins are not in the figures yet; one
  that has not started is upcoming, neither attended nor a no-show);
- attendance rate: (going - no-shows) / going over those meetups, by the contract's rounding;
- blog views: views of the city's posts over the range;
- unique visitors: distinct visitors over the whole range, all posts together.

A comparison needs something to compare with: when the city has no data of a kind on or
before the previous range's last day (it had not started yet), the previous value is None and
the page says so, rather than "+377 vs 0".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from analytics.periods import format_rate
from dashboards.ranges import Window
from dashboards.series import HeldMeetups, MemberDays

KPI_COLUMNS = ["city", "metric", "from", "to", "value", "previous_from", "previous_to", "previous_value", "change"]


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: int | Decimal | None
    previous: int | Decimal | None
    kind: str = "count"
    """`count` (a whole number) or `rate` (a four-decimal fraction; None when undefined)."""
    help: str = ""

    @property
    def change(self) -> int | Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    def output(self, value) -> int | str:
        """A value as it leaves Pulse (CSV, JSON): a count as a number, a rate as its
        four-decimal text, "" when undefined (the contract's output formats)."""
        if value is None:
            return ""
        return format_rate(value) if self.kind == "rate" else int(value)


def _known(first: date | None, window: Window) -> bool:
    """Whether data of a kind existed by the end of the previous range (`first`: its first day)."""
    return first is not None and first <= window.previous_end


def membership(members: MemberDays, window: Window, last: date) -> list[Kpi]:
    """Members at the end of the range (or on `last`, the as-of day, when the range runs past
    it) and net growth, each with the previous range's."""
    known = _known(members.first_day, window)
    current = window.end >= last
    end = min(window.end, last)
    return [
        Kpi("members_now", "Members now" if current else "Members at end of range",
            members.members_on(end) if end >= window.start else None,
            members.members_on(window.previous_end) if known else None,
            help="Members today (the figures' as-of day)" if current else f"Members on {end.isoformat()}"),
        Kpi("net_growth", "Net growth", members.net(window.start, end),
            members.net(window.previous_start, window.previous_end) if known else None,
            help="Joins minus leaves in the range"),
    ]


def meetups(held: HeldMeetups, window: Window) -> list[Kpi]:
    """Meetups held in the range and their attendance rate, each with the previous range's."""
    known = _known(held.first_day, window)
    return [
        Kpi("meetups_held", "Meetups held", held.count(window.start, window.end),
            held.count(window.previous_start, window.previous_end) if known else None,
            help="Meetups not cancelled that started in the range"),
        Kpi("attendance_rate", "Attendance rate", held.rate(window.start, window.end),
            held.rate(window.previous_start, window.previous_end) if known else None, kind="rate",
            help="(going - no-shows) / going over the meetups held"),
    ]


def blog(top_now: pd.DataFrame, top_before: pd.DataFrame, visitors_now: int, visitors_before: int,
         window: Window | None = None, first_day: date | None = date.min) -> list[Kpi]:
    """From `top_posts()` of each range and the distinct visitors of each range. `first_day`:
    the city's first day with a blog view (None: none yet)."""
    known = window is None or _known(first_day, window)
    return [
        Kpi("blog_views", "Blog views", int(top_now["views"].sum()) if len(top_now) else 0,
            (int(top_before["views"].sum()) if len(top_before) else 0) if known else None,
            help="Views of the city's posts in the range"),
        Kpi("unique_visitors", "Unique visitors", int(visitors_now), int(visitors_before) if known else None,
            help="Distinct visitors over the whole range, all posts together"),
    ]


def frame(city: str, window: Window, kpis: list[Kpi]) -> pd.DataFrame:
    """The tiles as rows (the KPI CSV and JSON)."""
    rows = [(city, kpi.key, window.start.isoformat(), window.end.isoformat(), kpi.output(kpi.value),
             window.previous_start.isoformat(), window.previous_end.isoformat(), kpi.output(kpi.previous),
             kpi.output(kpi.change)) for kpi in kpis]
    return pd.DataFrame(rows, columns=KPI_COLUMNS, dtype=object)
