"""The `pulse` group, its global options, and what every command shares."""

from __future__ import annotations

import sys

import click

from pulse import config as config_module
from pulse.warehouse import LockTimeout


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file (default: $PULSE_CONFIG, else ./pulse.toml if present, else built-in defaults).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder for the DuckDB warehouse and its state (overrides warehouse.data_dir).")
@click.version_option(package_name="pulse")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, data_dir: str | None) -> None:
    """Pulse: ingest the platform's event stream, build metrics, show dashboards, publish meetups."""
    ctx.obj = {"config_path": config_path, "data_dir": data_dir}


def load_config(ctx: click.Context) -> config_module.Config:
    """The configuration, loaded once per process; a problem ends the command with exit 2."""
    obj = ctx.find_root().obj
    if "config" not in obj:
        try:
            obj["config"] = config_module.load(obj["config_path"], obj["data_dir"])
        except config_module.ConfigError as error:
            fail(f"config: {error}", code=2)
    return obj["config"]


def fail(message: str, code: int = 1) -> "NoReturn":  # noqa: F821
    """End the command with one line on stderr, no traceback."""
    click.echo(f"pulse: {message}", err=True)
    sys.exit(code)


def run_guarded(action):
    """Run `action()`, turning the errors an operator can act on into one line and an exit code."""
    try:
        return action()
    except config_module.ConfigError as error:
        fail(f"config: {error}", code=2)
    except LockTimeout as error:
        fail(str(error), code=3)
