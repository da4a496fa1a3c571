"""`pulse demo`: generate a region's stream and run the whole pipeline on it."""

from __future__ import annotations

import click

from pulse.core import registry

from pulse.cli.common import load_config, run_guarded


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the whole pipeline on generated data, in <data-dir>/demo (recreated each time)."""
    from pulse.demo import run_demo

    config = load_config(ctx)
    run_guarded(lambda: run_demo(config, say=click.echo))


@registry.hookimpl
def pulse_commands():
    return [demo]
