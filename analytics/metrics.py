"""The metrics API: pandas DataFrames for the CLI, the dashboards and the publisher.

Every function takes an open warehouse connection (see `connect`) and a city slug, or "all"
for every city, city by city in slug order. Dates are the city's local dates (`date` or
`YYYY-MM-DD`), inclusive. Columns are those of the matching `pulse metrics` command, typed:
dates as `datetime.date`, `starts_at` as a UTC timestamp, counts as integers, and
`attendance_rate` as a float already rounded half up to four decimals (NaN when nobody was
going); `analytics.formatting` writes them as the contract's output formats say.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import date
from collections.abc import Callable, Iterator

import duckdb
import pandas as pd

from analytics import refresh
from analytics.periods import check_period, next_period, parse_date, period_start, periods, rate
from pulse.core.config import Config
from pulse.core.warehouse import open_warehouse

MEMBER_GROWTH = ["city", "period_start", "joins", "leaves", "net", "members_end"]
ATTENDANCE = ["city", "event_id", "title", "starts_at", "status", "going", "checked_in", "no_shows",
              "walk_ins", "attendance_rate", "first_timers"]
ATTENDANCE_TREND = ["city", "month", "events", "going", "checked_in", "no_shows", "attendance_rate"]
BLOG_VIEWS = ["city", "post_id", "title", "period_start", "views", "unique_visitors"]
TOP_POSTS = ["city", "post_id", "title", "views", "unique_visitors"]
CITIES = ["city", "name", "timezone"]
UPCOMING = ["city", "event_id", "title", "starts_at", "venue", "going", "waitlist", "capacity"]


class MetricsError(ValueError):
    """A request that cannot be answered (unknown city, bad date or range), in one line."""


class NotBuilt(MetricsError):
    """The models have never been built, and building was not allowed."""


@contextlib.contextmanager
def connect(
    config: Config,
    *,
    build_if_stale: bool = True,
    on_notice: Callable[[str], None] | None = None,
    builder: Callable[[Config], object] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to up-to-date models.

    When events arrived since the last build, say so through `on_notice` (one line; stderr by
    default) and, with `build_if_stale` (the default), build first: a reader would rather wait
    for a short incremental build than be handed stale figures. Without it, the stale figures
    are served after the notice. `builder` is what builds (default `refresh.build`; the CLI
    passes the pipeline's, which also publishes the dashboards' snapshot).
    """
    notice = on_notice or (lambda message: print(f"pulse: {message}", file=sys.stderr, flush=True))
    with open_warehouse(config, write=False, purpose="metrics") as con:
        current = refresh.status(con)
        if not current.stale(config):
            yield con
            return
        why = current.describe(config)
        if not build_if_stale:
            if not current.built or current.pending_migrations:
                raise NotBuilt(f"{why}; run `pulse build`")
            notice(f"stale metrics: {why}; run `pulse build` for current figures")
            yield con
            return
    notice(f"{why}; building the metrics first")
    (builder or refresh.build)(config)
    with open_warehouse(config, write=False, purpose="metrics") as con:
        yield con


def cities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every city, in slug order, with its name (None before any city:upserted) and timezone."""
    rows = con.execute("SELECT city, name, timezone FROM analytics.cities ORDER BY city").fetchall()
    return pd.DataFrame(rows, columns=CITIES)


def resolve_cities(con: duckdb.DuckDBPyConnection, city: str) -> list[tuple[str, str]]:
    """(slug, timezone) of the city asked for, or of every city in slug order for "all"."""
    if city == "all":
        return [tuple(row) for row in con.execute(
            "SELECT city, timezone FROM analytics.cities ORDER BY city").fetchall()]
    rows = con.execute("SELECT city, timezone FROM analytics.cities WHERE city = ?", [city]).fetchall()
    if not rows:
        raise MetricsError(f"no city {city!r} in the events; `pulse metrics cities` lists them")
    return [tuple(rows[0])]


def _range(start, end) -> tuple[date, date]:
    try:
        first, last = parse_date(start, "--from"), parse_date(end, "--to")
    except ValueError as error:
        raise MetricsError(str(error)) from None
    if first > last:
        raise MetricsError(f"--from {first} is after --to {last}")
    return first, last


def _period(period: str) -> str:
    try:
        return check_period(period)
    except ValueError as error:
        raise MetricsError(str(error)) from None


def _frame(rows: list, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if "attendance_rate" in columns:
        frame["attendance_rate"] = frame["attendance_rate"].astype("float64")
    return frame


def _rate(numerator: int, denominator: int) -> float | None:
    exact = rate(numerator, denominator)
    return None if exact is None else float(exact)


def member_growth(con, city: str, period: str, start, end) -> pd.DataFrame:
    """Joins, leaves, net and members at the end of each period from the one containing
    `start` to the one containing `end`, periods without transitions included."""
    period = _period(period)
    first, last = _range(start, end)
    starts = periods(first, last, period)
    stop = next_period(starts[-1], period)
    rows = []
    for slug, _tz in resolve_cities(con, city):
        # Every transition before the first period counts into its members_end.
        before = con.execute(
            "SELECT coalesce(sum(joins - leaves), 0) FROM analytics.member_daily WHERE city = ? AND day < ?",
            [slug, starts[0]]).fetchall()[0][0]
        counted = {
            row[0]: (row[1], row[2]) for row in con.execute(
                """SELECT CAST(date_trunc(?, day) AS DATE), sum(joins), sum(leaves)
                   FROM analytics.member_daily WHERE city = ? AND day >= ? AND day < ?
                   GROUP BY 1""", [period, slug, starts[0], stop]).fetchall()
        }
        members = int(before)
        for period_begin in starts:
            joins, leaves = (int(n) for n in counted.get(period_begin, (0, 0)))
            members += joins - leaves
            rows.append((slug, period_begin, joins, leaves, joins - leaves, members))
    return _frame(rows, MEMBER_GROWTH)


def attendance(con, city: str, start=None, end=None) -> pd.DataFrame:
    """One row per meetup of the city (cancelled ones included), ordered by starts_at then
    event_id; `start`/`end` optionally keep those whose starts_at falls on those local dates."""
    try:
        first = parse_date(start, "--from") if start is not None else date.min
        last = parse_date(end, "--to") if end is not None else date.max
    except ValueError as error:
        raise MetricsError(str(error)) from None
    if first > last:
        raise MetricsError(f"--from {first} is after --to {last}")
    rows = []
    for slug, tz in resolve_cities(con, city):
        for event_id, title, starts_at, cancelled, going, checked_in, no_shows, walk_ins, first_timers in con.execute(
            """SELECT m.event_id, m.title, m.starts_at, m.cancelled,
                      a.going, a.checked_in, a.no_shows, a.walk_ins, a.first_timers
               FROM analytics.meetups m JOIN analytics.attendance a USING (event_id)
               WHERE m.city = ? AND CAST(timezone(?, m.starts_at) AS DATE) BETWEEN ? AND ?
               ORDER BY m.starts_at, m.event_id""", [slug, tz, first, last]).fetchall():
            rows.append((slug, event_id, title, starts_at, "cancelled" if cancelled else "scheduled",
                         going, checked_in, no_shows, walk_ins, _rate(going - no_shows, going), first_timers))
    frame = _frame(rows, ATTENDANCE)
    frame["starts_at"] = pd.to_datetime(frame["starts_at"], utc=True)
    return frame


def attendance_trend(con, city: str, start, end) -> pd.DataFrame:
    """Per local month of starts_at, over meetups not cancelled: how many, and the sums of
    going, checked_in and no_shows; every month from `start`'s to `end`'s, empty ones too."""
    first, last = _range(start, end)
    months = periods(first, last, "month")
    stop = next_period(months[-1], "month")
    rows = []
    for slug, tz in resolve_cities(con, city):
        counted = {
            row[0]: row[1:] for row in con.execute(
                """SELECT month, count(*), sum(going), sum(checked_in), sum(no_shows)
                   FROM (SELECT CAST(date_trunc('month', timezone(?, m.starts_at)) AS DATE) AS month,
                                a.going, a.checked_in, a.no_shows
                         FROM analytics.meetups m JOIN analytics.attendance a USING (event_id)
                         WHERE m.city = ? AND NOT m.cancelled)
                   WHERE month >= ? AND month < ?
                   GROUP BY month""", [tz, slug, months[0], stop]).fetchall()
        }
        for month in months:
            events, going, checked_in, no_shows = (int(n) for n in counted.get(month, (0, 0, 0, 0)))
            rows.append((slug, month, events, going, checked_in, no_shows, _rate(going - no_shows, going)))
    return _frame(rows, ATTENDANCE_TREND)


def blog_views(con, city: str, period: str, start, end) -> pd.DataFrame:
    """Views and unique visitors (distinct over each whole period) per post and period, for
    the periods from the one containing `start` to the one containing `end`; rows with views
    only, ordered by period_start then post_id."""
    period = _period(period)
    first, last = _range(start, end)
    begin = period_start(first, period)
    stop = next_period(period_start(last, period), period)
    rows = []
    for slug, _tz in resolve_cities(con, city):
        rows.extend(con.execute(
            """SELECT ?, v.post_id, coalesce(p.title, ''), v.period_start, v.views, v.unique_visitors
               FROM (SELECT post_id, CAST(date_trunc(?, day) AS DATE) AS period_start,
                            sum(views) AS views, count(DISTINCT visitor_id) AS unique_visitors
                     FROM analytics.blog_visits
                     WHERE city = ? AND day >= ? AND day < ?
                     GROUP BY ALL) v
               LEFT JOIN analytics.posts p USING (post_id)
               ORDER BY v.period_start, v.post_id""", [slug, period, slug, begin, stop]).fetchall())
    return _frame(rows, BLOG_VIEWS)


def top_posts(con, city: str, start, end, limit: int | None = None) -> pd.DataFrame:
    """Posts by views over the local dates `start`..`end`, unique visitors distinct over the
    whole range; views descending, then post_id. `limit` keeps the first N per city."""
    first, last = _range(start, end)
    if limit is not None and limit < 0:
        raise MetricsError(f"--limit: expected a number >= 0, got {limit}")
    rows = []
    for slug, _tz in resolve_cities(con, city):
        rows.extend(con.execute(
            """SELECT ?, v.post_id, coalesce(p.title, ''), v.views, v.unique_visitors
               FROM (SELECT post_id, sum(views) AS views, count(DISTINCT visitor_id) AS unique_visitors
                     FROM analytics.blog_visits
                     WHERE city = ? AND day BETWEEN ? AND ?
                     GROUP BY post_id) v
               LEFT JOIN analytics.posts p USING (post_id)
               ORDER BY v.views DESC, v.post_id
               LIMIT ?""", [slug, slug, first, last, limit]).fetchall())
    return _frame(rows, TOP_POSTS)


def upcoming(con, city: str, after, limit: int | None = None) -> pd.DataFrame:
    """Meetups not cancelled that start after the instant `after` (timezone-aware), soonest
    first (then event_id), with their RSVPs: `going`, `waitlist` (users whose latest RSVP says
    so) and `capacity` (None when no event gave one). `limit` keeps the first N per city.

    Not a `pulse metrics` table: the dashboards and digests show these apart from attendance,
    because a meetup that has not started has no check-ins yet and is not a no-show."""
    if limit is not None and limit < 0:
        raise MetricsError(f"limit: expected a number >= 0, got {limit}")
    rows = []
    for slug, _tz in resolve_cities(con, city):
        rows.extend(con.execute(
            """SELECT m.city, m.event_id, m.title, m.starts_at, m.venue, a.going, a.waitlist, m.capacity
               FROM analytics.meetups m JOIN analytics.attendance a USING (event_id)
               WHERE m.city = ? AND NOT m.cancelled AND m.starts_at > ?
               ORDER BY m.starts_at, m.event_id
               LIMIT ?""", [slug, after, limit]).fetchall())
    frame = pd.DataFrame(rows, columns=UPCOMING)
    frame["starts_at"] = pd.to_datetime(frame["starts_at"], utc=True)
    # Object, not float: a capacity is a whole number or absent (None), never 80.0 or NaN.
    frame["capacity"] = pd.Series([row[7] for row in rows], dtype=object)
    return frame
