"""Offline dashboards: `pulse dashboards --out DIR`.

Writes one HTML file per city (`sydney.html`), the overview as `index.html`, and beside them,
once, the stylesheet, the script and plotly.js: the files open from disk with no server and
no network. Each page carries its own downloads (CSV and JSON as `data:` links).

The figures come from the dashboard snapshot, which is published first from the warehouse
(briefly under its shared lock), so the rendering itself never holds up `pulse ingest`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from analytics import metrics
from dashboards import data as data_module, render
from dashboards.ranges import Choice
from dashboards.snapshot import Freshness, open_snapshot, publish_from, read_freshness, snapshot_path
from pulse.core.config import Config
from pulse.web.app import SHELL_ASSETS, shell_asset

DEFAULT_STALE_AFTER = timedelta(hours=24)


def page_name(slug: str) -> str:
    """A city's file name: its slug; `index` (the overview's name) becomes `index.city.html`
    (a slug has no dot, so no other city can take that name)."""
    return "index.city.html" if slug == "index" else f"{slug}.html"


_plotly_js: bytes | None = None


def plotly_js() -> bytes:
    """The plotly.js bundle shipped inside the plotly package (never fetched from a CDN)."""
    global _plotly_js
    if _plotly_js is None:
        from plotly.offline import get_plotlyjs
        _plotly_js = get_plotlyjs().encode("utf-8")
    return _plotly_js


def asset_bytes(name: str) -> bytes:
    if name == "plotly.min.js":
        return plotly_js()
    if name in SHELL_ASSETS:
        return shell_asset(name)
    if name not in render.ASSETS:
        raise KeyError(name)
    return (resources.files("dashboards") / "static" / name).read_bytes()


def export_all(
    config: Config,
    out_dir: str | os.PathLike,
    *,
    choice: Choice | None = None,
    now: datetime | None = None,
    build_if_stale: bool = True,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    cities: list[str] | None = None,
    on_notice: Callable[[str], None] | None = None,
    builder: Callable[[Config], object] | None = None,
) -> list[Path]:
    """Publish a fresh snapshot, then write the offline dashboards into `out_dir`.

    Returns the files written: `index.html` first, then the cities' pages in slug order, then
    the assets. `build_if_stale` builds the metrics first when events arrived since the last
    build (as `pulse metrics` does). `cities` limits the pages to those slugs.
    """
    with metrics.connect(config, build_if_stale=build_if_stale, on_notice=on_notice, builder=builder) as con:
        publish_from(con, config)
    return export_snapshot(snapshot_path(config), out_dir, choice=choice, now=now, stale_after=stale_after,
                           cities=cities)


def export_snapshot(
    snapshot: Path,
    out_dir: str | os.PathLike,
    *,
    choice: Choice | None = None,
    now: datetime | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    cities: list[str] | None = None,
) -> list[Path]:
    """Write the offline dashboards from a published snapshot file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    choice = choice or Choice()
    env = render.environment()
    links = render.StaticLinks()
    city_template, overview_template = env.get_template("city.html"), env.get_template("overview.html")
    written: list[Path] = []
    with contextlib.closing(open_snapshot(snapshot)) as con:
        freshness: Freshness = read_freshness(con)
        every_city = data_module.cities(con) if freshness.built else []
        chosen = [c for c in every_city if cities is None or c.slug in cities]
        pages, rows = [], []
        for city in chosen:
            window = data_module.city_window(city, choice, now)
            # Meetups held are those started before the snapshot was taken, as in the web app.
            moment = min(now, freshness.snapshot_at)
            city_data = data_module.city_data(con, city, window, moment)
            rows.append(data_module.overview_row_of(city_data))
            context = render.city_context(city_data, links=links, choice=choice, freshness=freshness, now=now,
                                          stale_after=stale_after, other_cities=chosen, static=True)
            pages.append(_write(out / page_name(city.slug), city_template.render(**context, user=None)))
        overview = render.overview_context(rows, links=links, choice=choice, freshness=freshness, now=now,
                                           stale_after=stale_after, static=True, everyone=cities is None)
        written.append(_write(out / "index.html", overview_template.render(**overview, user=None)))
        written.extend(pages)
    for name in render.ASSETS:
        written.append(_write_bytes(out / name, asset_bytes(name)))
    return written


def _write(path: Path, text: str) -> Path:
    return _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, content: bytes) -> Path:
    # Beside the final name, then renamed: a browser never opens half a page.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
    return path
