"""The `pulse` group, its global options, and what every command shares: loading the
configuration, one-line failures with the README's exit codes, writing rows, and logging.

No command ends in a traceback: `PulseGroup` turns every error a person can meet or cause into
one line on stderr naming what and how to fix it (a bad configuration exits 2, a busy warehouse
3, anything else 1), a closed pipe (`pulse metrics ... | head -1`) into a quiet exit 0, and a
full disk under stdout into one line. Only a bug in Pulse itself is reported as such, with its
traceback when PULSE_DEBUG=1.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from pulse.core import config as config_module
from pulse.core.output import FORMATS, terminal_width, write
from pulse.core.storage import StorageError
from pulse.core.warehouse import LockTimeout

__all__ = ["FORMATS", "configure_logging", "default_format", "emit", "fail", "load_config", "main", "run_guarded"]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered for a closed pipe or a full
    disk is dropped at exit instead of raising again ("Exception ignored ...")."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _data_dir(ctx: click.Context) -> str:
    obj = ctx.find_root().obj or {}
    config = obj.get("config")
    if config is not None:
        return str(config.data_dir)
    return obj.get("data_dir") or "the data folder"


def explain_error(error: BaseException, data_dir: str = "the data folder") -> tuple[str, int] | None:
    """(one line, exit code) for an error a person can meet or cause; None for a bug."""
    if isinstance(error, config_module.ConfigError):
        return f"config: {error}", 2
    if isinstance(error, LockTimeout):
        return str(error), 3
    if isinstance(error, StorageError):
        return str(error), 1
    module = type(error).__module__.split(".")[0]
    if module == "sqlite3" or module == "_sqlite3":
        return (f"a store in {data_dir} cannot be used: {error}; check the folder's permissions and free space "
                "(nothing was lost)"), 1
    if module in ("duckdb", "_duckdb"):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = ("raise warehouse.memory_limit" if "memory" in first.lower()
                else "check the data folder's permissions and free space")
        return f"warehouse in {data_dir}: {first}; {hint}", 1
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else "writing the output: "
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{where}no space left on the device; free some space and run again (nothing was lost)", 1
        if error.errno in (errno.EACCES, errno.EPERM):
            return f"{where}permission denied; fix its permissions or choose another path", 1
        if error.errno == errno.EROFS:
            return f"{where}the disk is read-only; choose another path", 1
        return f"{where}{error.strerror or error}", 1
    return None


class PulseGroup(click.Group):
    """The `pulse` group: every command's errors end as one line (see the module)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`| head -1`): what it wanted it has; nothing to say.
            _quiet_stdout()
            sys.exit(0)
        except Exception as error:  # noqa: BLE001 - the one place errors become one line
            explained = explain_error(error, _data_dir(ctx))
            if explained is None:
                if os.environ.get("PULSE_DEBUG"):
                    raise
                explained = (f"unexpected error: {type(error).__name__}: {error}; this is a bug in Pulse "
                             "(run again with PULSE_DEBUG=1 to see where, and report it)", 1)
            message, code = explained
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                _quiet_stdout()
            fail(message, code=code)


@click.group(cls=PulseGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    """End the command with one line on stderr, no traceback (through the command's own
    reporter when it set one, e.g. `pulse run --log-format json`: a JSON line)."""
    ctx = click.get_current_context(silent=True)
    report = (ctx.find_root().obj or {}).get("report") if ctx is not None else None
    if report is not None:
        report(message, code)
    else:
        click.echo(f"pulse: {message}", err=True)
    sys.exit(code)


def run_guarded(action):
    """Run `action()`, turning the errors an operator can act on into one line and an exit code.
    (`PulseGroup` does the same for anything that escapes a command; this is for a command that
    goes on to handle its own errors after the guarded part.)"""
    try:
        return action()
    except (config_module.ConfigError, LockTimeout, StorageError) as error:
        message, code = explain_error(error)
        fail(message, code=code)


def default_format() -> str:
    """A table for a person at a terminal, CSV for a program reading a pipe."""
    return "table" if sys.stdout.isatty() else "csv"


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str | None, *,
         numeric: Sequence[bool] | None = None, formula_safe: bool = False) -> None:
    """Rows on stdout in `fmt` (default: `default_format()`), UTF-8 whatever the locale says
    (text leaves exactly as the platform sent it); a table fits the terminal's width."""
    chosen = fmt or default_format()
    width = terminal_width() if chosen == "table" else None
    with utf8_stdout() as out:
        write(columns, rows, chosen, out, numeric=numeric, width=width, formula_safe=formula_safe)


@contextlib.contextmanager
def utf8_stdout():
    """stdout as UTF-8 text for the block (whatever the locale says), handed back after it
    even when writing failed (a closed pipe, a full disk)."""
    sys.stdout.flush()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
    try:
        yield out
        out.flush()
    finally:
        try:
            out.detach()
        except (OSError, ValueError):
            # The wrapper could not flush: drop what it holds rather than let it close stdout later.
            _quiet_stdout()
            with contextlib.suppress(OSError, ValueError):
                out.detach()


# --- logging: `pulse run`, `pulse scheduler` --------------------------------------------------

LOG_FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, message, and the record's `fields` (job,
    event, seconds, counts, ...). A dozen lines of the standard library: no dependency needed."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                 .replace("+00:00", "Z"), "level": record.levelname.lower(), "message": record.getMessage()}
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info and record.levelno <= logging.DEBUG:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainText(logging.Formatter):
    """`pulse: refresh: failed after 2.0 s: ...`, or with `timestamps`, `2026-12-01 07:45:02 ...`."""

    def __init__(self, timestamps: bool):
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        from pulse.core.output import printable

        # Log lines may quote user text (a source's error, a post's title): never a terminal escape.
        message = printable(record.getMessage())
        if record.exc_info and record.levelno <= logging.DEBUG:
            message += "\n" + self.formatException(record.exc_info)
        if self.timestamps:
            stamp = datetime.fromtimestamp(record.created).astimezone().strftime("%Y-%m-%d %H:%M:%S")
            return f"{stamp} {message}"
        return f"pulse: {message}"


def configure_logging(fmt: str = "text", *, level: int = logging.INFO, timestamps: bool = False) -> None:
    """Pulse's own log lines (logger `pulse` and below) on stderr, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else PlainText(timestamps))
    logger = logging.getLogger("pulse")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
