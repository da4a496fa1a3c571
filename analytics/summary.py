"""A few headline figures per city, for `pulse demo` and anyone wanting a glance.

Per city, as of a local date (default: today in the city's timezone):
- members: members at the end of that day;
- net_last_month: net member growth over the calendar month before the one containing it;
- attendance_rate: (going - no_shows) / going over the city's meetups not cancelled that
  started on or before it (upcoming meetups have no check-ins yet, so they would only drag
  the rate down), rounded half up to four decimals; NaN when nobody was going;
- the top post of the last 30 days up to it (views, then post_id): id, title, views; missing
  (NaN) and 0 when nothing was viewed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from collections.abc import Callable
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from analytics import metrics
from analytics.periods import format_rate, rate
from pulse.core.config import Config

COLUMNS = ["city", "name", "as_of", "members", "last_month", "net_last_month", "attendance_rate",
           "top_post_id", "top_post_title", "top_post_views"]


def city_summaries(con: duckdb.DuckDBPyConnection, *, as_of: date | None = None) -> pd.DataFrame:
    """One row per city in slug order (columns: COLUMNS)."""
    rows = []
    for city, name, tz in con.execute(
            "SELECT city, name, timezone FROM analytics.cities ORDER BY city").fetchall():
        day = as_of or datetime.now(ZoneInfo(tz)).date()
        last_month = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
        growth = metrics.member_growth(con, city, "month", last_month, last_month)
        members = metrics.member_growth(con, city, "day", day, day)["members_end"].iloc[0]
        going, no_shows = con.execute(
            """SELECT coalesce(sum(a.going), 0), coalesce(sum(a.no_shows), 0)
               FROM analytics.meetups m JOIN analytics.attendance a USING (event_id)
               WHERE m.city = ? AND NOT m.cancelled AND CAST(timezone(?, m.starts_at) AS DATE) <= ?""",
            [city, tz, day]).fetchall()[0]
        exact = rate(int(going) - int(no_shows), int(going))
        top = metrics.top_posts(con, city, day - timedelta(days=29), day, limit=1)
        rows.append((
            city, name, day, int(members), last_month, int(growth["net"].iloc[0]),
            None if exact is None else float(exact),
            top["post_id"].iloc[0] if len(top) else None,
            top["title"].iloc[0] if len(top) else None,
            int(top["views"].iloc[0]) if len(top) else 0,
        ))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["attendance_rate"] = frame["attendance_rate"].astype("float64")
    return frame


def summarize(config: Config, *, as_of: date | None = None,
              on_notice: Callable[[str], None] | None = None) -> pd.DataFrame:
    """`city_summaries` over up-to-date models (built first when stale)."""
    with metrics.connect(config, on_notice=on_notice) as con:
        return city_summaries(con, as_of=as_of)


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """One line per city, for a terminal."""
    lines = []
    for row in frame.itertuples(index=False):
        label = row.city if pd.isna(row.name) or row.name in ("", row.city) else f"{row.city} ({row.name})"
        rate_text = format_rate(row.attendance_rate) or "n/a"
        top = (f"top post {row.top_post_title!r} ({row.top_post_views} views in 30 days)"
               if not pd.isna(row.top_post_id) else "no post viewed in 30 days")
        lines.append(f"{label}: {row.members} members, {row.net_last_month:+d} in "
                     f"{row.last_month:%Y-%m}, attendance rate {rate_text}, {top}")
    return lines
