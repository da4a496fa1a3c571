"""What one dashboard shows, fetched through the metrics API: a city's figures for a window,
and the region overview. Works on any connection holding the `analytics.*` tables: the
dashboard snapshot (web app, static export) or the warehouse itself.

Every number on a page comes from here, so a page, its CSV and its JSON always agree, and
they agree with `pulse metrics` because they are the very same API calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from analytics import metrics
from dashboards import kpis as kpi_module
from dashboards.kpis import Kpi
from dashboards.ranges import Choice, Window, local_today, window as make_window

TOP_POSTS_SHOWN = 10

# The downloads of a city page, in page order: name -> what it holds.
DATASETS = {
    "kpis": "KPI tiles: each metric for the range and the previous range",
    "member-growth": "Member growth per period",
    "attendance-trend": "Attendance per month",
    "meetups": "Meetups in the range",
    "blog-views": "Blog views per post and period",
    "top-posts": "Posts by views in the range",
}
OVERVIEW_COLUMNS = ["city", "name", "from", "to", "members_now", "members_previous", "net_growth",
                    "net_growth_previous", "meetups_held", "attendance_rate", "attendance_rate_previous"]


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
    kpis: list[Kpi]
    member_growth: pd.DataFrame
    attendance_trend: pd.DataFrame
    meetups: pd.DataFrame
    blog_views: pd.DataFrame
    top_posts: pd.DataFrame
    """Every post viewed in the range (the page shows the first TOP_POSTS_SHOWN)."""
    extra: dict = field(default_factory=dict)

    def dataset(self, name: str) -> pd.DataFrame:
        """One download by its name in DATASETS."""
        return {
            "kpis": lambda: kpi_module.frame(self.city.slug, self.window, self.kpis),
            "member-growth": lambda: self.member_growth,
            "attendance-trend": lambda: self.attendance_trend,
            "meetups": lambda: self.meetups,
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


def city_data(con, city: City, window: Window, now: datetime) -> CityData:
    slug = city.slug
    daily = metrics.member_growth(con, slug, "day", window.previous_start, window.end)
    both = metrics.attendance(con, slug, window.previous_start, window.end)
    top_now = metrics.top_posts(con, slug, window.start, window.end)
    top_before = metrics.top_posts(con, slug, window.previous_start, window.previous_end)
    tiles = (kpi_module.membership(daily, window)
             + kpi_module.meetups(both, city.timezone, window, now)
             + kpi_module.blog(top_now, top_before,
                               unique_visitors(con, slug, window.start, window.end),
                               unique_visitors(con, slug, window.previous_start, window.previous_end)))
    local_days = both["starts_at"].dt.tz_convert(city.timezone).dt.date if len(both) else pd.Series([], dtype=object)
    in_range = both[(local_days >= window.start) & (local_days <= window.end)] if len(both) else both
    return CityData(
        city=city,
        window=window,
        kpis=tiles,
        member_growth=metrics.member_growth(con, slug, window.period, window.start, window.end),
        attendance_trend=metrics.attendance_trend(con, slug, window.start, window.end),
        meetups=in_range.reset_index(drop=True),
        blog_views=metrics.blog_views(con, slug, window.period, window.start, window.end),
        top_posts=top_now,
    )


@dataclass(frozen=True)
class OverviewRow:
    city: City
    window: Window
    members: Kpi
    net_growth: Kpi
    meetups_held: Kpi
    attendance_rate: Kpi


def overview_row(con, city: City, window: Window, now: datetime) -> OverviewRow:
    daily = metrics.member_growth(con, city.slug, "day", window.previous_start, window.end)
    both = metrics.attendance(con, city.slug, window.previous_start, window.end)
    members, net = kpi_module.membership(daily, window)
    held, attendance = kpi_module.meetups(both, city.timezone, window, now)
    return OverviewRow(city, window, members, net, held, attendance)


def overview_row_of(found: CityData) -> OverviewRow:
    """The overview row of a city whose page figures are already computed (same window)."""
    tiles = {kpi.key: kpi for kpi in found.kpis}
    return OverviewRow(found.city, found.window, tiles["members_now"], tiles["net_growth"],
                       tiles["meetups_held"], tiles["attendance_rate"])


def overview_frame(rows: list[OverviewRow]) -> pd.DataFrame:
    """The overview table as rows (its CSV), city by city in slug order."""
    def text(kpi: Kpi, value):
        return kpi.output(value)

    records = [(row.city.slug, row.city.name, row.window.start.isoformat(), row.window.end.isoformat(),
                text(row.members, row.members.value), text(row.members, row.members.previous),
                text(row.net_growth, row.net_growth.value), text(row.net_growth, row.net_growth.previous),
                text(row.meetups_held, row.meetups_held.value),
                # The contract's rate column: handed over as a number for the formatter to write.
                None if row.attendance_rate.value is None else float(row.attendance_rate.value),
                text(row.attendance_rate, row.attendance_rate.previous))
               for row in sorted(rows, key=lambda r: r.city.slug)]
    return pd.DataFrame(records, columns=OVERVIEW_COLUMNS, dtype=object)
