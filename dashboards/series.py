"""The per-period series a dashboard draws, clipped to the range it shows. Pure functions, no I/O.

Why not the metrics API's per-period tables as they are: the contract counts a period whole
(`pulse metrics member-growth --from` a Wednesday starts with that whole ISO week), so the first
and last bars of a chart would count days outside the chosen range, and the bars would not add
up to the tiles beside them. Here each period counts only its days inside the range (`from`,
`to` say which), and nothing after the figures' as-of day: a period that has not begun is not
drawn, and a meetup that has not started is not "attended" (it is in the Upcoming card).
Whole periods inside the range are exactly the contract's figures.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from analytics.periods import next_period, period_start, periods, rate
from dashboards.ranges import Window

MEMBER_COLUMNS = ["city", "period_start", "from", "to", "joins", "leaves", "net", "members_end"]
ATTENDANCE_COLUMNS = ["city", "period_start", "from", "to", "events", "going", "checked_in", "no_shows",
                      "attendance_rate"]
BLOG_COLUMNS = ["city", "post_id", "title", "period_start", "from", "to", "views", "unique_visitors"]


def spans(window: Window, last: date, period: str | None = None) -> list[tuple[date, date, date]]:
    """(period start, first day, last day) of every period the range shows: its days inside
    `window.start`..min(`window.end`, `last`); none when the range begins after `last`."""
    period = period or window.period
    end = min(window.end, last)
    if end < window.start:
        return []
    found = []
    for begin in periods(window.start, end, period):
        found.append((begin, max(begin, window.start), min(next_period(begin, period) - timedelta(days=1), end)))
    return found


def _day_index(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].map(lambda value: value if isinstance(value, date) else date.fromisoformat(str(value)))


def member_periods(city: str, daily: pd.DataFrame, window: Window, last: date,
                   period: str | None = None) -> pd.DataFrame:
    """From `metrics.member_growth(period="day")` over at least window.start..window.end: joins,
    leaves and net over each period's days in the range, members at its last such day."""
    rows = []
    if len(daily):
        days = _day_index(daily, "period_start")
        members = dict(zip(days, daily["members_end"], strict=True))
        joins, leaves = daily["joins"].to_numpy(), daily["leaves"].to_numpy()
        for begin, first, final in spans(window, last, period):
            inside = ((days >= first) & (days <= final)).to_numpy()
            j, lv = int(joins[inside].sum()), int(leaves[inside].sum())
            rows.append((city, begin, first, final, j, lv, j - lv, int(members[final])))
    return pd.DataFrame(rows, columns=MEMBER_COLUMNS)


def attendance_periods(city: str, held: pd.DataFrame, timezone_name: str, window: Window, last: date,
                       period: str | None = None) -> pd.DataFrame:
    """From the meetups held (`kpis.held_meetups`): per period, how many and the sums of going,
    checked-in and no-shows, with the contract's attendance rate over them (NaN when nobody
    was going); periods without meetups included."""
    period = period or window.period
    counted: dict[date, tuple[int, int, int, int]] = {}
    if len(held):
        starts = held["starts_at"].dt.tz_convert(timezone_name).dt.date.map(lambda d: period_start(d, period))
        for begin, group in held.groupby(starts.to_numpy(), sort=True):
            counted[begin] = (len(group), int(group["going"].sum()), int(group["checked_in"].sum()),
                              int(group["no_shows"].sum()))
    rows = []
    for begin, first, final in spans(window, last, period):
        events, going, checked_in, no_shows = counted.get(begin, (0, 0, 0, 0))
        exact = rate(going - no_shows, going)
        rows.append((city, begin, first, final, events, going, checked_in, no_shows,
                     float("nan") if exact is None else float(exact)))
    frame = pd.DataFrame(rows, columns=ATTENDANCE_COLUMNS)
    frame["attendance_rate"] = frame["attendance_rate"].astype("float64")
    return frame


def blog_periods(city: str, visits: pd.DataFrame, window: Window, last: date, period: str | None = None) -> pd.DataFrame:
    """From per post and period counts over the range's days (`data.blog_in_range`): the rows
    with each period's days in the range added."""
    bounds = {begin: (first, final) for begin, first, final in spans(window, last, period)}
    rows = [(city, row.post_id, row.title, row.period_start, *bounds[row.period_start], int(row.views),
             int(row.unique_visitors))
            for row in visits.itertuples(index=False) if row.period_start in bounds]
    return pd.DataFrame(rows, columns=BLOG_COLUMNS)
