"""`pulse posts ...` (the drafts and their approval) and `pulse publish`.

Titles, venues and every other user text reach the terminal only through
`pulse.core.output.printable` (tables through `emit`): an ANSI/OSC sequence or a bidi override in
a meetup's title is shown escaped, never obeyed.
"""

from __future__ import annotations

import sys

import click

from pulse.core import registry

from pulse.cli.common import FORMATS, emit, fail, load_config, run_guarded
from pulse.core.egress import EgressRefused
from pulse.core.output import printable
from pulse.people import People, PeopleError

from jobs import pipeline
from posters import approvals
from posters.channels import kind_of
from posters.planner import sync
from posters.publisher import Publisher, PublisherBusy, dry_run_text, outcome_line
from posters.store import STATES, PostError, PostStore, now_utc


def _guarded(action):
    try:
        return run_guarded(action)
    except (PostError, PeopleError, EgressRefused) as error:
        fail(printable(str(error)))
    except PublisherBusy as error:
        fail(str(error), code=3)


def _lines(text: str, indent: str = "") -> str:
    """Multi-line user text for a terminal: each line escaped, the line breaks kept."""
    return "\n".join(indent + printable(line) for line in text.split("\n"))


@click.group()
def posts() -> None:
    """Meetup posts for Slack, X and Facebook: drafts, approval, and what happened to each."""


@posts.command("list")
@click.option("--status", type=click.Choice(STATES), help="Only posts in this state.")
@click.option("--city", help="Only this city's posts (its slug).")
@click.option("--no-sync", is_flag=True, help="Do not look for new meetups first (no warehouse read).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="table (default at a terminal) or csv/json.")
@click.pass_context
def list_command(ctx, status, city, no_sync, fmt) -> None:
    """Posts, newest last: id, state, city, channel, kind, meetup, due time, first line.

    The first line is a person's view of the post: control characters are shown escaped in
    every format."""
    config = load_config(ctx)

    def read():
        with PostStore(config) as store:
            if not no_sync and config.cities:
                sync(config, store, now_utc(), builder=pipeline.build)
            return store.find(state=status, city=city)

    rows = _guarded(read)
    emit(["id", "state", "city", "channel", "kind", "meetup", "due", "first_line"],
         [[post.id, post.state, post.city, post.channel, post.kind, printable(post.event_id), post.due_at[:16] + "Z",
           printable(approvals.edit_text(post).split("\n", 1)[0])] for post in rows],
         fmt, numeric=[True] + [False] * 7)
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
    echo = click.echo
    echo(f"post {post.id}: {post.kind} on {post.channel} for {post.city}, meetup {printable(post.event_id)}")
    echo(f"title: {printable(post.snapshot.get('title', ''))}")
    echo(f"state: {post.state}" + (f" ({printable(post.last_error)})" if post.last_error else ""))
    echo(f"mode: {post.mode}; due {post.due_at}; meetup starts {post.starts_at}"
         + (f"; not before {post.not_before}" if post.not_before else ""))
    if post.approved_by:
        echo(f"approved by {printable(post.approved_by)} at {post.approved_at}")
    if post.rejected_by:
        echo(f"rejected by {printable(post.rejected_by)}: {printable(post.reject_reason or '')}")
    if post.external_url:
        echo(f"published: {printable(post.external_url)} (id {printable(post.external_id or '')})")
    kind = kind_of(post.channel)
    measured = kind.measure(post.text)
    if measured:
        echo(f"{kind.label} length: {measured}")
    echo("--- exactly what is sent ---")
    echo(_lines(dry_run_text(post)))
    echo("--- history ---")
    for entry in history:
        line = f"{entry.at}  {entry.actor}: {entry.action}"
        if entry.old_state != entry.new_state:
            line += f" ({entry.old_state or '-'} -> {entry.new_state})"
        if entry.detail:
            line += f": {entry.detail}"
        echo(printable(line))
        if entry.old_text is not None and entry.new_text is not None and entry.old_text != entry.new_text:
            echo("    was: " + _lines(entry.old_text, "         ").lstrip())
            echo("    now: " + _lines(entry.new_text, "         ").lstrip())


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
        click.echo(f"post {post.id}: {post.state} (by {printable(post.approved_by or '')})")


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
    click.echo(f"post {post.id}: rejected by {printable(post.rejected_by or '')}: {printable(post.reject_reason or '')}")


@posts.command("edit")
@click.argument("post_id", type=int)
@click.option("--text", help="The new wording, as plain text (default: open $EDITOR on the current one).")
@click.option("--as", "email", help="Who edits (recorded; an organiser of the post's city).")
@click.pass_context
def edit(ctx, post_id, text, email) -> None:
    """Change a draft's wording; an approved post needs approving again.

    Write plain text: Pulse escapes it as the channel needs (on Slack, `<night> & Q&A` is sent
    as exactly that, not as markup)."""
    config = load_config(ctx)
    if text is None:
        def current():
            with PostStore(config) as store:
                return approvals.edit_text(store.get(post_id))
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


@posts.command("retry")
@click.argument("post_ids", type=int, nargs=-1, required=True)
@click.option("--as", "email", help="Who asks (recorded and checked: an organiser of the post's city).")
@click.pass_context
def retry(ctx, post_ids, email) -> None:
    """Send failed posts again with the next `pulse publish` (once the cause is fixed)."""
    config = load_config(ctx)

    def act():
        with PostStore(config) as store:
            people = People(config) if email else None
            return [approvals.retry(store, people, post_id, email, via="cli") for post_id in post_ids]

    for post in _guarded(act):
        click.echo(f"post {post.id}: {post.state}; the next `pulse publish` sends it")


@posts.command("resolve")
@click.argument("post_id", type=int)
@click.option("--published", "published_url", metavar="URL", help="It is out: its link.")
@click.option("--not-published", is_flag=True, help="It is not out: send it with the next publish run.")
@click.option("--as", "email", default="", help="Who checked (recorded and checked: an organiser of the post's city).")
@click.pass_context
def resolve(ctx, post_id, published_url, not_published, email) -> None:
    """Settle a post whose outcome is unknown (state needs_attention)."""
    if bool(published_url) == bool(not_published):
        fail("say either --published URL or --not-published", code=2)
    config = load_config(ctx)

    def act():
        with PostStore(config) as store:
            return approvals.resolve(store, post_id, published_url=published_url, actor="operator (cli)",
                                     people=People(config) if email else None, email=email or None)

    post = _guarded(act)
    click.echo(f"post {post.id}: {post.state}" + (f" ({printable(post.external_url)})" if post.external_url else ""))


@click.command()
@click.option("--dry-run", is_flag=True, help="Print exactly what would be sent, and where; send nothing.")
@click.pass_context
def publish(ctx, dry_run) -> None:
    """Draft posts for new meetups, then send those that are approved (or automatic) and due.

    Each post is reported as it is done. Ends with what waits for a person (failed posts, posts
    that need attention, drafts awaiting approval), and exits 1 while any post is failed or
    needs attention, 0 otherwise.
    """
    config = load_config(ctx)
    if not config.cities:
        fail("no channels configured; add [cities.SLUG.channels.slack|x|facebook] to pulse.toml", code=2)
    report = _guarded(lambda: Publisher(config, say=click.echo, builder=pipeline.build).run(dry_run=dry_run))
    print_report(report, dry_run=dry_run)
    if not dry_run and report.needs_a_person:
        sys.exit(1)


def print_report(report, *, dry_run: bool, echo=click.echo) -> None:
    """The run's summary; the posts sent were reported as they went (`Publisher(say=...)`)."""
    s = report.sync
    echo(f"drafts: {s.drafted} new, {s.rerendered} re-rendered, {s.withdrawn} withdrawn, {s.followups} follow-ups")
    for line in s.skipped_lines():
        echo(printable(line))
    for note in s.notes:
        echo(printable(note))
    if report.withdrawn_started:
        echo(f"withdrawn: {report.withdrawn_started} drafts of meetups that have already started")
    for outcome in report.recovered:
        echo(outcome_line(outcome))
    if dry_run:
        if not report.outcomes:
            echo("dry run: nothing is due")
        for outcome in report.outcomes:
            echo(printable(f"--- dry run: post {outcome.post_id} would go to {outcome.where} ---"))
            echo(_lines(outcome.detail))
    elif report.approval_requests:
        echo(f"approval requests sent to Slack: {report.approval_requests}")
    for error in report.errors:
        echo(f"pulse: {printable(error)}", err=True)
    if not dry_run:
        counts = {state: report.count(state) for state in ("published", "failed", "needs_attention", "throttled")}
        echo(f"published {counts['published']}, failed {counts['failed']}, needs attention {counts['needs_attention']}"
             + (f", throttled {counts['throttled']} (they wait for the channel's limit to lift)" if counts["throttled"] else ""))
    if report.waiting:
        echo(f"waiting for a person: {len(report.waiting)} post{'s' if len(report.waiting) != 1 else ''}")
        for item in report.waiting:
            echo(printable(f"  post {item.post_id} -> {item.where}: {item.state}: {item.what}"))
            echo(printable(f"    {item.fix}"))
    if report.pending_approval:
        total = sum(report.pending_approval.values())
        cities = ", ".join(f"{city} {n}" for city, n in sorted(report.pending_approval.items()))
        echo(f"awaiting approval: {total} draft{'s' if total != 1 else ''} ({cities}): the Posts queue of "
             "`pulse serve` (/posts), or `pulse posts list --status pending_approval`")


@registry.hookimpl
def pulse_commands():
    return [posts, publish]
