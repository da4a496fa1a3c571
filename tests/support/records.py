"""Test records: CloudEvents envelopes by the contract, NDJSON lines and files, and reading the warehouse as readers do."""

from __future__ import annotations

import json
from pathlib import Path

from pulse.core.warehouse import open_warehouse


def envelope(id: str = "e1", type: str = "user:joined_city", *, data=None, source: str = "platform/au",
             time: str = "2026-03-05T09:12:44.120+11:00", city: str = "sydney", **extra) -> dict:
    """A valid CloudEvents envelope (by the contract), with any attribute overridable."""
    record = {"specversion": "1.0", "id": id, "source": source, "type": type, "time": time, "city": city,
              "data": {"user_id": "u1"} if data is None else data}
    record.update(extra)
    return record


def line(record) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_lines(path: Path, lines, *, newline_at_end: bool = True) -> Path:
    text = "\n".join(line(x) if not isinstance(x, str) else x for x in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("\n" if newline_at_end and lines else ""), encoding="utf-8")
    return path


def query(config, sql: str, params=None) -> list[tuple]:
    """Rows from the warehouse, read the way every reader does (shared lock, read-only)."""
    with open_warehouse(config, write=False, purpose="test") as con:
        return con.execute(sql, params or []).fetchall()
