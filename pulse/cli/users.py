"""`pulse users`: who may sign in to `pulse serve` (a thin layer over `pulse.people`)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click

from pulse.cli.common import fail, load_config
from pulse.core import registry
from pulse.core.output import render_table, terminal_width
from pulse.people import MIN_PASSWORD_LENGTH, ROLES, People, PeopleError

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


@click.group("users")
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
    # One table writer for every command: cells made printable (a Slack user id is any text an
    # admin typed), wide characters measured, cut to the terminal or shown as records.
    rows = [(u.email, u.role, ",".join(u.cities) or "(all)", "yes" if u.has_password else "no", u.slack_user_id or "")
            for u in users]
    click.echo(render_table(("email", "role", "cities", "password", "slack"), rows, width=terminal_width()), nl=False)


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
    """Set a person's password (their sessions end, and so do sign-in links not used yet)."""
    people = _people(ctx)
    if people.get(email) is None:
        fail(f"no user {email!r}; `pulse users list` shows who there is", code=2)
    people.set_password(email, _read_password(from_stdin))
    click.echo(f"password set for {email.strip().lower()}")


@users_group.command("sign-out")
@click.argument("email")
@click.pass_context
def users_sign_out(ctx, email):
    """End every session of a person (e.g. a lost laptop); they sign in again."""
    try:
        ended = _people(ctx).end_sessions(email)
    except PeopleError as error:
        fail(str(error), code=2)
    click.echo(f"signed out {email.strip().lower()} everywhere ({ended} session{'' if ended == 1 else 's'} ended)")


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


@registry.hookimpl
def pulse_commands():
    return [users_group]
