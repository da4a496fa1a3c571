"""`pulse build` and `pulse metrics ...`: a thin layer over `analytics`."""

from __future__ import annotations

import click

from pulse.cli.common import FORMATS, default_format, fail, load_config, run_guarded, utf8_stdout
from pulse.core import registry
from pulse.core.output import terminal_width

from analytics.periods import PERIODS


@click.command()
@click.option("--full", is_flag=True, help="Rebuild every model from all events instead of only what changed.")
@click.pass_context
def build(ctx: click.Context, full: bool) -> None:
    """Bring the metrics up to date with what was ingested.

    Incremental by default: only the users, meetups, posts and cities touched by events that
    arrived since the last build are recomputed (late events included). --full gives the same
    figures from scratch.
    """
    from jobs import pipeline

    config = load_config(ctx)
    report = run_guarded(lambda: pipeline.build(config, full=full))
    kind = "full build" if report.full else "incremental build"
    click.echo(f"{kind}: events up to seq {report.to_seq} ({report.events} new) in {report.seconds:.2f} s")


@click.group("metrics")
def metrics_group() -> None:
    """Print metrics per city (csv, json or an aligned table).

    Periods and --from/--to are the city's local calendar. When events arrived since the last
    build, the command says so on stderr and builds first (--no-build prints the stale figures).
    """


def _common(command):
    command = click.option("--no-build", is_flag=True,
                           help="Do not build stale metrics first; print them as they are (with a warning).")(command)
    command = click.option("--format", "fmt", type=click.Choice(FORMATS),
                           help="Output format (default: table on a terminal, else csv).")(command)
    return command


def _city(command):
    return click.option("--city", required=True, help="City slug, or `all` for every city in slug order.")(command)


def _range(required: bool):
    def decorate(command):
        command = click.option("--to", "end", required=required, metavar="YYYY-MM-DD",
                               help="Last local date, inclusive.")(command)
        command = click.option("--from", "start", required=required, metavar="YYYY-MM-DD",
                               help="First local date, inclusive.")(command)
        return command
    return decorate


def _period(command):
    return click.option("--period", required=True, metavar="|".join(PERIODS),
                        help="Calendar period: day, ISO week (named by its Monday) or month.")(command)


def _check(start, end, period=None) -> None:
    """Malformed dates, a reversed range or an unknown period: one line, exit 2, before any I/O."""
    from analytics.periods import check_bounds, check_period, parse_date

    try:
        first = check_bounds(parse_date(start, "--from"), "--from") if start is not None else None
        last = check_bounds(parse_date(end, "--to"), "--to") if end is not None else None
        if period is not None:
            check_period(period)
    except ValueError as error:
        fail(str(error), code=2)
    if first is not None and last is not None and first > last:
        fail(f"--from {first} is after --to {last}", code=2)


def _show(ctx: click.Context, fmt: str | None, no_build: bool, query) -> None:
    from analytics import formatting, metrics
    from jobs import pipeline

    config = load_config(ctx)

    def run():
        with metrics.connect(config, build_if_stale=not no_build, builder=pipeline.build) as con:
            return query(metrics, con)

    try:
        frame = run_guarded(run)
    except metrics.NotBuilt as error:
        fail(str(error), code=1)
    except metrics.MetricsError as error:
        fail(str(error), code=2)
    chosen = fmt or default_format()
    # UTF-8 whatever the locale says: text leaves exactly as the platform sent it.
    with utf8_stdout() as out:
        formatting.write(frame, chosen, out, width=terminal_width() if chosen == "table" else None)


@metrics_group.command("cities")
@_common
@click.pass_context
def cities_command(ctx, fmt, no_build):
    """Every city with its name and timezone, in slug order."""
    _show(ctx, fmt, no_build, lambda m, con: m.cities(con))


@metrics_group.command("member-growth")
@_city
@_period
@_range(required=True)
@_common
@click.pass_context
def member_growth_command(ctx, city, period, start, end, fmt, no_build):
    """city,period_start,joins,leaves,net,members_end: one row per period, empty periods included."""
    _check(start, end, period)
    _show(ctx, fmt, no_build, lambda m, con: m.member_growth(con, city, period, start, end))


@metrics_group.command("attendance")
@_city
@_range(required=False)
@_common
@click.pass_context
def attendance_command(ctx, city, start, end, fmt, no_build):
    """One row per meetup (cancelled ones too), by starts_at then event_id; --from/--to filter
    on the local date of starts_at."""
    _check(start, end)
    _show(ctx, fmt, no_build, lambda m, con: m.attendance(con, city, start, end))


@metrics_group.command("attendance-trend")
@_city
@_range(required=True)
@_common
@click.pass_context
def attendance_trend_command(ctx, city, start, end, fmt, no_build):
    """city,month,events,going,checked_in,no_shows,attendance_rate over meetups not cancelled,
    one row per month, empty months included."""
    _check(start, end)
    _show(ctx, fmt, no_build, lambda m, con: m.attendance_trend(con, city, start, end))


@metrics_group.command("blog-views")
@_city
@_period
@_range(required=True)
@_common
@click.pass_context
def blog_views_command(ctx, city, period, start, end, fmt, no_build):
    """city,post_id,title,period_start,views,unique_visitors for the periods containing
    --from..--to, rows with views only."""
    _check(start, end, period)
    _show(ctx, fmt, no_build, lambda m, con: m.blog_views(con, city, period, start, end))


@metrics_group.command("top-posts")
@_city
@_range(required=True)
@click.option("--limit", type=click.IntRange(min=0), help="At most N posts per city (default: all).")
@_common
@click.pass_context
def top_posts_command(ctx, city, start, end, limit, fmt, no_build):
    """city,post_id,title,views,unique_visitors over --from..--to, most viewed first."""
    _check(start, end)
    _show(ctx, fmt, no_build, lambda m, con: m.top_posts(con, city, start, end, limit))


@registry.hookimpl
def pulse_commands():
    return [build, metrics_group]
