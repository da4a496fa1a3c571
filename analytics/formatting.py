"""Metrics as they leave Pulse: each value in the contract's output format, then written by the
one CSV/JSON/table writer (`pulse.core.output`).

The contract's output formats: dates `YYYY-MM-DD`; instants in UTC `YYYY-MM-DDTHH:MM:SS[.fff]Z`;
`attendance_rate` with exactly four decimals, empty when undefined; text exactly as sent. CSV
and JSON carry the same values (JSON keeps counts as numbers; a rate is the same four-decimal
string as in CSV, "" when undefined, so no JSON reader turns 0.5500 into 0.55). Only the table,
meant for a terminal, escapes control characters, so a title cannot drive the terminal.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import IO

import pandas as pd

from pulse.core import output
from pulse.core.instants import format_instant

from analytics.periods import format_rate

FORMATS = output.FORMATS
RATE_COLUMNS = {"attendance_rate"}


def _value(column: str, value):
    if column in RATE_COLUMNS:
        return format_rate(value)
    if isinstance(value, (pd.Timestamp, datetime)):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return value
    if value is None:
        return ""
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows as dicts of output values, in column order."""
    columns = list(frame.columns)
    return [{column: _value(column, value) for column, value in zip(columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)]


def _rows(frame: pd.DataFrame) -> tuple[list[str], list[list]]:
    return [str(c) for c in frame.columns], [list(record.values()) for record in records(frame)]


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Which columns a table aligns right: rates and columns holding only numbers."""
    rows = records(frame)
    return [column in RATE_COLUMNS or (bool(rows) and all(
        isinstance(row[column], (int, float)) and not isinstance(row[column], bool) for row in rows))
        for column in frame.columns]


def write_csv(frame: pd.DataFrame, out: IO[str], *, formula_safe: bool = False) -> None:
    output.write_csv(*_rows(frame), out, formula_safe=formula_safe)


def write(frame: pd.DataFrame, fmt: str, out: IO[str], *, width: int | None = None,
          formula_safe: bool = False) -> None:
    """`frame` in one of FORMATS; `formula_safe` for CSV opened in spreadsheets (the dashboards'
    downloads), never for `pulse metrics`, whose CSV is the contract's exact text."""
    columns, rows = _rows(frame)
    output.write(columns, rows, fmt, out, numeric=numeric_columns(frame) if fmt == "table" else None,
                 width=width, formula_safe=formula_safe)
