"""Fixtures shared by every test: a config over a temp warehouse, envelopes, NDJSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulse.core import config as config_module
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


@pytest.fixture
def make_config(tmp_path):
    """`make_config(**sections)` → a Config whose warehouse lives in this test's temp folder."""
    def make(**sections):
        raw = {"warehouse": {"data_dir": str(tmp_path / "warehouse"), "lock_timeout_seconds": 30}}
        for key, value in sections.items():
            raw.setdefault(key, {}).update(value)
        return config_module.from_dict(raw, base_dir=tmp_path)
    return make


@pytest.fixture
def config(make_config):
    return make_config()


def query(config, sql: str, params=None) -> list[tuple]:
    """Rows from the warehouse, read the way every reader does (shared lock, read-only)."""
    with open_warehouse(config, write=False, purpose="test") as con:
        return con.execute(sql, params or []).fetchall()
