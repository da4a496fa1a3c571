"""Digests and alerts for the city leads, where they already are (Slack): the figures and words
from `dashboards` (`dashboards.digest`, `dashboards.alerts`), sent exactly once through
`posters.notices`.

- `run_digests`: each city's weekly (and, when configured, monthly) digest of the last complete
  period, once per city and period. The scheduler's `digest` job sends those due by
  `[digests]` day and time (each city's local time); `pulse digest` sends now. A period with no
  data has no digest, and none goes before the snapshot covers the whole period.
- `check_alerts`: after each refresh, the rules of `[alerts]` against the new snapshot; each
  breach is posted once to the city's leads channel, and recorded cleared when it no longer holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Callable

from pulse.core.config import Config
from pulse.core.instants import now_utc


@dataclass
class DigestResult:
    city: str
    period: str
    key: str
    state: str
    """sent, already sent, failed, unknown, skipped, no data, waiting, would send (dry run)."""
    detail: str = ""
    text: str = ""
    """The message as plain text (a dry run prints it)."""


@dataclass
class DigestReport:
    results: list[DigestResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for r in self.results if r.state == state)

    def line(self) -> str:
        if not self.results and not self.errors:
            return "no digest due"
        states = ["sent", "already sent", "would send", "no data", "waiting", "skipped", "failed", "unknown"]
        return "digests: " + ", ".join(f"{state} {self.count(state)}" for state in states if self.count(state))


def _targets(config: Config, only: list[str] | None) -> set[str]:
    """Cities with a leads channel (or those asked for by name)."""
    configured = {c.slug for c in config.cities if c.leads_slack_channel}
    return set(only) if only else configured


def run_digests(config: Config, *, period: str | None = None, dry_run: bool = False, now: datetime | None = None,
                cities: list[str] | None = None, channel_factory=None,
                sleep: Callable[[float], None] | None = None) -> DigestReport:
    """Compose and send the digests: of `period` (week or month) now, for every city with a leads
    channel (or `cities`), or with `period` None those due by `[digests]`. `dry_run` sends and
    records nothing (`results[i].text` is what would go)."""
    from dashboards import digest as digest_module
    from dashboards.data import cities as snapshot_cities
    from dashboards.ranges import local_today
    from dashboards.snapshot import open_snapshot, read_freshness, snapshot_path
    from posters import notices

    now = now or now_utc()
    report = DigestReport()
    targets = _targets(config, cities)
    if not targets:
        return report
    path = snapshot_path(config)
    if not path.exists():
        report.errors.append("no dashboard snapshot yet: run `pulse build` first")
        return report
    outgoing: list[tuple[DigestResult, notices.Outgoing]] = []
    with contextlib.closing(open_snapshot(path)) as con, notices.Notices(config) as store:
        freshness = read_freshness(con)
        if not freshness.built:
            report.errors.append("the metrics have not been built yet: run `pulse build` first")
            return report
        as_of = min(now, freshness.snapshot_at)
        known = {c.slug: c for c in snapshot_cities(con)}
        for slug in sorted(targets - set(known)):
            report.errors.append(f"{slug}: no such city in the figures (its events have not arrived)")
        for slug in sorted(targets & set(known)):
            city = known[slug]
            for kind in digest_module.PERIODS:
                if period is not None:
                    span = digest_module.last_complete(kind, local_today(city.timezone, now)) if kind == period else None
                else:
                    span = digest_module.due(config.digests, kind, city.timezone, now)
                if span is None:
                    continue
                start, end = span
                key = f"digest:{kind}:{slug}:{start.isoformat()}"
                result = DigestResult(slug, f"{kind} {start.isoformat()}..{end.isoformat()}", key, "")
                report.results.append(result)
                sent = store.get(key)
                if sent is not None and sent.state == "sent" and not dry_run:
                    result.state, result.detail = "already sent", sent.external_id or ""
                    continue
                if freshness.snapshot_at < digest_module.local_midnight_after(end, city.timezone):
                    result.state = "waiting"
                    result.detail = "the figures were taken before the period ended; the next refresh brings them"
                    continue
                figures = digest_module.period_figures(con, city, kind, start, end, as_of,
                                                       upcoming_days=config.digests.upcoming_days)
                if not figures.has_data:
                    result.state, result.detail = "no data", "nothing happened in the period: no digest"
                    continue
                message = digest_module.compose(figures, config.digests.dashboard_url)
                result.text = message.text()
                if dry_run:
                    result.state = "would send"
                    result.detail = (f"to {notices.leads_channel(config, slug).channel}"
                                     if notices.leads_channel(config, slug) else "no leads_slack_channel configured")
                    continue
                outgoing.append((result, notices.Outgoing(key, slug, "digest", notices.slack_content(message))))
    if outgoing:
        options = {k: v for k, v in (("channel_factory", channel_factory), ("sleep", sleep)) if v is not None}
        outcomes = notices.send(config, [o for _, o in outgoing], **options)
        for (result, _), outcome in zip(outgoing, outcomes, strict=True):
            result.state, result.detail = outcome.state, outcome.detail
            if outcome.state in ("failed", "unknown"):
                report.errors.append(f"{result.city} {result.period}: {outcome.detail}")
    return report


@dataclass
class AlertReport:
    active: int = 0
    posted: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"alerts: {self.active} active, {self.posted} posted"


def check_alerts(config: Config, *, now: datetime | None = None, channel_factory=None,
                 sleep: Callable[[float], None] | None = None) -> AlertReport:
    """Check `[alerts]` on the current snapshot; post each new breach once (see the module)."""
    from dashboards import alerts as alerts_module
    from dashboards.data import find_city
    from dashboards.snapshot import open_snapshot, read_freshness, snapshot_path
    from posters import notices

    report = AlertReport()
    if not config.alerts.configured or not snapshot_path(config).exists():
        return report
    with contextlib.closing(open_snapshot(snapshot_path(config))) as con:
        if not read_freshness(con).built:
            return report  # no figures: nothing holds, and nothing has cleared either
    now = now or now_utc()
    active = alerts_module.active_alerts(config, now)
    report.active = len(active)
    with notices.Notices(config) as store:
        open_breaches = store.sync_breaches([(a.key, a.city, a.title) for a in active], now)
    by_key = {a.key: a for a in active}
    outgoing = []
    with contextlib.closing(open_snapshot(snapshot_path(config))) as con:
        for key, city, notice_key in open_breaches:
            alert = by_key.get(key)
            if alert is None or notices.leads_channel(config, city) is None:
                continue
            composed = alerts_module.message(alert, find_city(con, city), config.digests.dashboard_url, notice_key)
            outgoing.append(notices.Outgoing(notice_key, city, "alert", notices.slack_content(composed)))
    if outgoing:
        options = {k: v for k, v in (("channel_factory", channel_factory), ("sleep", sleep)) if v is not None}
        for outcome in notices.send(config, outgoing, **options):
            if outcome.state == "sent":
                report.posted += 1
            elif outcome.state in ("failed", "unknown"):
                report.errors.append(f"alert {outcome.key}: {outcome.detail}")
    return report
