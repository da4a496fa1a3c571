"""Pages from figures: the city dashboard and the region overview as template contexts, the
same for the web app and the offline export. Only the links differ (`Links`): the web app's
point at its routes and keep the chosen range, the offline files' at each other, with every
download embedded in the page itself.

Templates are Jinja2 with autoescape on: user-written text (meetup and post titles, city
names) is always inserted as text.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Protocol
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from analytics import formatting
from analytics.periods import format_rate
from dashboards import figures
from dashboards.data import DATASETS, TOP_POSTS_SHOWN, CityData, City, OverviewRow, overview_frame
from dashboards.kpis import Kpi
from dashboards.ranges import PERIOD_LABELS, PERIODS, PRESET_LABELS, Choice
from dashboards.snapshot import Freshness

ASSETS = ("pulse.css", "dashboard.css", "dashboard.js", "plotly.min.js")
"""What a page links to: the web shell's stylesheet, the dashboards' own, their script, plotly.js."""


class Links(Protocol):
    def overview(self, choice: Choice) -> str: ...
    def city(self, slug: str, choice: Choice) -> str: ...
    def asset(self, name: str) -> str: ...
    def download(self, scope: str, name: str, fmt: str, choice: Choice, frame: Callable[[], pd.DataFrame]) -> str: ...


@functools.lru_cache(maxsize=256)
def _query(choice: Choice) -> str:
    return urlencode(choice.query())


class WebLinks:
    """Links into the web app; every link keeps the chosen range in its query."""

    def overview(self, choice: Choice) -> str:
        return "/?" + _query(choice)

    def city(self, slug: str, choice: Choice) -> str:
        return f"/city/{quote(slug)}?" + _query(choice)

    def asset(self, name: str) -> str:
        return f"/assets/{name}"

    def download(self, scope, name, fmt, choice, frame) -> str:
        base = f"/overview.{fmt}" if scope == "" else f"/city/{quote(scope)}/{name}.{fmt}"
        return base + "?" + _query(choice)


class StaticLinks:
    """Links between offline files in one folder; downloads are `data:` URLs in the page."""

    def overview(self, choice: Choice) -> str:
        return "index.html"

    def city(self, slug: str, choice: Choice) -> str:
        return f"{quote(slug)}.html"

    def asset(self, name: str) -> str:
        return name

    def download(self, scope, name, fmt, choice, frame) -> str:
        body = write(frame(), fmt)
        mime = "text/csv" if fmt == "csv" else "application/json"
        return f"data:{mime};charset=utf-8," + quote(body, safe="")


def write(frame: pd.DataFrame, fmt: str) -> str:
    """A download: the contract's formats, with CSV made safe to open in a spreadsheet (a text
    cell that starts like a formula is prefixed with `'`)."""
    out = io.StringIO()
    formatting.write(frame, fmt, out, formula_safe=True)
    return out.getvalue()


# --- what people read -----------------------------------------------------------------------

def kpi_value(kpi: Kpi) -> str:
    if kpi.value is None:
        return "–"
    if kpi.kind == "rate":
        return f"{Decimal(kpi.value) * 100:.1f}%"
    return f"{kpi.value:,}"


def kpi_change(kpi: Kpi) -> tuple[str, str]:
    """(text, direction) of the change against the previous range; direction is up, down or flat."""
    change = kpi.change
    if change is None:
        return "no comparison", "flat"
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    sign = "+" if change > 0 else "\u2212" if change < 0 else "\u00b1"
    if kpi.kind == "rate":
        return f"{sign}{abs(Decimal(change)) * 100:.1f} pts", direction
    return f"{sign}{abs(change):,}", direction


def previous_value(kpi: Kpi) -> str:
    if kpi.previous is None:
        return "–"
    if kpi.kind == "rate":
        return f"{Decimal(kpi.previous) * 100:.1f}%"
    return f"{kpi.previous:,}"


def rate_text(value) -> str:
    text = format_rate(value)
    return f"{Decimal(text) * 100:.1f}%" if text else "–"


def local_time(moment: datetime | None, timezone_name: str) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(ZoneInfo(timezone_name)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Download:
    name: str
    description: str
    csv: str
    json: str
    filename: str


@dataclass(frozen=True)
class Figure:
    name: str
    json: str


def freshness_context(freshness: Freshness | None, timezone_name: str, now: datetime,
                      stale_after: timedelta) -> dict:
    if freshness is None:
        return {"last_ingest": "never", "last_build": "never",
                "stale": ["No data has been published for the dashboards yet."]}
    return {
        "last_ingest": local_time(freshness.last_ingest_at, timezone_name),
        "last_build": local_time(freshness.built_at, timezone_name),
        "stale": freshness.stale_reasons(now, stale_after),
    }


def city_context(data: CityData, *, links: Links, choice: Choice, freshness: Freshness | None, now: datetime,
                 stale_after: timedelta, other_cities: list[City], static: bool,
                 figure_json: dict[str, str] | None = None) -> dict:
    """Everything the city template shows. `figure_json` may carry figures already built
    for this data (the web app caches them)."""
    city = data.city
    figure_json = figure_json or city_figures(data)
    tz = ZoneInfo(city.timezone)
    meetups = []
    for row in data.meetups.itertuples(index=False):
        meetups.append({
            "when": row.starts_at.tz_convert(tz).strftime("%Y-%m-%d %a %H:%M"),
            "sort_when": row.starts_at.isoformat(),
            "title": row.title,
            "cancelled": row.status == "cancelled",
            "going": int(row.going), "checked_in": int(row.checked_in), "no_shows": int(row.no_shows),
            "walk_ins": int(row.walk_ins), "first_timers": int(row.first_timers),
            "rate": rate_text(row.attendance_rate),
            "sort_rate": "" if pd.isna(row.attendance_rate) else f"{row.attendance_rate:.4f}",
        })
    posts = [{"rank": rank, "title": row.title, "post_id": row.post_id, "views": int(row.views),
              "unique_visitors": int(row.unique_visitors)}
             for rank, row in enumerate(data.top_posts.head(TOP_POSTS_SHOWN).itertuples(index=False), start=1)]
    downloads = [
        Download(name, description,
                 links.download(city.slug, name, "csv", choice, lambda name=name: data.dataset(name)),
                 links.download(city.slug, name, "json", choice, lambda name=name: data.dataset(name)),
                 f"{city.slug}-{name}-{data.window.start.isoformat()}-{data.window.end.isoformat()}")
        for name, description in DATASETS.items()]
    return {
        "page": "city",
        "city": city,
        "window": data.window,
        "choice": choice,
        "static": static,
        "links": links,
        "presets": PRESET_LABELS,
        "periods": {name: PERIOD_LABELS[name] for name in PERIODS},
        "kpis": [{"key": k.key, "label": k.label, "help": k.help, "value": kpi_value(k),
                  "previous": previous_value(k), "change": kpi_change(k)[0], "direction": kpi_change(k)[1]}
                 for k in data.kpis],
        "figures": {name: Figure(name, text) for name, text in figure_json.items()},
        "meetups": meetups,
        "posts": posts,
        "posts_total": len(data.top_posts),
        "downloads": {d.name: d for d in downloads},
        "other_cities": other_cities,
        "generated": local_time(now, city.timezone),
        **freshness_context(freshness, city.timezone, now, stale_after),
    }


def city_figures(data: CityData) -> dict[str, str]:
    """The page's figures as script-safe JSON, by name."""
    return {
        "member-growth": figures.to_json(figures.member_growth(data.member_growth, data.window.period)),
        "attendance-trend": figures.to_json(figures.attendance_trend(data.attendance_trend)),
        "blog-views": figures.to_json(figures.blog_views(data.blog_views, data.window.period)),
        "top-posts": figures.to_json(figures.top_posts(data.top_posts, TOP_POSTS_SHOWN)),
    }


def overview_context(rows: list[OverviewRow], *, links: Links, choice: Choice, freshness: Freshness | None,
                     now: datetime, stale_after: timedelta, static: bool) -> dict:
    table = []
    for row in sorted(rows, key=lambda r: r.city.slug):
        net_text, net_direction = kpi_change(row.net_growth)
        rate_change, rate_direction = kpi_change(row.attendance_rate)
        members_change, members_direction = kpi_change(row.members)
        table.append({
            "slug": row.city.slug, "name": row.city.title, "href": links.city(row.city.slug, choice),
            "members": kpi_value(row.members), "sort_members": row.members.value or 0,
            "members_change": members_change, "members_direction": members_direction,
            "net": kpi_value(row.net_growth), "sort_net": row.net_growth.value or 0,
            "net_change": net_text, "net_direction": net_direction,
            "held": kpi_value(row.meetups_held), "sort_held": row.meetups_held.value or 0,
            "rate": kpi_value(row.attendance_rate),
            "sort_rate": "" if row.attendance_rate.value is None else f"{row.attendance_rate.value:.4f}",
            "rate_change": rate_change, "rate_direction": rate_direction,
            "range": f"{row.window.start.isoformat()} to {row.window.end.isoformat()}",
        })
    frame = lambda: overview_frame(rows)  # noqa: E731
    return {
        "page": "overview",
        "rows": table,
        "choice": choice,
        "static": static,
        "links": links,
        "presets": PRESET_LABELS,
        "periods": {name: PERIOD_LABELS[name] for name in PERIODS},
        "range_label": PRESET_LABELS.get(choice.range, "Custom range") if choice.range != "custom"
        else f"{choice.start.isoformat()} to {choice.end.isoformat()}",
        "download": Download("overview", "Every city side by side",
                             links.download("", "overview", "csv", choice, frame),
                             links.download("", "overview", "json", choice, frame), "overview"),
        "generated": local_time(now, "UTC"),
        **freshness_context(freshness, "UTC", now, stale_after),
    }


def environment() -> jinja2.Environment:
    """The templates outside Flask (offline export), with autoescape on for everything."""
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("dashboards", "templates"),
                                  jinja2.PackageLoader("pulse.web", "templates")])
    return jinja2.Environment(loader=loader, autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
