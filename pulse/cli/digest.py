"""`pulse digest`: send each city's digest of the last complete week (or month) to its leads'
Slack channel now, exactly once per city and period; `--dry-run` prints what would go."""

from __future__ import annotations

import click

from pulse.cli.common import fail, load_config, run_guarded
from pulse.core import registry


@click.command("digest")
@click.option("--period", type=click.Choice(["week", "month"]), default="week", show_default=True,
              help="The last complete ISO week or month, in each city's local calendar.")
@click.option("--city", "cities", multiple=True, metavar="SLUG",
              help="Only this city (repeatable; default: every city with a leads_slack_channel).")
@click.option("--dry-run", is_flag=True, help="Print each digest; send and record nothing.")
@click.pass_context
def digest(ctx: click.Context, period: str, cities: tuple[str, ...], dry_run: bool) -> None:
    """Send the leads' digests now (the scheduler's `digest` job sends them on [digests] day and time).

    A digest goes once per city and period, however often this runs (a run that was killed is
    settled by finding its message in the channel); none goes for a period with no data.
    Exit 1 when a digest could not be sent.
    """
    from jobs.digests import run_digests
    from posters.notices import NoticesBusy
    from pulse.core.config import check_secrets
    from pulse.core.output import printable

    config = load_config(ctx)
    if not dry_run:
        run_guarded(lambda: check_secrets(config, only="cities"))
    try:
        report = run_guarded(lambda: run_digests(config, period=period, dry_run=dry_run, cities=list(cities) or None))
    except NoticesBusy as busy:
        fail(str(busy), code=3)
    if not report.results and not report.errors:
        click.echo("no city has a leads_slack_channel: set [cities.SLUG] leads_slack_channel (or pass --city)")
        return
    for result in report.results:
        click.echo(printable(f"{result.city} {result.period}: {result.state}" + (f" ({result.detail})" if result.detail else "")))
        if dry_run and result.text:
            for line in result.text.split("\n"):
                click.echo(printable("    " + line))
    for error in report.errors:
        click.echo(printable(f"pulse: {error}"), err=True)
    if report.errors:
        raise SystemExit(1)
    click.echo(report.line())


@registry.hookimpl
def pulse_commands():
    return [digest]
