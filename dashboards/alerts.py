"""Alerts: the rules of `[alerts]` checked against the dashboard snapshot. Pure evaluation here;
posting a breach once goes through `posters.notices` (composed in `jobs.digests`).

An alert holds while its condition does: `evaluate` says which hold now, so a page, `pulse
status` and the job that posts them all see the same list, and an alert disappears from them
as soon as the figures no longer meet the condition ("until it clears"). City rules look at the
last complete period (`[alerts] period`: week or month, local): a complete period's check-ins
are in, where a meetup still running would read as mostly no-shows. Source rules look at each
configured source's runs as the snapshot holds them, against the clock.

`active_alerts(config, now=None) -> list[Alert]` is the entry point for `pulse status`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

from analytics.periods import rate
from dashboards.data import City, cities as snapshot_cities
from dashboards.digest import Message, bound, last_complete, period_figures
from dashboards.ranges import local_today
from dashboards.series import period_name
from dashboards.settings import AlertRules
from dashboards.snapshot import SourceRuns, open_snapshot, read_freshness, read_sources, snapshot_path
from pulse.core.instants import duration, now_utc


@dataclass(frozen=True)
class Alert:
    key: str
    """What breaches, stably: `sydney:attendance_rate_below`, `sydney:source_lag:exports`. One
    breach of a key is posted once; the key coming back after it cleared is a new breach."""
    city: str
    rule: str
    title: str
    """One line for people, e.g. "Attendance rate 48.0% in the week of 31 Aug 2026 (below 60%)"."""
    detail: str = ""


def _percent(value: Decimal) -> str:
    return f"{value * 100:.1f}%"


def _limit(value: float) -> str:
    return f"{value:g}%"


def city_alerts(con, city: City, rules: AlertRules, period: str, as_of: datetime) -> list[Alert]:
    """The city rules that hold over the last complete period before `as_of`'s local day."""
    wanted = (rules.attendance_rate_below is not None or rules.no_shows_above is not None
              or bool(rules.net_growth_negative))
    if not wanted:
        return []
    start, end = last_complete(period, local_today(city.timezone, as_of))
    figures = period_figures(con, city, period, start, end, as_of, upcoming_days=0)
    name = period_name(start, period)
    found = []
    held = f"over {figures.meetups_held} meetup{'s' if figures.meetups_held != 1 else ''} held"
    if rules.attendance_rate_below is not None and figures.attendance_rate is not None \
            and figures.attendance_rate * 100 < Decimal(str(rules.attendance_rate_below)):
        found.append(Alert(f"{city.slug}:attendance_rate_below", city.slug, "attendance_rate_below",
                           f"Attendance rate {_percent(figures.attendance_rate)} in the {name} "
                           f"(below {_limit(rules.attendance_rate_below)})", held))
    no_shows = rate(figures.no_shows, figures.going)
    if rules.no_shows_above is not None and no_shows is not None \
            and no_shows * 100 > Decimal(str(rules.no_shows_above)):
        found.append(Alert(f"{city.slug}:no_shows_above", city.slug, "no_shows_above",
                           f"No-shows {_percent(no_shows)} of those going in the {name} "
                           f"(above {_limit(rules.no_shows_above)})", f"{figures.no_shows} of {figures.going} going"))
    if rules.net_growth_negative and figures.net < 0:
        found.append(Alert(f"{city.slug}:net_growth_negative", city.slug, "net_growth_negative",
                           f"Net growth \u2212{abs(figures.net)} in the {name}",
                           f"{figures.joins} joined, {figures.leaves} left"))
    return found


def source_alerts(city: str, rules: AlertRules, sources: list[SourceRuns], configured: list[str],
                  now: datetime) -> list[Alert]:
    """The source rules that hold now, for each configured source (an ad-hoc `--file` pull is
    not a source that can lag)."""
    found = []
    runs = {s.name: s for s in sources}
    for name in configured:
        source = runs.get(name)
        if rules.source_lag_hours is not None:
            limit = timedelta(hours=rules.source_lag_hours)
            last = source.last_completed_at if source else None
            if last is None:
                found.append(Alert(f"{city}:source_lag:{name}", city, "source_lag",
                                   f"Source {name} has never completed a pull", f"limit {rules.source_lag_hours:g} hours"))
            elif now - last > limit:
                found.append(Alert(f"{city}:source_lag:{name}", city, "source_lag",
                                   f"Source {name} last completed a pull {duration(now - last)} ago "
                                   f"(more than {rules.source_lag_hours:g} hours)",
                                   "the figures do not have what arrived since"))
        if rules.reject_rate_above is not None and source is not None and source.records:
            share = rate(source.rejected, source.records)
            if share * 100 > Decimal(str(rules.reject_rate_above)):
                found.append(Alert(f"{city}:reject_rate:{name}", city, "reject_rate",
                                   f"Source {name}: {_percent(share)} of its latest run rejected "
                                   f"(above {_limit(rules.reject_rate_above)})",
                                   f"{source.rejected} of {source.records} records; see `pulse rejects`"))
    return found


def evaluate(con, config, now: datetime, only: list[str] | None = None) -> list[Alert]:
    """Every alert that holds now on the snapshot `con`, city by city in slug order (`only`:
    those cities); [] when no rule is configured or the snapshot holds no built figures. A
    source rule gives an alert per city it applies to (each city's leads are told)."""
    settings = config.alerts
    freshness = read_freshness(con)
    if not settings.configured or not freshness.built:
        return []
    as_of = min(now, freshness.snapshot_at)
    sources = read_sources(con)
    configured = [source.name for source in config.sources]
    found = []
    for city in snapshot_cities(con):
        if only is not None and city.slug not in only:
            continue
        rules = settings.rules_for(city.slug)
        found.extend(city_alerts(con, city, rules, settings.period, as_of))
        found.extend(source_alerts(city.slug, rules, sources, configured, now))
    return found


def active_alerts(config, now: datetime | None = None) -> list[Alert]:
    """The alerts that hold now, from the current dashboard snapshot; [] when there is none yet.
    For `pulse status`: cheap, and never waits for the warehouse."""
    path = snapshot_path(config)
    if not path.exists():
        return []
    with contextlib.closing(open_snapshot(path)) as con:
        return evaluate(con, config, now or now_utc())


def for_city(pages, snap, config, slug: str, now: datetime) -> list[Alert]:
    """A city page's alerts: its period figures cached per snapshot and local day, the source
    rules against the clock on every view."""
    settings = config.alerts
    if not settings.configured or not snap.freshness.built:
        return []
    city = next((c for c in pages.cities(snap.con, snap.version) if c.slug == slug), None)
    if city is None:
        return []
    as_of = min(now, snap.freshness.snapshot_at)
    rules = settings.rules_for(slug)
    key = (snap.version, "alerts", slug, local_today(city.timezone, as_of))
    found, held = pages.cache.peek(key)
    if not found:
        held = city_alerts(snap.con, city, rules, settings.period, as_of)
        pages.cache.put(key, held)
    return [*held, *source_alerts(slug, rules, read_sources(snap.con), [s.name for s in config.sources], now)]


def message(alert: Alert, city: City | None, dashboard_url: str = "", notice_key: str = ""):
    """The post of a breach: what holds, for which city, and a link to the city's page."""
    name = bound(city.title if city else alert.city, 60)
    facts = (("What", alert.title),) + ((("Detail", alert.detail),) if alert.detail else ())
    facts += (("Until", "it no longer holds: it stays on the city's page meanwhile, and is not posted again"),)
    link = f"{dashboard_url}/city/{quote(alert.city)}" if dashboard_url else ""
    return Message(key=notice_key or f"alert:{alert.key}", city=alert.city, title=f"Alert for {name}: {alert.title}",
                   facts=facts, link=link, link_text=f"{name} on the dashboards")
