"""`pulse dashboards`, `pulse serve` and `pulse users`: a thin layer over `dashboards` and `pulse.people`."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click

from analytics import metrics
from dashboards.ranges import PERIODS, PRESETS, RangeError, parse_choice
from pulse.cli.common import fail, load_config, main, run_guarded
from pulse.people import MIN_PASSWORD_LENGTH, People, PeopleError, ROLES

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

# Other command modules add their web pages to `pulse serve` here (pulse.cli may import every
# package; the packages do not import each other): each function takes the Config and returns
# keyword arguments of `dashboards.web.app.create_app`: `blueprints`, `public_endpoints`,
# `csrf_exempt_endpoints`, `nav_links`.
WEB_EXTENSIONS: list = []


def register_web_extension(extension) -> None:
    """Add pages to `pulse serve`: `extension(config) -> {"blueprints": [...], ...}`."""
    WEB_EXTENSIONS.append(extension)


def _extensions(config) -> dict:
    merged = {"blueprints": [], "public_endpoints": set(), "csrf_exempt_endpoints": set(), "nav_links": []}
    for extension in WEB_EXTENSIONS:
        for key, value in extension(config).items():
            if key not in merged:
                raise ValueError(f"web extension {extension!r}: unknown option {key!r}")
            merged[key] = merged[key] | set(value) if isinstance(merged[key], set) else merged[key] + list(value)
    return merged


def _choice(range_name: str, start: str | None, end: str | None, period: str):
    if (start or end) and range_name != "custom":
        range_name = "custom"
    try:
        return parse_choice({"range": range_name, "from": start or "", "to": end or "", "period": period})
    except RangeError as error:
        fail(str(error), code=2)


@main.command("dashboards")
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
    from dashboards.export import export_all

    config = load_config(ctx)
    choice = _choice(range_name, start, end, period)
    try:
        files = run_guarded(lambda: export_all(config, out_dir, choice=choice, build_if_stale=not no_build,
                                               cities=list(cities) or None))
    except metrics.MetricsError as error:
        fail(str(error))
    pages = [f for f in files if f.suffix == ".html"]
    click.echo(f"wrote {len(pages)} pages ({len(pages) - 1} cities and the overview) to {Path(out_dir)}")
    click.echo(f"open {Path(out_dir).resolve() / 'index.html'}")


@main.command()
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
@click.option("--cache-size", default=1024, type=click.IntRange(0), hidden=True,
              help="Pages' computed figures kept per snapshot (0: none; for measuring).")
@click.pass_context
def serve(ctx, host, port, threads, workers, refresh_seconds, stale_after_hours, secure_cookies, cache_size):
    """Serve the dashboards: sign-in, each person's cities, CSV and JSON downloads.

    The session signing key comes from $PULSE_SESSION_SECRET (at least 32 characters); without
    it, a key is made for this run only. People are managed with `pulse users`.
    """
    from dashboards.web.app import session_secret
    from dashboards.web.server import serve as run_server

    config = load_config(ctx)
    try:
        secret = session_secret()
    except ValueError as error:
        fail(str(error), code=2)
    options = {"secret_key": secret, "stale_after": timedelta(hours=stale_after_hours),
               "secure_cookies": secure_cookies, "cache_size": cache_size, **_extensions(config)}
    try:
        run_guarded(lambda: run_server(config, host=host, port=port, threads=threads, workers=workers,
                                       refresh_seconds=refresh_seconds, app_options=options))
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    except KeyboardInterrupt:
        pass


@main.group("users")
def users_group() -> None:
    """Who may sign in to `pulse serve`: leads and organisers see their cities, admins all."""


def _people(ctx) -> People:
    return People(load_config(ctx))


def _base_url_option(command):
    return click.option("--base-url", envvar="PULSE_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
                        help="Where people reach `pulse serve` (for sign-in links); also $PULSE_BASE_URL.")(command)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        fail(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", code=2)
    return password


def _describe(user) -> str:
    cities = ", ".join(user.cities) if user.cities else "every city"
    return f"{user.email} ({user.role}; {cities})"


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--city", "cities", multiple=True, help="A city slug this person sees (repeatable; not for admins).")
@click.option("--password", "ask_password", is_flag=True, help="Also set a password now (asked twice, not echoed).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@_base_url_option
@click.pass_context
def users_add(ctx, email, role, cities, ask_password, password_stdin, base_url):
    """Add a person and print a one-time sign-in link for them (valid 24 hours)."""
    people = _people(ctx)
    password = _read_password(password_stdin) if (ask_password or password_stdin) else None
    try:
        user = people.add(email, role, cities, password=password)
        link = people.issue_sign_in_link(user.email, base_url)
    except PeopleError as error:
        fail(str(error), code=2)
    click.echo(f"added {_describe(user)}")
    click.echo(f"one-time sign-in link (valid 24 hours): {link}")


@users_group.command("update")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--city", "cities", multiple=True, help="Replace the person's cities with these (repeatable).")
@click.pass_context
def users_update(ctx, email, role, cities):
    """Change a person's role or cities."""
    try:
        user = _people(ctx).update(email, role=role, cities=list(cities) if cities else None)
    except PeopleError as error:
        fail(str(error), code=2)
    click.echo(f"updated {_describe(user)}")


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def users_list(ctx, fmt):
    """Everyone who may sign in, by email (never their password hash)."""
    users = _people(ctx).list()
    if fmt == "json":
        click.echo(json.dumps([{"email": u.email, "role": u.role, "cities": list(u.cities),
                                "password": u.has_password, "slack_user_id": u.slack_user_id,
                                "created_at": u.created_at} for u in users], ensure_ascii=False, indent=1))
        return
    if not users:
        click.echo("(no users; add one with `pulse users add EMAIL --role admin`)")
        return
    rows = [("email", "role", "cities", "password", "slack")] + [
        (u.email, u.role, ",".join(u.cities) or "(all)", "yes" if u.has_password else "no", u.slack_user_id or "")
        for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@users_group.command("remove")
@click.argument("email")
@click.pass_context
def users_remove(ctx, email):
    """Remove a person: their sessions and sign-in links stop working at once."""
    if not _people(ctx).remove(email):
        fail(f"no user {email!r}; `pulse users list` shows who there is")
    click.echo(f"removed {email.strip().lower()}")


@users_group.command("link")
@click.argument("email")
@click.option("--valid-hours", default=24.0, show_default=True, type=click.FloatRange(0.05, 24 * 14))
@_base_url_option
@click.pass_context
def users_link(ctx, email, valid_hours, base_url):
    """Print a new one-time sign-in link for a person."""
    try:
        link = _people(ctx).issue_sign_in_link(email, base_url, timedelta(hours=valid_hours))
    except PeopleError as error:
        fail(str(error), code=2)
    click.echo(link)


@users_group.command("password")
@click.argument("email")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def users_password(ctx, email, from_stdin):
    """Set a person's password (their sessions end)."""
    people = _people(ctx)
    if people.get(email) is None:
        fail(f"no user {email!r}; `pulse users list` shows who there is", code=2)
    people.set_password(email, _read_password(from_stdin))
    click.echo(f"password set for {email.strip().lower()}")


@users_group.command("slack")
@click.argument("email")
@click.argument("slack_user_id", required=False)
@click.option("--clear", is_flag=True, help="Remove the mapping.")
@click.pass_context
def users_slack(ctx, email, slack_user_id, clear):
    """Map a person to their Slack user id (for approvals in Slack)."""
    if not clear and not slack_user_id:
        fail("give a SLACK_USER_ID, or --clear", code=2)
    try:
        user = _people(ctx).set_slack_user(email, None if clear else slack_user_id)
    except PeopleError as error:
        fail(str(error), code=2)
    click.echo(f"{user.email}: slack user {user.slack_user_id or '(none)'}")
