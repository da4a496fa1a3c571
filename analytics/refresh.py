"""Bring the analytics models up to date with the accepted events: `pulse build`.

The models are the `.sql` files in `analytics/models/`, run in file-name order. Each one
reads the delta of the build (the events with `build_lo < seq <= build_hi`, staged by the
first model into `d_*` temp tables), works out which keys of its tables the delta can change
(a user in a city, a meetup, a post, a whole city when its timezone moved), and rewrites just
those keys (delete + insert). A full build is the very same run over emptied tables with
`build_lo = 0`, so both paths share every line of SQL, and the incremental one costs in
proportion to the keys touched.

Everything happens in one transaction, so a reader never sees half a build and a crash leaves
the previous build in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from pulse.core import timezones
from pulse.core.config import Config
from pulse.core.warehouse import Migration, migrate, open_warehouse

from analytics.plugin import MIGRATIONS

COMPONENT = MIGRATIONS.name

# Emptied by a full build; the state row is rewritten at the end of every build.
TABLES = (
    "stg_city_upserts", "stg_memberships", "stg_meetup_changes", "stg_rsvps", "stg_checkins",
    "stg_posts", "stg_views",
    "cities", "member_transitions", "member_daily", "meetups", "first_checkins", "rsvps", "attendance",
    "posts", "blog_visits",
)


@dataclass(frozen=True)
class Model:
    name: str
    sql: str


@dataclass(frozen=True)
class Status:
    """Where the models stand against the events table."""

    built: bool
    """A build has completed at least once (with the current schema)."""
    last_seq: int
    max_seq: int
    default_timezone: str | None
    """The configured default timezone the models were built with."""
    pending_migrations: int

    def stale(self, config: Config) -> bool:
        return (not self.built or self.pending_migrations > 0 or self.max_seq > self.last_seq
                or self.default_timezone != config.analytics.default_timezone)

    def describe(self, config: Config) -> str:
        """Why the models are stale, in a few words (empty when they are not)."""
        if not self.built or self.pending_migrations:
            return "the metrics have not been built yet"
        if self.default_timezone != config.analytics.default_timezone:
            return (f"the metrics were built with default timezone {self.default_timezone}, "
                    f"the configuration now says {config.analytics.default_timezone}")
        if self.max_seq > self.last_seq:
            return f"{self.max_seq - self.last_seq} events were ingested since the last build"
        return ""


@dataclass
class BuildReport:
    full: bool
    from_seq: int
    to_seq: int
    seconds: float = 0.0
    model_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def events(self) -> int:
        """How many seq numbers the build covered (the delta; everything for a full build)."""
        return self.to_seq - self.from_seq


def analytics_migrations() -> list[Migration]:
    return MIGRATIONS.load()


def models() -> list[Model]:
    folder = resources.files("analytics") / "models"
    found = [Model(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found, key=lambda model: model.name)


def build(config: Config, *, full: bool = False) -> BuildReport:
    """Open the warehouse for writing and bring the models up to date (`pulse build`)."""
    with open_warehouse(config, write=True, purpose="build") as con:
        return build_in(con, config, full=full)


def build_in(con: duckdb.DuckDBPyConnection, config: Config, *, full: bool = False) -> BuildReport:
    """Bring the models up to date on an open, writable connection."""
    started = time.perf_counter()
    migrate(con, analytics_migrations())
    timezones.install(con)
    default_tz = config.analytics.default_timezone
    con.execute("BEGIN TRANSACTION")
    try:
        state = con.execute("SELECT last_seq, default_timezone FROM analytics.state").fetchall()
        # The default timezone buckets every city without a city:upserted; when the
        # configuration changes it, rebuilding everything is the simple, rare, right thing.
        if not state or state[0][1] != default_tz:
            full = True
        lo = 0 if full else state[0][0]
        hi = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0][0]
        report = BuildReport(full=full, from_seq=lo, to_seq=max(hi, lo))
        if full:
            for table in TABLES:
                con.execute(f"DELETE FROM analytics.{table}")
        if full or hi > lo:
            con.execute("SET VARIABLE build_lo = ?", [lo])
            con.execute("SET VARIABLE build_hi = ?", [hi])
            con.execute("SET VARIABLE default_timezone = ?", [default_tz])
            for model in models():
                model_started = time.perf_counter()
                con.execute(model.sql)
                report.model_seconds[model.name] = time.perf_counter() - model_started
        con.execute(
            """CREATE OR REPLACE TEMP TABLE next_state AS
               SELECT ?::BIGINT AS last_seq, ?::VARCHAR AS default_timezone, now() AS built_at,
                      CASE WHEN ? THEN now() ELSE (SELECT max(full_built_at) FROM analytics.state) END
                          AS full_built_at""",
            [report.to_seq, default_tz, full],
        )
        con.execute("DELETE FROM analytics.state")
        con.execute("INSERT INTO analytics.state SELECT * FROM next_state")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    report.seconds = time.perf_counter() - started
    return report


def status(con: duckdb.DuckDBPyConnection) -> Status:
    """Where the models stand; works on a read-only connection and before any build."""
    max_seq = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0][0]
    applied = set()
    has_migrations = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'").fetchall()[0][0]
    if has_migrations:
        applied = {row[0] for row in con.execute(
            "SELECT version FROM schema_migrations WHERE component = ?", [COMPONENT]).fetchall()}
    pending = sum(1 for m in analytics_migrations() if m.version not in applied)
    if not applied:
        return Status(False, 0, max_seq, None, pending)
    rows = con.execute("SELECT last_seq, default_timezone FROM analytics.state").fetchall()
    if not rows:
        return Status(False, 0, max_seq, None, pending)
    return Status(True, rows[0][0], max_seq, rows[0][1], pending)
