"""The one pipeline: ingest → build → publish the dashboards' snapshot.

Every path that brings new data to people goes through here, so "when is the snapshot
published" has one answer: after every build (`pulse build`, `pulse refresh`/`pulse run
refresh`, the scheduler's refresh, `pulse dashboards`, `pulse metrics` when it builds first,
`pulse demo`), on the build's own connection, so what the pages show is exactly what was built.
(`pulse serve` also publishes one itself when it finds the warehouse newer and free.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pulse.core.config import Config
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
    """Bring the models up to date and publish the dashboards' snapshot from the same connection."""
    from analytics import refresh
    from dashboards import snapshot

    with open_warehouse(config, write=True, purpose="build", on_wait=on_wait) as con:
        report = refresh.build_in(con, config, full=full)
        snapshot.publish_from(con, config)
    return report


def refresh(config: Config, *, on_wait: Callable[[str], None] | None = None, **ingest_options) -> RefreshReport:
    """Ingest every source, then build and publish."""
    summary = ingest(config, on_wait=on_wait, **ingest_options)
    return RefreshReport(summary, build(config, on_wait=on_wait))
