"""`pulse dashboards` and `pulse serve`: a thin layer over `dashboards` and the web shell."""

from __future__ import annotations

import errno
from datetime import timedelta
from pathlib import Path

import click

from pulse.cli.common import fail, load_config, run_guarded
from pulse.core import registry

from dashboards.ranges import PERIODS, PRESETS, RangeError, parse_choice

def _choice(range_name: str, start: str | None, end: str | None, period: str):
    if (start or end) and range_name != "custom":
        range_name = "custom"
    try:
        return parse_choice({"range": range_name, "from": start or "", "to": end or "", "period": period})
    except RangeError as error:
        fail(str(error), code=2)


@click.command("dashboards")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write index.html, one CITY.html per city, and plotly.min.js into.")
@click.option("--range", "range_name", type=click.Choice([*PRESETS, "custom"]), default="90d", show_default=True,
              help="The last N days of each city (its local calendar), or custom with --from/--to.")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First local date (implies --range custom).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last local date, inclusive (implies --range custom).")
@click.option("--period", type=click.Choice(PERIODS), default="week", show_default=True, help="Bucket of the charts.")
@click.option("--city", "cities", multiple=True, help="Only this city (repeatable); the overview lists those written.")
@click.option("--no-build", is_flag=True, help="Do not build stale metrics first; show them as they are (flagged stale).")
@click.pass_context
def dashboards_command(ctx, out_dir, range_name, start, end, period, cities, no_build):
    """Write the dashboards as offline HTML files that open with no server and no network."""
    from analytics import metrics
    from dashboards.export import export_all
    from jobs import pipeline

    config = load_config(ctx)
    choice = _choice(range_name, start, end, period)
    try:
        files = run_guarded(lambda: export_all(config, out_dir, choice=choice, build_if_stale=not no_build,
                                               cities=list(cities) or None, builder=pipeline.build))
    except metrics.MetricsError as error:
        fail(str(error))
    pages = [f for f in files if f.suffix == ".html"]
    click.echo(f"wrote {len(pages)} pages ({len(pages) - 1} cities and the overview) to {Path(out_dir)}")
    click.echo(f"open {Path(out_dir).resolve() / 'index.html'}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Requests served at once.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(0, 32),
              help="Processes computing figures (0: in the server process).")
@click.option("--refresh-seconds", default=5.0, show_default=True, type=click.FloatRange(0.5),
              help="How often to look for newer metrics in the warehouse.")
@click.option("--stale-after-hours", default=24.0, show_default=True, type=click.FloatRange(0),
              help="Warn on every page when the last ingest finished longer ago than this.")
@click.option("--secure-cookies", is_flag=True,
              help="Send the session cookie over HTTPS only (set this behind an HTTPS proxy).")
@click.option("--trusted-proxy", metavar="ADDR",
              help="Address of the reverse proxy in front (its X-Forwarded-For/-Proto/-Host are believed; nobody else's).")
@click.option("--cache-size", default=1024, type=click.IntRange(0), hidden=True,
              help="Pages' computed figures kept per snapshot (0: none; for measuring).")
@click.pass_context
def serve(ctx, host, port, threads, workers, refresh_seconds, stale_after_hours, secure_cookies, trusted_proxy,
          cache_size):
    """Serve the dashboards: sign-in, each person's cities, CSV and JSON downloads.

    The session signing key comes from $PULSE_SESSION_SECRET (at least 32 characters); without
    it, a key is made for this run only. People are managed with `pulse users`.
    """
    from pulse.web.app import create_app, session_secret
    from pulse.web.server import serve as run_server

    config = load_config(ctx)
    try:
        secret = session_secret()
    except ValueError as error:
        fail(str(error), code=2)
    options = {"stale_after": timedelta(hours=stale_after_hours), "cache_size": cache_size, "warm": True,
               "workers": workers, "refresh_seconds": refresh_seconds}

    def start():
        app = create_app(config, secret_key=secret, secure_cookies=secure_cookies, **options)
        run_server(app, host=host, port=port, threads=threads, trusted_proxy=trusted_proxy)

    try:
        run_guarded(start)
    except OSError as error:
        hint = ("choose another --port, or stop what listens there" if error.errno == errno.EADDRINUSE
                else "check --host and --port")
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}; {hint}")
    except KeyboardInterrupt:
        pass


@registry.hookimpl
def pulse_commands():
    return [dashboards_command, serve]
