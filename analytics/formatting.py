"""Metrics as they leave Pulse: CSV, JSON and an aligned table for people.

The contract's output formats: dates `YYYY-MM-DD`; instants in UTC `YYYY-MM-DDTHH:MM:SS[.fff]Z`;
`attendance_rate` with exactly four decimals, empty when undefined; text exactly as sent. CSV
and JSON carry the same values (JSON keeps counts as numbers; a rate is the same four-decimal
string as in CSV, "" when undefined, so no JSON reader turns 0.5500 into 0.55). Only the table,
meant for a terminal, escapes control characters, so a title cannot drive the terminal.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import IO

import pandas as pd

from analytics.periods import format_instant, format_rate

FORMATS = ("csv", "json", "table")
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
    return [{column: _value(column, value) for column, value in zip(columns, row)}
            for row in frame.itertuples(index=False, name=None)]


def _csv_field(value) -> str:
    text = str(value)
    # Quoted when it holds a delimiter, a quote or a line break of either kind: the csv
    # module would leave a lone "\r" bare with "\n" line ends, and readers split on it.
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(frame: pd.DataFrame, out: IO[str]) -> None:
    """RFC 4180 quoting, lines ending in "\n"."""
    out.write(",".join(_csv_field(c) for c in frame.columns) + "\n")
    for record in records(frame):
        out.write(",".join(_csv_field(v) for v in record.values()) + "\n")


def write_json(frame: pd.DataFrame, out: IO[str]) -> None:
    json.dump(records(frame), out, ensure_ascii=False, indent=1)
    out.write("\n")


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters shown escaped (`\\x1b`, `\\n`), so
    user text can neither break a table's lines nor drive the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def render_table(frame: pd.DataFrame) -> str:
    rows = records(frame)
    header = [str(column) for column in frame.columns]
    body = [[printable(str(value)) for value in row.values()] for row in rows]
    # Numbers (and rates) align right, text left.
    numeric = [column in RATE_COLUMNS or (bool(rows) and all(
        isinstance(row[column], (int, float)) and not isinstance(row[column], bool) for row in rows))
        for column in frame.columns]
    widths = [max([len(name)] + [len(cells[i]) for cells in body]) for i, name in enumerate(header)]

    def line(cells):
        return "  ".join(cell.rjust(width) if right else cell.ljust(width)
                         for cell, width, right in zip(cells, widths, numeric)).rstrip()

    lines = [line(header), line(["-" * width for width in widths])]
    lines.extend(line(cells) for cells in body)
    if not body:
        lines.append("(no rows)")
    return "\n".join(lines) + "\n"


def write(frame: pd.DataFrame, fmt: str, out: IO[str]) -> None:
    if fmt == "csv":
        write_csv(frame, out)
    elif fmt == "json":
        write_json(frame, out)
    elif fmt == "table":
        out.write(render_table(frame))
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
