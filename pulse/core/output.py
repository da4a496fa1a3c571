"""Everything Pulse prints or downloads as rows: CSV, JSON and an aligned terminal table.

One writer each, used by every command (`pulse metrics`, `rejects`, `sources`, `posts`,
`users`, `status`) and by the dashboards' downloads, so the rules below hold everywhere:

- CSV is RFC 4180 with `\\n` line ends, and a field is quoted when it holds a comma, a quote or
  either kind of line break (Python's csv module leaves a lone `\\r` bare, which readers split
  on). `formula_safe=True` (the dashboards' downloads, opened in spreadsheets) prefixes a text
  cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return with `'`, so a spreadsheet
  shows it instead of running it; numbers stay numbers. Command-line CSV keeps the text
  exactly as the platform sent it, as the contract's output formats require.
- A terminal table escapes control characters (`printable`), so user text can neither break a
  table's lines nor drive the terminal (ANSI/OSC sequences, bidi overrides), and fits the
  terminal: the widest column is cut (with `…`) until the lines fit, and a table too wide for
  that is shown as one record per row (`column  value` lines).
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from typing import IO, Any

FORMATS = ("csv", "json", "table")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """Text safe to print on a terminal: control and format characters (C0, C1, DEL, bidi
    overrides and isolates, zero-width marks) shown escaped (`\\x1b`, `\\n`, `\\u202e`)."""
    if text.isprintable():
        return text
    # repr() escapes exactly the characters str.isprintable() refuses.
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def terminal_text(text: str, limit: int | None = None) -> str:
    """`printable(text)`, cut to `limit` characters (with `…`) when given."""
    shown = printable(text)
    if limit is not None and len(shown) > limit:
        return shown[: max(limit - 1, 0)] + "…"
    return shown


def csv_field(value: Any, *, formula_safe: bool = False) -> str:
    text = "" if value is None else str(value)
    if formula_safe and isinstance(value, str) and text.startswith(_FORMULA_START):
        text = "'" + text
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[str], *,
              formula_safe: bool = False) -> None:
    out.write(",".join(csv_field(c) for c in columns) + "\n")
    for row in rows:
        out.write(",".join(csv_field(v, formula_safe=formula_safe) for v in row) + "\n")


def write_json(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[str]) -> None:
    json.dump([dict(zip(columns, row, strict=False)) for row in rows], out, ensure_ascii=False, indent=1)
    out.write("\n")


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal (East Asian wide and full-width characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def _cut(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        kept.append(ch)
        used += w
    return "".join(kept) + "…"


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


CUT_FLOOR = 20
"""A column is never cut below this many columns (nor below its header): narrower, a cell says
too little to be worth a line of its own; the table is shown as records instead."""


def render_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None,
                 width: int | None = None, empty: str = "(no rows)") -> str:
    """An aligned table (numbers right, text left), every cell `printable`; with `width`, the
    widest columns are cut (with `…`) until each line fits. When even cut to their floors
    (`CUT_FLOOR`, or the header) the columns cannot fit, each row is shown as a record instead,
    one `column  value` line per cell, as psql's expanded mode does."""
    body = [["" if v is None else printable(str(v)) for v in row] for row in rows]
    header = [printable(str(c)) for c in columns]
    right = list(numeric) if numeric is not None else [False] * len(header)
    widths = [max([display_width(h)] + [display_width(r[i]) for r in body]) for i, h in enumerate(header)]
    gaps = 2 * (len(widths) - 1)
    if width is not None:
        floors = [max(display_width(h), min(w, CUT_FLOOR)) for h, w in zip(header, widths, strict=True)]
        if body and sum(floors) + gaps > width:
            return _records(header, body, width)
        while sum(widths) + gaps > width:
            widest = max(range(len(widths)), key=lambda i: widths[i] - floors[i])
            if widths[widest] <= floors[widest]:
                break
            widths[widest] = max(floors[widest], widths[widest] - (sum(widths) + gaps - width))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(_cut(c, w), w, r) for c, w, r in zip(cells, widths, right, strict=False)).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines.extend(line(cells) for cells in body)
    if not body:
        lines.append(empty)
    return "\n".join(lines) + "\n"


def _records(header: Sequence[str], body: Sequence[Sequence[str]], width: int) -> str:
    """Each row as a block of `column  value` lines under a `-[ N ]---` rule, cut to `width`."""
    key_width = max(display_width(h) for h in header)
    value_width = max(width - key_width - 2, 8)
    longest = max(display_width(c) for cells in body for c in cells)
    rule = min(width, key_width + 2 + longest)
    lines = []
    for number, cells in enumerate(body, 1):
        label = f"-[ {number} ]"
        lines.append(label + "-" * max(rule - len(label), 0))
        lines.extend(f"{_pad(h, key_width, False)}  {_cut(c, value_width)}".rstrip() for h, c in zip(header, cells, strict=False))
    return "\n".join(lines) + "\n"


def terminal_width(default: int = 100) -> int:
    return shutil.get_terminal_size((default, 24)).columns


def write(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: IO[str], *,
          numeric: Sequence[bool] | None = None, width: int | None = None, formula_safe: bool = False) -> None:
    """Rows in one of FORMATS. `rows` hold output values already (text, numbers, None)."""
    if fmt == "csv":
        write_csv(columns, rows, out, formula_safe=formula_safe)
    elif fmt == "json":
        write_json(columns, rows, out)
    elif fmt == "table":
        out.write(render_table(columns, rows, numeric=numeric, width=width))
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
