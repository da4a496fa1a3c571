"""The `pulse` group, its global options, and what every command shares: loading the
configuration, one-line failures with the README's exit codes, and writing rows."""

from __future__ import annotations

import io
import sys
from typing import Any, NoReturn, Sequence

import click

from pulse.core import config as config_module
from pulse.core.output import FORMATS, terminal_width, write
from pulse.core.storage import StorageError
from pulse.core.warehouse import LockTimeout

__all__ = ["FORMATS", "default_format", "emit", "fail", "load_config", "main", "run_guarded"]


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


def fail(message: str, code: int = 1) -> NoReturn:
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
    except StorageError as error:
        fail(str(error))


def default_format() -> str:
    """A table for a person at a terminal, CSV for a program reading a pipe."""
    return "table" if sys.stdout.isatty() else "csv"


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str | None, *,
         numeric: Sequence[bool] | None = None, formula_safe: bool = False) -> None:
    """Rows on stdout in `fmt` (default: `default_format()`), UTF-8 whatever the locale says
    (text leaves exactly as the platform sent it); a table fits the terminal's width."""
    chosen = fmt or default_format()
    width = terminal_width() if chosen == "table" else None
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
    try:
        write(columns, rows, chosen, out, numeric=numeric, width=width, formula_safe=formula_safe)
        out.flush()
    finally:
        out.detach()
