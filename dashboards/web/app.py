"""The dashboards in `pulse serve`: city pages, the overview, their CSV and JSON, as one
`WebExtension` of the web shell (which gives them sign-in, CSRF, headers and error pages).

Pages read the dashboard snapshot (see `dashboards.snapshot`), never the warehouse, so they
answer while `pulse ingest` and `pulse build` run. What a page computes from one snapshot is
cached by the snapshot's version: a new snapshot is a new key, never a stale answer. While the
server runs, the extension keeps the snapshot fresh (`Refresher`) and computes every city's
preset pages ahead (`PageData.start_warming`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources

from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, render_template, request

from dashboards import data as data_module, render
from dashboards.export import DEFAULT_STALE_AFTER, asset_bytes
from dashboards.ranges import DEFAULT_PERIOD, PERIODS, Choice, RangeError, parse_choice
from dashboards.snapshot import Refresher, SnapshotReader, snapshot_path
from dashboards.web.pages import PageData, as_of
from pulse.core.config import Config
from pulse.web import auth as auth_module, scope
from pulse.web.app import SHELL_ASSETS
from pulse.web.extension import WebExtension

EXTENSION = "pulse.dashboards"


class Dashboards:
    """The app's state: `current_app.extensions["pulse.dashboards"]`."""

    def __init__(self, config: Config, reader: SnapshotReader, *, clock: Callable[[], datetime],
                 stale_after: timedelta, cache_size: int, workers: int):
        self.config = config
        self.reader = reader
        self.clock = clock
        self.stale_after = stale_after
        self.pages = PageData(reader, clock, cache_size, workers)
        self.refresher: Refresher | None = None


def state() -> Dashboards:
    return current_app.extensions[EXTENSION]


def install(app: Flask, config: Config, options: dict) -> None:
    """Options: `stale_after` (warn when the last ingest is older), `cache_size` (computed pages
    kept), `warm` (compute every city's preset pages after each new snapshot), `workers` (> 0:
    compute figures in that many worker processes), `refresh_seconds` (how often a running
    server looks for a newer warehouse)."""
    dashboards = Dashboards(config, SnapshotReader(snapshot_path(config)), clock=app.config["PULSE_CLOCK"],
                            stale_after=options.get("stale_after", DEFAULT_STALE_AFTER),
                            cache_size=options.get("cache_size", 1024), workers=options.get("workers", 0))
    dashboards.refresh_seconds = options.get("refresh_seconds", 5.0)
    app.extensions[EXTENSION] = dashboards
    if options.get("warm"):
        dashboards.pages.start_warming()


def start(app: Flask) -> None:
    """For a serving process: publish a snapshot now when the warehouse is free and newer, and
    keep doing so every few seconds, never waiting for the warehouse lock."""
    import sys

    dashboards: Dashboards = app.extensions[EXTENSION]

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    refresher = Refresher(dashboards.config, interval=dashboards.refresh_seconds,
                          on_error=lambda error: say(f"pulse serve: could not refresh the dashboard snapshot: {error}"))
    try:
        if refresher.refresh_once():
            say("pulse serve: published a fresh dashboard snapshot")
        elif refresher.last_attempt_busy:
            say("pulse serve: the warehouse is busy; serving the previous snapshot until it is free")
    except Exception as error:  # noqa: BLE001 - a broken warehouse must not keep the pages down
        say(f"pulse serve: could not refresh the dashboard snapshot: {error}")
    refresher.start()
    dashboards.refresher = refresher
    if not dashboards.pages.warming:
        dashboards.pages.start_warming()


def stop(app: Flask) -> None:
    dashboards: Dashboards = app.extensions[EXTENSION]
    if dashboards.refresher is not None:
        dashboards.refresher.stop()
    dashboards.pages.stop()


def extension() -> WebExtension:
    return WebExtension(
        name="dashboards", blueprint=lambda config: blueprint, public_endpoints=frozenset(PUBLIC),
        assets={name: (lambda name=name: asset_bytes(name)) for name in render.ASSETS if name not in SHELL_ASSETS},
        install=install, start=start, stop=stop)


blueprint = Blueprint("dashboards", __name__, template_folder=str(resources.files("dashboards") / "templates"))
PUBLIC = {"dashboards.health"}
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


class _Asked:
    """The range a URL asked for; when it cannot be shown, the default range with why (the
    page then answers 400 but keeps its form, holding what was typed)."""

    def __init__(self):
        try:
            self.choice, self.error, self.entered = parse_choice(request.args), None, None
        except RangeError as error:
            self.choice, self.error = Choice(period=_period_or_default()), str(error)
            self.entered = {key: request.args.get(key, "") for key in ("range", "from", "to", "period")}

    @property
    def status(self) -> int:
        return 400 if self.error else 200


def _period_or_default() -> str:
    period = request.args.get("period")
    return period if period in PERIODS else DEFAULT_PERIOD


def _choice():
    """For downloads: a range that cannot be shown is a 400 that says why."""
    try:
        return parse_choice(request.args)
    except RangeError as error:
        abort(400, description=str(error))


class _Snapshot:
    """The current snapshot for one request: cursor, version, freshness; 503 when there is none."""

    def __enter__(self):
        self._context = state().reader.cursor()
        con, version, freshness = self._context.__enter__()
        if con is None or not freshness.built:
            self._context.__exit__(None, None, None)
            abort(503, description="The metrics have not been built and published yet: run `pulse ingest` and "
                                   "`pulse build`; this page shows them as soon as they are there.")
        self.con, self.version, self.freshness = con, version, freshness
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def _cities(snap: _Snapshot) -> list[data_module.City]:
    """The snapshot's cities this request may read (`pulse.web.scope`): every page draws from these."""
    return scope.current().only(state().pages.cities(snap.con, snap.version), city=lambda city: city.slug)


def _city_data(snap: _Snapshot, slug: str, choice):
    """(city data, figure JSON) for a city the person may see; 404 for any other."""
    auth_module.auth().require_city(slug)
    city = next((c for c in _cities(snap) if c.slug == slug), None)
    if city is None:
        abort(404)
    return state().pages.city(snap.con, snap.version, snap.freshness, city, choice)


def _overview_rows(snap: _Snapshot, choice) -> list[data_module.OverviewRow]:
    return [row for row in state().pages.overview(snap.con, snap.version, snap.freshness, choice)
            if g.user.can_see(row.city.slug)]


@blueprint.get("/")
def overview():
    asked = _Asked()
    choice = asked.choice
    with _Snapshot() as snap:
        visible = [c for c in _cities(snap) if g.user.can_see(c.slug)]
        if not g.user.is_admin and len(visible) == 1 and not asked.error:
            return redirect(render.WebLinks().city(visible[0].slug, choice))
        rows = _overview_rows(snap, choice)
        context = render.overview_context(rows, links=render.WebLinks(), choice=choice, freshness=snap.freshness,
                                          now=state().clock(), stale_after=state().stale_after, static=False,
                                          everyone=g.user.is_admin, range_error=asked.error, entered=asked.entered,
                                          table_html=_overview_table(snap, rows, choice))
    return render_template("overview.html", **context), asked.status


def _overview_table(snap: _Snapshot, rows: list[data_module.OverviewRow], choice) -> str:
    """The overview's table as HTML, rendered once per snapshot, choice and set of cities shown
    (with a hundred cities, rendering it is most of a page view's work)."""
    key = (snap.version, "overview-table", choice, as_of(state().clock(), snap.freshness),
           tuple((r.city.slug, r.window.start, r.window.end) for r in rows))
    found, html = state().pages.cache.peek(key)
    if not found:
        html = render_template("_overview_table.html",
                               **render.overview_table_context(rows, links=render.WebLinks(), choice=choice))
        state().pages.cache.put(key, html)
    return html


@blueprint.get("/overview.<fmt>")
def overview_data(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    choice = _choice()
    with _Snapshot() as snap:
        frame = data_module.overview_frame(_overview_rows(snap, choice))
    return _download(frame, fmt, "overview")


@blueprint.get("/city/<slug>")
def city(slug: str):
    asked = _Asked()
    choice = asked.choice
    with _Snapshot() as snap:
        found, figure_json = _city_data(snap, slug, choice)
        others = [c for c in _cities(snap) if g.user.can_see(c.slug)]
        context = render.city_context(found, links=render.WebLinks(), choice=choice, freshness=snap.freshness,
                                      now=state().clock(), stale_after=state().stale_after,
                                      other_cities=others if len(others) > 1 else [], static=False,
                                      figure_json=figure_json, alerts=_alerts(snap, slug),
                                      range_error=asked.error, entered=asked.entered)
    return render_template("city.html", **context), asked.status


def _alerts(snap: _Snapshot, slug: str) -> list:
    """The alerts of `[alerts]` that hold for this city now (none when no rule is configured)."""
    from dashboards import alerts as alerts_module

    return alerts_module.for_city(state().pages, snap, state().config, slug, state().clock())


@blueprint.get("/city/<slug>/<dataset>.<fmt>")
def city_dataset(slug: str, dataset: str, fmt: str):
    if fmt not in FORMATS or dataset not in data_module.DATASETS:
        abort(404)
    choice = _choice()
    with _Snapshot() as snap:
        found, _ = _city_data(snap, slug, choice)
        frame = found.dataset(dataset)
    window = found.window
    return _download(frame, fmt, f"{slug}-{dataset}-{window.start.isoformat()}-{window.end.isoformat()}")


def _download(frame, fmt: str, name: str) -> Response:
    response = Response(render.write(frame, fmt), mimetype=FORMATS[fmt].split(";")[0])
    response.headers["Content-Type"] = FORMATS[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@blueprint.get("/healthz")
def health():
    """For load balancers and tests: whether a snapshot is being served (no figures)."""
    with state().reader.cursor() as (con, version, freshness):
        ready = bool(con is not None and freshness.built)
    return ({"ok": True, "snapshot": ready, "warm": state().pages.warm}, 200 if ready else 503)
