"""The one pipeline: ingest → build → publish the dashboards' snapshot.

Every path that brings new data to people goes through here, so "when is the snapshot
published" has one answer: after every build (`pulse build`, `pulse refresh`/`pulse run
refresh`, the scheduler's refresh, `pulse dashboards`, `pulse metrics` when it builds first,
`pulse demo`), on the build's own connection, so what the pages show is exactly what was built.
(`pulse serve` also publishes one itself when it finds the warehouse newer and free.) Then the
platform is told, when an event sink is configured (`analytics:refreshed`, `pulse.core.emit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulse.core import emit, manifest
from pulse.core.config import Config
from pulse.core.instants import now_utc
from pulse.core.warehouse import open_warehouse


@dataclass
class RefreshReport:
    ingest: object
    """`jobs.ingest.run.IngestSummary`."""
    build: object
    """`analytics.refresh.BuildReport`."""

    def line(self) -> str:
        return f"{self.ingest.line()}; metrics built in {self.build.seconds:.1f} s"


def ingest(config: Config, **options):
    """Pull every configured source (see `jobs.ingest.run.ingest` for the options)."""
    from jobs.ingest.run import ingest as run_ingest

    return run_ingest(config, **options)


def build(config: Config, *, full: bool = False, on_wait: Callable[[str], None] | None = None):
    """Bring the models up to date and publish the dashboards' snapshot from the same connection;
    then, when `[events]` names a sink, tell the platform (`analytics:refreshed`)."""
    from analytics import refresh
    from dashboards import snapshot

    with open_warehouse(config, write=True, purpose="build", on_wait=on_wait) as con:
        report = refresh.build_in(con, config, full=full)
        snapshot.publish_from(con, config)
        facts = _refreshed_facts(con, report) if emit.enabled(config) and (report.full or report.events) else None
    if emit.enabled(config):
        # After the warehouse is let go: the sink's answer never holds the writer lock. A crash
        # right here loses this one event; the next build's tells newer figures anyway. What
        # waits from earlier runs goes too, news or not.
        from posters.store import PostStore

        with PostStore(config) as store:
            if facts is not None:
                store.record_event(emit.refreshed(store.meta("events_instance"), at=now_utc(), **facts))
            store.deliver_events(config)
    return report


def _refreshed_facts(con, report) -> dict:
    """What analytics:refreshed tells of a build: the cities with new events of the types the
    metrics count, when the last completed ingest finished, and how many such events there are."""
    listened = sorted(manifest.listens())
    marks = ", ".join("?" * len(listened))
    cities, counted = con.execute(
        f"SELECT coalesce(list(DISTINCT city ORDER BY city) FILTER (WHERE seq > ?), []), count(*) "
        f"FROM events WHERE seq <= ? AND type IN ({marks})", [report.from_seq, report.to_seq, *listened]).fetchall()[0]
    # (fetchall, not fetchone: DuckDB 2 leaves a result open after fetchone)
    as_of = con.execute("SELECT max(finished_at) FROM ingest_runs WHERE status = 'completed'").fetchall()[0][0]
    return {"from_seq": report.from_seq, "to_seq": report.to_seq, "cities": cities, "data_as_of": as_of,
            "events_counted": counted}


def refresh(config: Config, *, on_wait: Callable[[str], None] | None = None, **ingest_options) -> RefreshReport:
    """Ingest every source, then build and publish."""
    summary = ingest(config, on_wait=on_wait, **ingest_options)
    return RefreshReport(summary, build(config, on_wait=on_wait))
