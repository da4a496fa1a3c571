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
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from analytics import formatting
from analytics.periods import format_rate
from dashboards import figures
from dashboards.series import period_name
from dashboards.data import (DATASETS, TOP_POSTS_SHOWN, UPCOMING_SHOWN, CityData, City, OverviewRow, overview_frame,
                             totals)
from dashboards.kpis import Kpi
from dashboards.ranges import PERIOD_LABELS, PERIODS, PRESET_LABELS, Choice, Window
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


NO_COMPARISON = "nothing before to compare with"


def kpi_change(kpi: Kpi) -> tuple[str, str]:
    """(text, direction) of the change against the previous range; direction is up, down or
    flat, or `none` when there is nothing to compare with (no earlier figures, or a rate with
    no meetups on one side)."""
    change = kpi.change
    if change is None:
        return NO_COMPARISON, "none"
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


def kpi_context(kpi: Kpi) -> dict:
    change, direction = kpi_change(kpi)
    return {"key": kpi.key, "label": kpi.label, "help": kpi.help, "value": kpi_value(kpi),
            "previous": previous_value(kpi), "change": change, "direction": direction,
            "compared": kpi.change is not None}


SPARK_WIDTH, SPARK_HEIGHT = 96, 24


@dataclass(frozen=True)
class Spark:
    """An inline SVG sparkline: polylines (a gap where a value is missing), its last point."""

    segments: tuple[str, ...]
    last: tuple[float, float] | None
    label: str

    @property
    def width(self) -> int:
        return SPARK_WIDTH

    @property
    def height(self) -> int:
        return SPARK_HEIGHT


def sparkline(values: list, label: str, low: float | None = None, high: float | None = None,
              gaps: bool = True) -> Spark:
    """`values` (None where there is none) scaled into a small box; `low`/`high` fix the scale (a
    rate's 0..1). With `gaps`, the line breaks where a value is missing; without, it joins the
    known values (a rate of the periods that had meetups), each still at its own period."""
    known = [v for v in values if v is not None]
    if not known:
        return Spark((), None, label)
    low = min(known) if low is None else low
    high = max(known) if high is None else high
    span = (high - low) or 1.0
    step = (SPARK_WIDTH - 4) / max(len(values) - 1, 1)
    segments, current, last = [], [], None
    for index, value in enumerate(values):
        if value is None:
            if current and gaps:
                segments.append(" ".join(current))
                current = []
            continue
        x = 2 + index * step if len(values) > 1 else SPARK_WIDTH / 2
        y = SPARK_HEIGHT - 2 - (value - low) / span * (SPARK_HEIGHT - 4)
        current.append(f"{x:.1f},{y:.1f}")
        last = (round(x, 1), round(y, 1))
    if current:
        segments.append(" ".join(current))
    return Spark(tuple(segments), last, label)


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


def range_form_values(window: Window | None, choice: Choice, entered: dict | None = None) -> dict:
    """What the range form shows: the dates asked for (a preset's own dates, so choosing
    Custom starts from them), or what the person typed when it could not be shown."""
    if entered is not None:
        return {"range": entered.get("range") or choice.range, "from": entered.get("from") or "",
                "to": entered.get("to") or "", "period": entered.get("period") or choice.period}
    return {"range": choice.range, "from": window.start.isoformat() if window else "",
            "to": window.end.isoformat() if window else "", "period": choice.period}


def city_context(data: CityData, *, links: Links, choice: Choice, freshness: Freshness | None, now: datetime,
                 stale_after: timedelta, other_cities: list[City], static: bool,
                 figure_json: dict[str, str | None] | None = None, alerts: list | tuple = (),
                 range_error: str | None = None, entered: dict | None = None) -> dict:
    """Everything the city template shows. `figure_json` may carry figures already built
    for this data (the web app caches them). `range_error`/`entered`: the range asked for could
    not be shown (this data is the default range's); the form keeps what was typed."""
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
    upcoming = []
    for row in data.upcoming.head(UPCOMING_SHOWN).itertuples(index=False):
        capacity = None if row.capacity is None or pd.isna(row.capacity) else int(row.capacity)
        upcoming.append({
            "when": row.starts_at.tz_convert(tz).strftime("%Y-%m-%d %a %H:%M"),
            "sort_when": row.starts_at.isoformat(),
            "title": row.title, "venue": row.venue,
            "going": int(row.going), "waitlist": int(row.waitlist),
            "capacity": "–" if capacity is None else f"{capacity:,}", "sort_capacity": "" if capacity is None else capacity,
            "full": capacity is not None and int(row.going) >= capacity,
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
        "form": range_form_values(data.window, choice, entered),
        "range_error": range_error,
        "kpis": [kpi_context(k) for k in data.kpis],
        "current": data.current,
        "as_of": local_time(data.as_of, city.timezone),
        "figures": {name: Figure(name, text) if text is not None else None for name, text in figure_json.items()},
        "meetups": meetups,
        "upcoming": upcoming,
        "upcoming_total": len(data.upcoming),
        "posts": posts,
        "posts_total": len(data.top_posts),
        "downloads": {d.name: d for d in downloads},
        "other_cities": other_cities,
        "alerts": list(alerts),
        "generated": local_time(now, city.timezone),
        **freshness_context(freshness, city.timezone, now, stale_after),
    }


def city_figures(data: CityData) -> dict[str, str | None]:
    """The page's figures as script-safe JSON by name; None for a chart with nothing to draw."""
    period = data.window.period
    starts = list(data.member_growth["period_start"])
    built = {
        "member-growth": figures.member_growth(data.member_growth, period),
        "attendance-trend": figures.attendance_trend(data.attendance_trend, period),
        "blog-views": figures.blog_views(data.blog_views, period, starts),
        "top-posts": figures.top_posts(data.top_posts, TOP_POSTS_SHOWN),
    }
    return {name: None if figure is None else figures.to_json(figure) for name, figure in built.items()}


def overview_heading(rows: list[OverviewRow], everyone: bool) -> str:
    """What the person sees, named: every city, or their own cities by name when few."""
    names = [row.city.title for row in sorted(rows, key=lambda r: r.city.slug)]
    if everyone:
        return f"All {len(names)} cities" if len(names) != 1 else "All cities (1)"
    if not names:
        return "Your cities"
    if len(names) <= 3:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Your {len(names)} cities"


def _cell(kpi: Kpi) -> dict:
    context = kpi_context(kpi)
    context["sort"] = "" if kpi.value is None else (f"{kpi.value:.4f}" if kpi.kind == "rate" else kpi.value)
    return context


def overview_table_context(rows: list[OverviewRow], *, links: Links, choice: Choice) -> dict:
    """What the overview's table shows (`_overview_table.html`): a row per city with its
    sparklines and changes, sortable, and the region's totals. It depends on the rows and the
    choice only, so the web app renders it once per snapshot, choice and set of cities."""
    period = choice.period

    def sparks(members_series, rate_series):
        members = [value for _, value in members_series]
        rates = [value for _, value in rate_series]
        span = (f"{period_name(members_series[0][0], period)} to {period_name(members_series[-1][0], period)}"
                if members_series else "")
        return (sparkline(members, f"Members per {period}, {span}: {members[0]:,} to {members[-1]:,}"
                          if members else "No members yet"),
                sparkline(rates, f"Attendance rate per {period} with meetups, {span}", low=0.0, high=1.0, gaps=False))

    table = []
    for row in sorted(rows, key=lambda r: r.city.slug):
        members_spark, rate_spark = sparks(row.members_series, row.rate_series)
        table.append({
            "slug": row.city.slug, "name": row.city.title, "href": links.city(row.city.slug, choice),
            "members": _cell(row.members), "net": _cell(row.net_growth), "held": _cell(row.meetups_held),
            "rate": _cell(row.attendance_rate),
            "members_spark": members_spark, "rate_spark": rate_spark,
            "range": f"{row.window.start.isoformat()} to {row.window.end.isoformat()}",
        })
    region = totals(rows)
    region_members_spark, region_rate_spark = sparks(region.members_series, region.rate_series)
    frame = lambda: overview_frame(rows)  # noqa: E731
    return {
        "rows": table,
        "totals": {"members": _cell(region.members), "net": _cell(region.net_growth),
                   "held": _cell(region.meetups_held), "rate": _cell(region.attendance_rate),
                   "members_spark": region_members_spark, "rate_spark": region_rate_spark},
        "members_label": region.members.label,
        "choice": choice,
        "download": Download("overview", "Every city side by side",
                             links.download("", "overview", "csv", choice, frame),
                             links.download("", "overview", "json", choice, frame), "overview"),
    }


def overview_context(rows: list[OverviewRow], *, links: Links, choice: Choice, freshness: Freshness | None,
                     now: datetime, stale_after: timedelta, static: bool, everyone: bool = True,
                     range_error: str | None = None, entered: dict | None = None,
                     table_html: str | None = None) -> dict:
    """Everything the overview template shows. `table_html`: its table already rendered (the
    web app caches it); without it, the table's context is worked out here."""
    first = min(rows, key=lambda r: r.city.slug) if rows else None
    return {
        "page": "overview",
        "heading": overview_heading(rows, everyone),
        "choice": choice,
        "static": static,
        "links": links,
        "presets": PRESET_LABELS,
        "periods": {name: PERIOD_LABELS[name] for name in PERIODS},
        "form": range_form_values(first.window if first else None, choice, entered),
        "range_error": range_error,
        "range_label": PRESET_LABELS.get(choice.range, "Custom range") if choice.range != "custom"
        else f"{choice.start.isoformat()} to {choice.end.isoformat()}",
        "table_html": table_html,
        **({} if table_html is not None else overview_table_context(rows, links=links, choice=choice)),
        "generated": local_time(now, "UTC"),
        **freshness_context(freshness, "UTC", now, stale_after),
    }


def environment() -> jinja2.Environment:
    """The templates outside Flask (offline export), with autoescape on for everything."""
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("dashboards", "templates"),
                                  jinja2.PackageLoader("pulse.web", "templates")])
    return jinja2.Environment(loader=loader, autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
