"""What the analytics tests share: events in through the real ingest, figures out as CSV rows."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

from analytics import formatting, metrics, refresh
from jobs.ingest.run import ingest
from pulse.core.warehouse import open_warehouse

_files = itertools.count()


def ev(type: str, id: str, time: str, city: str = "sydney", source: str = "platform/au", **data) -> dict:
    """A contract envelope; `data` fields as keyword arguments."""
    return {"specversion": "1.0", "id": id, "source": source, "type": type, "time": time, "city": city,
            "data": data}


def load(config, envelopes, folder: Path) -> None:
    """Ingest the envelopes (one NDJSON file per call) through the real loader."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{next(_files):05d}.ndjson"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in envelopes), encoding="utf-8")
    summary = ingest(config, files=[str(path)])
    assert summary.rejected == 0, summary.line()


def rows(frame) -> list[list[str]]:
    """The frame as the CSV output's rows, header first."""
    out = io.StringIO()
    formatting.write_csv(frame, out)
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


def read(config, fn, *args, **kwargs) -> list[list[str]]:
    """One metric as CSV rows, read from models that were built beforehand (no auto-build)."""
    with metrics.connect(config, build_if_stale=False, on_notice=_no_notice) as con:
        return rows(fn(con, *args, **kwargs))


def _no_notice(message: str) -> None:
    raise AssertionError(f"unexpected stale models: {message}")


def build(config, full: bool = False):
    return refresh.build(config, full=full)


def body(csv_rows: list[list[str]]) -> list[list[str]]:
    """The rows without the header."""
    return csv_rows[1:]


def column(csv_rows, name: str) -> list[str]:
    index = csv_rows[0].index(name)
    return [row[index] for row in csv_rows[1:]]


def model_rows(config, sql: str) -> list[tuple]:
    with open_warehouse(config, write=False, purpose="test") as con:
        return con.execute(sql).fetchall()
