"""What one dashboard shows: a city's figures for a window, and the region overview. Works on
any connection holding the `analytics.*` tables: the dashboard snapshot (web app, static
export) or the warehouse itself. Tables come through the metrics API; what the tiles, charts
and sparklines read (each city's membership changes per day, its meetups held) comes from the
model tables with one query for any number of cities (`member_days`, `held_meetups`), so the
overview of a hundred cities costs about what one city does.

Every number on a page comes from here, so a page, its CSV and its JSON always agree. They are
the contract's figures (`pulse metrics`) as of the moment the figures describe (`as_of`: when
the snapshot was taken), with two differences that keep a page truthful at a glance, both
worked out in `dashboards.series`: each chart period counts only its days inside the chosen
range, and a meetup that has not started yet is neither attended nor a no-show: it is listed
under Upcoming meetups, with its RSVPs, instead of in the meetups table and the charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from analytics import metrics
from analytics.periods import rate
from dashboards import kpis as kpi_module, series
from dashboards.kpis import Kpi
from dashboards.ranges import Choice, Window, local_today, window as make_window

TOP_POSTS_SHOWN = 10
UPCOMING_SHOWN = 8

# The downloads of a city page, in page order: name -> what it holds.
DATASETS = {
    "kpis": "KPI tiles: each metric for the range and the previous range",
    "member-growth": "Member growth per period (each period's days in the range)",
    "attendance-trend": "Attendance per period over the meetups held",
    "meetups": "Meetups in the range that have started",
    "upcoming": "Upcoming meetups with their RSVPs",
    "blog-views": "Blog views per post and period (each period's days in the range)",
    "top-posts": "Posts by views in the range",
}
OVERVIEW_COLUMNS = ["city", "name", "from", "to", "members_now", "members_previous", "net_growth",
                    "net_growth_previous", "meetups_held", "meetups_held_previous", "attendance_rate",
                    "attendance_rate_previous"]


@dataclass(frozen=True)
class City:
    slug: str
    name: str
    timezone: str

    @property
    def title(self) -> str:
        return self.name or self.slug


@dataclass
class CityData:
    city: City
    window: Window
    as_of: datetime
    """The instant the figures describe: when the snapshot was taken (or now, if earlier)."""
    last_day: date
    """The city's local date at `as_of`: nothing after it is drawn."""
    kpis: list[Kpi]
    member_growth: pd.DataFrame
    attendance_trend: pd.DataFrame
    meetups: pd.DataFrame
    """Meetups of the range that have started (cancelled ones included, marked)."""
    upcoming: pd.DataFrame
    """Meetups not cancelled that start after `as_of`, soonest first (the page shows UPCOMING_SHOWN)."""
    blog_views: pd.DataFrame
    top_posts: pd.DataFrame
    """Every post viewed in the range (the page shows the first TOP_POSTS_SHOWN)."""
    overview: OverviewRow | None = None
    """This city's row of the overview for the same window."""
    extra: dict = field(default_factory=dict)

    @property
    def current(self) -> bool:
        """Whether the range reaches the figures' as-of day ("now")."""
        return self.window.end >= self.last_day

    def dataset(self, name: str) -> pd.DataFrame:
        """One download by its name in DATASETS."""
        return {
            "kpis": lambda: kpi_module.frame(self.city.slug, self.window, self.kpis),
            "member-growth": lambda: self.member_growth,
            "attendance-trend": lambda: self.attendance_trend,
            "meetups": lambda: self.meetups,
            "upcoming": lambda: self.upcoming,
            "blog-views": lambda: self.blog_views,
            "top-posts": lambda: self.top_posts,
        }[name]()


def cities(con) -> list[City]:
    frame = metrics.cities(con)
    return [City(row.city, row.name or "", row.timezone) for row in frame.itertuples(index=False)]


def find_city(con, slug: str) -> City | None:
    for city in cities(con):
        if city.slug == slug:
            return city
    return None


def city_window(city: City, choice: Choice, now: datetime) -> Window:
    """The concrete dates of a choice for this city: presets end on the city's own today."""
    return make_window(choice, local_today(city.timezone, now))


def unique_visitors(con, city: str, start: date, end: date) -> int:
    """Distinct blog visitors of a city over start..end, all posts together.

    The metrics API counts visitors per post (and per post and period), which cannot be added
    up into one distinct count, so this one figure reads the blog model table itself.
    """
    return int(con.execute(
        "SELECT count(DISTINCT visitor_id) FROM analytics.blog_visits WHERE city = ? AND day BETWEEN ? AND ?",
        [city, start, end]).fetchall()[0][0])


def blog_in_range(con, city: str, period: str, start: date, end: date) -> pd.DataFrame:
    """Views and unique visitors per post and period over the days start..end only (the
    contract's `blog-views` counts whole periods): post_id, title, period_start, views,
    unique_visitors, ordered by period_start then post_id. Read from the blog model table as
    `unique_visitors` is, for the same reason."""
    rows = con.execute(
        """SELECT v.post_id, coalesce(p.title, ''), v.period_start, v.views, v.unique_visitors
           FROM (SELECT post_id, CAST(date_trunc(?, day) AS DATE) AS period_start,
                        sum(views) AS views, count(DISTINCT visitor_id) AS unique_visitors
                 FROM analytics.blog_visits WHERE city = ? AND day BETWEEN ? AND ?
                 GROUP BY ALL) v
           LEFT JOIN analytics.posts p USING (post_id)
           ORDER BY v.period_start, v.post_id""", [period, city, start, end]).fetchall()
    return pd.DataFrame(rows, columns=["post_id", "title", "period_start", "views", "unique_visitors"])


def first_blog_day(con, city: str) -> date | None:
    """The local day of the city's first blog view (None: none yet)."""
    return con.execute("SELECT min(day) FROM analytics.blog_visits WHERE city = ?", [city]).fetchall()[0][0]


def _split(columns: dict, key: str = "city") -> dict[str, slice]:
    """Rows sorted by `key`: the slice of each value's rows."""
    values = columns[key]
    if not len(values):
        return {}
    changes = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [len(values)]])
    return {values[i]: slice(int(i), int(j)) for i, j in zip(starts, ends, strict=True)}


def member_days(con, slug: str | None = None) -> dict[str, series.MemberDays]:
    """Each city's (or one city's) membership changes per local day, in one query."""
    where, params = ("WHERE city = ?", [slug]) if slug is not None else ("", [])
    columns = con.execute(
        f"""SELECT city, day, sum(joins)::BIGINT AS joins, sum(leaves)::BIGINT AS leaves
            FROM analytics.member_daily {where} GROUP BY city, day ORDER BY city, day""", params).fetchnumpy()
    days = columns["day"].astype("datetime64[D]")
    return {city: series.MemberDays(days[rows], columns["joins"][rows].astype(np.int64),
                                    columns["leaves"][rows].astype(np.int64))
            for city, rows in _split(columns).items()}


def held_meetups(con, as_of: datetime, slug: str | None = None) -> dict[str, series.HeldMeetups]:
    """Each city's (or one city's) meetups held by `as_of` (started, not cancelled), by local
    day, in one query."""
    where, params = ("AND m.city = ?", [as_of, slug]) if slug is not None else ("", [as_of])
    columns = con.execute(
        f"""SELECT m.city, CAST(timezone(c.timezone, m.starts_at) AS DATE) AS day, a.going, a.checked_in,
                   a.no_shows, a.first_timers
            FROM analytics.meetups m JOIN analytics.attendance a USING (event_id) JOIN analytics.cities c USING (city)
            WHERE NOT m.cancelled AND m.starts_at <= ? {where}
            ORDER BY m.city, day, m.starts_at, m.event_id""", params).fetchnumpy()
    days = columns["day"].astype("datetime64[D]")
    return {city: series.HeldMeetups(days[rows], *(columns[c][rows].astype(np.int64)
                                                   for c in ("going", "checked_in", "no_shows", "first_timers")))
            for city, rows in _split(columns).items()}


def _started(attendance: pd.DataFrame, window: Window, timezone_name: str, as_of: datetime) -> pd.DataFrame:
    """Meetups of the range (cancelled ones too) that had started by `as_of`."""
    if not len(attendance):
        return attendance.reset_index(drop=True)
    local_days = attendance["starts_at"].dt.tz_convert(timezone_name).dt.date
    keep = (local_days >= window.start) & (local_days <= window.end) & (attendance["starts_at"] <= pd.Timestamp(as_of))
    return attendance[keep].reset_index(drop=True)


@dataclass
class _Core:
    """What the city page and the overview row both start from."""

    last_day: date
    members_days: series.MemberDays
    held: series.HeldMeetups
    members: Kpi
    net_growth: Kpi
    meetups_held: Kpi
    attendance_rate: Kpi


def _core(city: City, window: Window, as_of: datetime, members: series.MemberDays | None,
          held: series.HeldMeetups | None) -> _Core:
    last_day = local_today(city.timezone, as_of)
    members = members if members is not None else series.MemberDays.empty()
    held = held if held is not None else series.HeldMeetups.empty()
    return _Core(last_day, members, held, *kpi_module.membership(members, window, last_day),
                 *kpi_module.meetups(held, window))


def city_data(con, city: City, window: Window, as_of: datetime) -> CityData:
    """Everything a city page shows; `as_of` is the instant the figures describe (meetups that
    start after it are upcoming)."""
    slug = city.slug
    core = _core(city, window, as_of, member_days(con, slug).get(slug), held_meetups(con, as_of, slug).get(slug))
    last_day = core.last_day
    # Nothing dated after the as-of day counts (the charts stop there too).
    end = min(window.end, last_day)
    top_now = (metrics.top_posts(con, slug, window.start, end) if end >= window.start
               else pd.DataFrame(columns=metrics.TOP_POSTS))
    top_before = metrics.top_posts(con, slug, window.previous_start, window.previous_end)
    tiles = ([core.members, core.net_growth, core.meetups_held, core.attendance_rate]
             + kpi_module.blog(top_now, top_before,
                               unique_visitors(con, slug, window.start, end),
                               unique_visitors(con, slug, window.previous_start, window.previous_end),
                               window, first_blog_day(con, slug)))
    blog = blog_in_range(con, slug, window.period, window.start, end)
    members = series.member_periods(slug, core.members_days, window, last_day)
    trend = series.attendance_periods(slug, core.held, window, last_day)
    attendance = metrics.attendance(con, slug, window.start, window.end)
    return CityData(
        city=city,
        window=window,
        as_of=as_of,
        last_day=last_day,
        kpis=tiles,
        member_growth=members,
        attendance_trend=trend,
        meetups=_started(attendance, window, city.timezone, as_of),
        upcoming=metrics.upcoming(con, slug, as_of),
        blog_views=series.blog_periods(slug, blog, window, last_day),
        top_posts=top_now,
        overview=_row(city, window, core, members, trend),
    )


@dataclass(frozen=True)
class OverviewRow:
    city: City
    window: Window
    members: Kpi
    net_growth: Kpi
    meetups_held: Kpi
    attendance_rate: Kpi
    going: int = 0
    no_shows: int = 0
    going_before: int = 0
    no_shows_before: int = 0
    """Sums over the meetups held in the range and in the previous one (the region's rate)."""
    members_series: tuple = ()
    """(period start, members at its last day in the range) per period: the sparkline."""
    rate_series: tuple = ()
    """(period start, attendance rate or None) per period."""
    attendance_series: tuple = ()
    """(period start, going, no-shows) per period, over the meetups held (the region's rate)."""


def _row(city: City, window: Window, core: _Core, members: pd.DataFrame, trend: pd.DataFrame) -> OverviewRow:
    going, _, no_shows, _ = core.held.sums(window.start, window.end)
    going_before, _, no_shows_before, _ = core.held.sums(window.previous_start, window.previous_end)
    return OverviewRow(
        city, window, core.members, core.net_growth, core.meetups_held, core.attendance_rate,
        going, no_shows, going_before, no_shows_before,
        members_series=tuple(zip(members["period_start"], (int(v) for v in members["members_end"]), strict=True)),
        rate_series=tuple((begin, None if pd.isna(value) else float(value))
                          for begin, value in zip(trend["period_start"], trend["attendance_rate"], strict=True)),
        attendance_series=tuple((begin, int(going), int(no_shows)) for begin, going, no_shows in zip(
            trend["period_start"], trend["going"], trend["no_shows"], strict=True)))


def overview_row(con, city: City, window: Window, as_of: datetime) -> OverviewRow:
    """A city's overview row alone (without the rest of its page)."""
    return overview_rows(con, [city], None, None, as_of, windows={city.slug: window})[0]


def overview_row_of(found: CityData) -> OverviewRow:
    """The overview row of a city whose page figures are already computed (same window)."""
    return found.overview


def overview_rows(con, cities_shown: list[City], choice: Choice | None, now: datetime | None, as_of: datetime, *,
                  windows: dict[str, Window] | None = None) -> list[OverviewRow]:
    """The overview rows of these cities for a choice (or the given `windows`), in slug order:
    every city's figures from two queries, so a hundred cities cost about what one does."""
    if not cities_shown:
        return []
    members = member_days(con) if len(cities_shown) > 1 else member_days(con, cities_shown[0].slug)
    held = held_meetups(con, as_of) if len(cities_shown) > 1 else held_meetups(con, as_of, cities_shown[0].slug)
    rows = []
    for city in sorted(cities_shown, key=lambda c: c.slug):
        window = windows[city.slug] if windows is not None else city_window(city, choice, now)
        core = _core(city, window, as_of, members.get(city.slug), held.get(city.slug))
        rows.append(_row(city, window, core, series.member_periods(city.slug, core.members_days, window, core.last_day),
                         series.attendance_periods(city.slug, core.held, window, core.last_day)))
    return rows


@dataclass(frozen=True)
class Totals:
    """The region's row: sums over the cities shown, the attendance rate over all their meetups.
    A city with no figures yet before the range adds nothing to the previous values (it had
    none); the comparison is missing only when no city had any."""

    members: Kpi
    net_growth: Kpi
    meetups_held: Kpi
    attendance_rate: Kpi
    members_series: tuple = ()
    """(period start, members of all the cities) per period: the region's trend."""
    rate_series: tuple = ()
    """(period start, the attendance rate over all their meetups held, or None) per period."""


def _region_series(rows: list[OverviewRow]) -> tuple[tuple, tuple]:
    """The region's members and attendance rate per period, where the cities' periods agree
    (a preset's dates can differ by a day between timezones: then those edge periods are left out)."""
    if not rows:
        return (), ()
    shared = set.intersection(*(set(begin for begin, _ in r.members_series) for r in rows))
    members: dict = {}
    people: dict = {}
    for row in rows:
        for begin, value in row.members_series:
            if begin in shared:
                members[begin] = members.get(begin, 0) + value
        for begin, going, no_shows in row.attendance_series:
            if begin in shared:
                total = people.get(begin, (0, 0))
                people[begin] = (total[0] + going, total[1] + no_shows)
    order = sorted(shared)
    rates = []
    for begin in order:
        going, no_shows = people.get(begin, (0, 0))
        exact = rate(going - no_shows, going)
        rates.append((begin, None if exact is None else float(exact)))
    return tuple((begin, members[begin]) for begin in order), tuple(rates)


def totals(rows: list[OverviewRow]) -> Totals:
    def add(values):
        values = [v for v in values if v is not None]
        return sum(values) if values else None

    some_before = any(r.meetups_held.previous is not None for r in rows)
    return Totals(
        Kpi("members_now", rows[0].members.label if rows else "Members now",
            add(r.members.value for r in rows), add(r.members.previous for r in rows)),
        Kpi("net_growth", "Net growth", add(r.net_growth.value for r in rows), add(r.net_growth.previous for r in rows)),
        Kpi("meetups_held", "Meetups held", add(r.meetups_held.value for r in rows),
            add(r.meetups_held.previous for r in rows)),
        Kpi("attendance_rate", "Attendance rate",
            rate(sum(r.going - r.no_shows for r in rows), sum(r.going for r in rows)),
            rate(sum(r.going_before - r.no_shows_before for r in rows), sum(r.going_before for r in rows))
            if some_before else None, kind="rate"),
        *_region_series(rows))


def overview_frame(rows: list[OverviewRow]) -> pd.DataFrame:
    """The overview table as rows (its CSV), city by city in slug order."""
    def text(kpi: Kpi, value):
        return kpi.output(value)

    records = [(row.city.slug, row.city.name, row.window.start.isoformat(), row.window.end.isoformat(),
                text(row.members, row.members.value), text(row.members, row.members.previous),
                text(row.net_growth, row.net_growth.value), text(row.net_growth, row.net_growth.previous),
                text(row.meetups_held, row.meetups_held.value), text(row.meetups_held, row.meetups_held.previous),
                # The contract's rate column: handed over as a number for the formatter to write.
                None if row.attendance_rate.value is None else float(row.attendance_rate.value),
                text(row.attendance_rate, row.attendance_rate.previous))
               for row in sorted(rows, key=lambda r: r.city.slug)]
    return pd.DataFrame(records, columns=OVERVIEW_COLUMNS, dtype=object)
