"""`pulse posts ...` (the drafts and their approval) and `pulse publish`."""

from __future__ import annotations

import sys

import click

from pulse.core import registry

from pulse.cli.common import fail, load_config, run_guarded
from pulse.core.egress import EgressRefused
from pulse.people import People, PeopleError

from jobs import pipeline
from posters import approvals
from posters.channels import kind_of
from posters.planner import sync
from posters.publisher import Publisher, PublisherBusy, dry_run_text
from posters.store import STATES, PostError, PostStore, now_utc


def _guarded(action):
    try:
        return run_guarded(action)
    except (PostError, PeopleError, EgressRefused) as error:
        fail(str(error))
    except PublisherBusy as error:
        fail(str(error), code=3)


@click.group()
def posts() -> None:
    """Meetup posts for Slack, X and Facebook: drafts, approval, and what happened to each."""


@posts.command("list")
@click.option("--status", type=click.Choice(STATES), help="Only posts in this state.")
@click.option("--city", help="Only this city's posts (its slug).")
@click.option("--no-sync", is_flag=True, help="Do not look for new meetups first (no warehouse read).")
@click.pass_context
def list_command(ctx, status, city, no_sync) -> None:
    """Posts, newest last: id, state, city, channel, kind, meetup, due time, first line."""
    config = load_config(ctx)

    def read():
        with PostStore(config) as store:
            if not no_sync and config.cities:
                sync(config, store, now_utc(), builder=pipeline.build)
            return store.find(state=status, city=city)

    rows = _guarded(read)
    for post in rows:
        first = post.text.split("\n", 1)[0]
        click.echo(f"{post.id:>5}  {post.state:<16} {post.city:<12} {post.channel:<8} {post.kind:<8} "
                   f"{post.event_id:<14} due {post.due_at[:16]}Z  {first[:60]}")
    click.echo(f"({len(rows)} posts)", err=True)


@posts.command("show")
@click.argument("post_id", type=int)
@click.pass_context
def show(ctx, post_id) -> None:
    """One post: the exact payload its channel will get (with X's count), its state and its history."""
    config = load_config(ctx)

    def read():
        with PostStore(config) as store:
            return store.get(post_id), store.audit(post_id)

    post, history = _guarded(read)
    click.echo(f"post {post.id}: {post.kind} on {post.channel} for {post.city}, meetup {post.event_id}")
    click.echo(f"state: {post.state}" + (f" ({post.last_error})" if post.last_error else ""))
    click.echo(f"mode: {post.mode}; due {post.due_at}; meetup starts {post.starts_at}")
    if post.approved_by:
        click.echo(f"approved by {post.approved_by} at {post.approved_at}")
    if post.rejected_by:
        click.echo(f"rejected by {post.rejected_by}: {post.reject_reason}")
    if post.external_url:
        click.echo(f"published: {post.external_url} (id {post.external_id})")
    kind = kind_of(post.channel)
    measured = kind.measure(post.text)
    if measured:
        click.echo(f"{kind.label} length: {measured}")
    click.echo("--- exactly what is sent ---")
    click.echo(dry_run_text(post))
    click.echo("--- history ---")
    for entry in history:
        line = f"{entry.at}  {entry.actor}: {entry.action}"
        if entry.old_state != entry.new_state:
            line += f" ({entry.old_state or '-'} -> {entry.new_state})"
        if entry.detail:
            line += f": {entry.detail}"
        click.echo(line)
        if entry.old_text is not None and entry.new_text is not None and entry.old_text != entry.new_text:
            click.echo("    was: " + entry.old_text.replace("\n", "\n         "))
            click.echo("    now: " + entry.new_text.replace("\n", "\n         "))


@posts.command("approve")
@click.argument("post_ids", type=int, nargs=-1, required=True)
@click.option("--as", "email", required=True, help="Who approves (an organiser of the post's city).")
@click.pass_context
def approve(ctx, post_ids, email) -> None:
    """Approve posts for publishing (the next `pulse publish` sends them when due)."""
    config = load_config(ctx)

    def act():
        done = []
        with PostStore(config) as store:
            people = People(config)
            for post_id in post_ids:
                done.append(approvals.approve(store, people, post_id, email, via="cli"))
        return done

    for post in _guarded(act):
        click.echo(f"post {post.id}: {post.state} (by {post.approved_by})")


@posts.command("reject")
@click.argument("post_id", type=int)
@click.option("--reason", required=True, help="Why (kept in the post's history).")
@click.option("--as", "email", required=True, help="Who rejects (an organiser of the post's city).")
@click.pass_context
def reject(ctx, post_id, reason, email) -> None:
    """Reject a post: it is never sent."""
    config = load_config(ctx)

    def act():
        with PostStore(config) as store:
            return approvals.reject(store, People(config), post_id, email, reason, via="cli")

    post = _guarded(act)
    click.echo(f"post {post.id}: rejected by {post.rejected_by}: {post.reject_reason}")


@posts.command("edit")
@click.argument("post_id", type=int)
@click.option("--text", help="The new wording (default: open $EDITOR on the current one).")
@click.option("--as", "email", help="Who edits (recorded; an organiser of the post's city).")
@click.pass_context
def edit(ctx, post_id, text, email) -> None:
    """Change a draft's wording; an approved post needs approving again."""
    config = load_config(ctx)
    if text is None:
        def current():
            with PostStore(config) as store:
                return store.get(post_id).text
        text = click.edit(_guarded(current))
        if text is None:
            click.echo("no change")
            return
        text = text.rstrip("\n")

    def act():
        with PostStore(config) as store:
            return approvals.edit(store, People(config) if email else None, post_id, text, email, via="cli")

    post = _guarded(act)
    measured = kind_of(post.channel).measure(post.text)
    extra = f", {measured}" if measured else ""
    click.echo(f"post {post.id}: {post.state}{extra}")


@posts.command("resolve")
@click.argument("post_id", type=int)
@click.option("--published", "published_url", metavar="URL", help="It is out: its link.")
@click.option("--not-published", is_flag=True, help="It is not out: send it with the next publish run.")
@click.option("--as", "email", default="", help="Who checked (recorded).")
@click.pass_context
def resolve(ctx, post_id, published_url, not_published, email) -> None:
    """Settle a post whose outcome is unknown (state needs_attention)."""
    if bool(published_url) == bool(not_published):
        fail("say either --published URL or --not-published", code=2)
    config = load_config(ctx)

    def act():
        with PostStore(config) as store:
            return approvals.resolve(store, post_id, published_url=published_url,
                                     actor=f"{email or 'operator'} (cli)")

    post = _guarded(act)
    click.echo(f"post {post.id}: {post.state}" + (f" ({post.external_url})" if post.external_url else ""))


@click.command()
@click.option("--dry-run", is_flag=True, help="Print exactly what would be sent, and where; send nothing.")
@click.pass_context
def publish(ctx, dry_run) -> None:
    """Draft posts for new meetups, then send those that are approved (or automatic) and due.

    Exits 0 when everything due went out, 1 when a post failed or needs attention.
    """
    config = load_config(ctx)
    if not config.cities:
        fail("no channels configured; add [cities.SLUG.channels.slack|x|facebook] to pulse.toml", code=2)
    report = _guarded(lambda: Publisher(config, builder=pipeline.build).run(dry_run=dry_run))
    print_report(report, dry_run=dry_run)
    if not dry_run and any(o.state in ("failed", "needs_attention", "error") for o in report.outcomes + report.recovered):
        sys.exit(1)


def print_report(report, *, dry_run: bool, echo=click.echo) -> None:
    s = report.sync
    echo(f"drafts: {s.drafted} new, {s.rerendered} re-rendered, {s.withdrawn} withdrawn, {s.followups} follow-ups")
    for outcome in report.recovered:
        echo(f"post {outcome.post_id} -> {outcome.where}: {outcome.state} ({outcome.detail})")
    if dry_run:
        if not report.outcomes:
            echo("dry run: nothing is due")
        for outcome in report.outcomes:
            echo(f"--- dry run: post {outcome.post_id} would go to {outcome.where} ---")
            echo(outcome.detail)
        return
    if report.approval_requests:
        echo(f"approval requests sent to Slack: {report.approval_requests}")
    for outcome in report.outcomes:
        echo(f"post {outcome.post_id} -> {outcome.where}: {outcome.state}" + (f" ({outcome.detail})" if outcome.detail else ""))
    for error in report.errors:
        echo(f"pulse: {error}", err=True)
    counts = {state: report.count(state) for state in ("published", "failed", "needs_attention")}
    echo(f"published {counts['published']}, failed {counts['failed']}, needs attention {counts['needs_attention']}")


@registry.hookimpl
def pulse_commands():
    return [posts, publish]
