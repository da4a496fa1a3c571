"""The KPI tiles: each figure for the chosen range and for the previous range of the same
length, worked out from the metrics API's DataFrames. Pure functions, no I/O.

Definitions (shown on the page too):
- members now: `members_end` on the range's last day (members at the end of the previous
  range for the comparison);
- net growth: joins minus leaves over the range's days;
- meetups held: meetups not cancelled that started within the range, before the figures'
  as-of time (when the snapshot was taken: later check-ins are not in the figures yet);
- attendance rate: (going - no-shows) / going over those meetups, by the contract's rounding;
- blog views: views of the city's posts over the range;
- unique visitors: distinct visitors over the whole range, all posts together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from analytics.periods import format_rate, rate
from dashboards.ranges import Window

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


def _dates_of(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].map(lambda value: value if isinstance(value, date) else date.fromisoformat(str(value)))


def membership(daily: pd.DataFrame, window: Window) -> list[Kpi]:
    """From `member_growth(period="day")` over previous_start..end: members now, net growth."""
    days = _dates_of(daily, "period_start") if len(daily) else pd.Series([], dtype=object)

    def members_on(day: date) -> int | None:
        rows = daily[days == day]
        return int(rows["members_end"].iloc[-1]) if len(rows) else None

    def net_between(first: date, last: date) -> int:
        return int(daily[(days >= first) & (days <= last)]["net"].sum()) if len(daily) else 0

    return [
        Kpi("members_now", "Members now", members_on(window.end), members_on(window.previous_end),
            help="Members at the end of the range"),
        Kpi("net_growth", "Net growth", net_between(window.start, window.end),
            net_between(window.previous_start, window.previous_end), help="Joins minus leaves in the range"),
    ]


def held_meetups(attendance: pd.DataFrame, timezone_name: str, first: date, last: date, now: datetime) -> pd.DataFrame:
    """Meetups not cancelled whose start (local date) is within first..last and not after now."""
    if not len(attendance):
        return attendance
    local_days = attendance["starts_at"].dt.tz_convert(timezone_name).dt.date
    keep = ((attendance["status"] != "cancelled") & (local_days >= first) & (local_days <= last)
            & (attendance["starts_at"] <= pd.Timestamp(now)))
    return attendance[keep]


def attendance_rate(meetups: pd.DataFrame) -> Decimal | None:
    going = int(meetups["going"].sum()) if len(meetups) else 0
    no_shows = int(meetups["no_shows"].sum()) if len(meetups) else 0
    return rate(going - no_shows, going)


def meetups(attendance: pd.DataFrame, timezone_name: str, window: Window, now: datetime) -> list[Kpi]:
    """From `attendance()` over previous_start..end: meetups held, attendance rate."""
    current = held_meetups(attendance, timezone_name, window.start, window.end, now)
    previous = held_meetups(attendance, timezone_name, window.previous_start, window.previous_end, now)
    return [
        Kpi("meetups_held", "Meetups held", len(current), len(previous),
            help="Meetups not cancelled that started in the range"),
        Kpi("attendance_rate", "Attendance rate", attendance_rate(current), attendance_rate(previous), kind="rate",
            help="(going - no-shows) / going over the meetups held"),
    ]


def blog(top_now: pd.DataFrame, top_before: pd.DataFrame, visitors_now: int, visitors_before: int) -> list[Kpi]:
    """From `top_posts()` of each range and the distinct visitors of each range."""
    return [
        Kpi("blog_views", "Blog views", int(top_now["views"].sum()) if len(top_now) else 0,
            int(top_before["views"].sum()) if len(top_before) else 0, help="Views of the city's posts in the range"),
        Kpi("unique_visitors", "Unique visitors", int(visitors_now), int(visitors_before),
            help="Distinct visitors over the whole range, all posts together"),
    ]


def frame(city: str, window: Window, kpis: list[Kpi]) -> pd.DataFrame:
    """The tiles as rows (the KPI CSV and JSON)."""
    rows = [(city, kpi.key, window.start.isoformat(), window.end.isoformat(), kpi.output(kpi.value),
             window.previous_start.isoformat(), window.previous_end.isoformat(), kpi.output(kpi.previous),
             kpi.output(kpi.change)) for kpi in kpis]
    return pd.DataFrame(rows, columns=KPI_COLUMNS, dtype=object)
