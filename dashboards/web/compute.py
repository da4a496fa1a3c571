"""The work of computing a page's figures, as functions a worker process can run.

`pulse serve` runs them in a small pool of processes: there the DuckDB queries and pandas
frames of a page run without sharing the web process's GIL with the threads that render and
send pages, and on a second core. Each worker keeps its own read-only connection to the
snapshot, re-opened when the file is replaced.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

from dashboards import data as data_module, render
from dashboards.ranges import Choice, Window
from dashboards.snapshot import open_snapshot, use_snapshot

_open: dict[str, tuple[tuple, object]] = {}


def _connection(path: str, version: tuple):
    held = _open.get(path)
    if held is None or held[0] != version:
        _open[path] = (version, open_snapshot(Path(path)))
    return _open[path][1]


def city_page(path: str, version: tuple, city: data_module.City, window: Window, as_of: datetime):
    """(CityData, figure JSON by name) from the snapshot at `path`."""
    cursor = _connection(path, version).cursor()
    try:
        use_snapshot(cursor)
        found = data_module.city_data(cursor, city, window, as_of)
        return found, render.city_figures(found)
    finally:
        cursor.close()


def overview(path: str, version: tuple, cities: list[data_module.City], choice: Choice, now: datetime,
             as_of: datetime) -> list[data_module.OverviewRow]:
    """Every city's overview row for a choice, in one task (one hop to a worker, one cache entry)."""
    cursor = _connection(path, version).cursor()
    try:
        use_snapshot(cursor)
        return data_module.overview_rows(cursor, cities, choice, now, as_of)
    finally:
        cursor.close()


def ready() -> bool:
    """A no-op that makes a new worker import everything above before the first page."""
    return True


def watch_parent() -> None:
    """Worker initializer: end this worker when the server process is gone, however it ended
    (a SIGKILL leaves no chance to shut the pool down, and a worker would wait forever)."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="pulse-parent-watch", daemon=True).start()
