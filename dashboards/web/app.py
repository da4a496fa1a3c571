"""The dashboards web app (Flask): city pages, the overview, their CSV and JSON, sign-in.

Pages read the dashboard snapshot (see `dashboards.snapshot`), never the warehouse, so they
answer while `pulse ingest` and `pulse build` run. What a page computes from one snapshot is
cached by the snapshot's version: a new snapshot is a new key, never a stale answer.

Other packages add their pages as Flask blueprints: `create_app(config, blueprints=[bp],
public_endpoints={...}, csrf_exempt_endpoints={...})`. Their routes get the same gate (sign-in
required unless public, CSRF on every unsafe method unless exempt), the same security headers,
`g.user`, and `current_app.extensions["pulse.auth"]` (`require_city`, `require_admin`,
`csrf_token`); their templates can extend `base.html` and put `{{ csrf_token }}` in a hidden
`csrf_token` field of each form.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from dashboards import data as data_module, render
from dashboards.export import DEFAULT_STALE_AFTER, asset_bytes
from dashboards.ranges import RangeError, parse_choice
from dashboards.snapshot import SnapshotReader, snapshot_path
from dashboards.web import auth as auth_module
from dashboards.web.pages import PageData
from pulse.config import Config
from pulse.people import People

SECRET_ENV = "PULSE_SESSION_SECRET"
EXTENSION = "pulse.dashboards"

# Scripts from this app only (no inline script, no eval); plotly.js sets inline styles.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class Dashboards:
    """The app's state: `current_app.extensions["pulse.dashboards"]`."""

    def __init__(self, config: Config, reader: SnapshotReader, *, clock: Callable[[], datetime],
                 stale_after: timedelta, cache_size: int, workers: int):
        self.config = config
        self.reader = reader
        self.clock = clock
        self.stale_after = stale_after
        self.pages = PageData(reader, clock, cache_size, workers)


def state() -> Dashboards:
    return current_app.extensions[EXTENSION]


def session_secret(secret: str | None = None, on_notice: Callable[[str], None] | None = None) -> str:
    """The key that signs session cookies: given, else from $PULSE_SESSION_SECRET, else a new
    random one for this process only (sessions then end when the server stops)."""
    if secret:
        return secret
    from_env = os.environ.get(SECRET_ENV, "")
    if from_env:
        if len(from_env) < 32:
            raise ValueError(f"{SECRET_ENV}: use at least 32 random characters (e.g. `python -c "
                             "'import secrets; print(secrets.token_urlsafe(32))'`)")
        return from_env
    (on_notice or (lambda message: print(message, file=sys.stderr)))(
        f"pulse: {SECRET_ENV} is not set; sessions are signed with a key made for this run "
        "and end when the server stops")
    return secrets.token_urlsafe(48)


def create_app(
    config: Config,
    *,
    people: People | None = None,
    secret_key: str | None = None,
    clock: Callable[[], datetime] | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    secure_cookies: bool = False,
    cache_size: int = 1024,
    warm: bool = False,
    workers: int = 0,
    blueprints: Iterable[Blueprint] = (),
    public_endpoints: Iterable[str] = (),
    csrf_exempt_endpoints: Iterable[str] = (),
    nav_links: Iterable[tuple[str, str]] = (),
) -> Flask:
    """The WSGI app over `config`'s data folder (people file and dashboard snapshot).

    `blueprints` are other packages' routes, behind the same gate; `public_endpoints` need no
    sign-in, `csrf_exempt_endpoints` no CSRF token (they must authenticate requests their own
    way); `nav_links` are (label, path) pairs shown to signed-in people in the top bar.
    `warm` starts a background thread that computes every city's preset pages after each new
    snapshot; `workers` > 0 computes figures in that many worker processes (`pulse serve` does
    both); `cache_size` is how many computed pages are kept.
    """
    app = Flask("dashboards", template_folder="templates", static_folder=None)
    app.config.update(
        SECRET_KEY=session_secret(secret_key),
        SESSION_COOKIE_NAME="pulse_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=auth_module.SESSION_HOURS),
        MAX_CONTENT_LENGTH=64 * 1024,  # forms here are a few fields
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True
    now = clock or (lambda: datetime.now(timezone.utc))
    dashboards = Dashboards(config, SnapshotReader(snapshot_path(config)), clock=now,
                            stale_after=stale_after, cache_size=cache_size, workers=workers)
    app.extensions[EXTENSION] = dashboards
    if warm:
        dashboards.pages.start_warming()
    auth_module.install(app, people or People(config),
                        public=set(public_endpoints) | PUBLIC, csrf_exempt=set(csrf_exempt_endpoints),
                        clock=lambda: now().timestamp())
    app.register_blueprint(blueprint)
    for extra in blueprints:
        app.register_blueprint(extra)

    extra_nav = list(nav_links)

    @app.context_processor
    def _links():
        return {"links": render.WebLinks(), "static": False, "nav_links": extra_nav}

    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    return app


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")  # sign-in link tokens stay out of Referer
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "dashboards.asset":
        # Figures of a person's cities: no shared cache may keep them.
        headers["Cache-Control"] = "no-store"
    return response


_ERROR_TITLES = {400: "That request cannot be answered", 401: "Sign in first", 403: "Refused",
                 404: "Not found", 405: "Not allowed", 410: "Gone", 413: "Too large",
                 429: "Too many attempts", 503: "Not ready yet"}


def _error_page(error: HTTPException):
    if error.code in (301, 302, 303, 307, 308):
        return error
    message = error.description or ""
    if error.code == 404:
        message = "There is nothing here for you: the page does not exist, or it is about a city that is not yours."
    return render_template("error.html", title=_ERROR_TITLES.get(error.code, "Error"), message=message), error.code


blueprint = Blueprint("dashboards", __name__)
PUBLIC = {"dashboards.asset", "dashboards.health"}
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def _choice():
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
    return state().pages.cities(snap.con, snap.version)


def _city_data(snap: _Snapshot, slug: str, choice):
    """(city data, figure JSON) for a city the person may see; 404 for any other."""
    auth_module.auth().require_city(slug)
    city = next((c for c in _cities(snap) if c.slug == slug), None)
    if city is None:
        abort(404)
    return state().pages.city(snap.con, snap.version, snap.freshness, city, choice)


def _overview_rows(snap: _Snapshot, choice) -> list[data_module.OverviewRow]:
    return [state().pages.overview_row(snap.con, snap.version, snap.freshness, city, choice)
            for city in _cities(snap) if g.user.can_see(city.slug)]


@blueprint.get("/")
def overview():
    choice = _choice()
    with _Snapshot() as snap:
        visible = [c for c in _cities(snap) if g.user.can_see(c.slug)]
        if not g.user.is_admin and len(visible) == 1:
            return redirect(render.WebLinks().city(visible[0].slug, choice))
        rows = _overview_rows(snap, choice)
        context = render.overview_context(rows, links=render.WebLinks(), choice=choice, freshness=snap.freshness,
                                          now=state().clock(), stale_after=state().stale_after, static=False)
    return render_template("overview.html", **context)


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
    choice = _choice()
    with _Snapshot() as snap:
        found, figure_json = _city_data(snap, slug, choice)
        others = [c for c in _cities(snap) if g.user.can_see(c.slug)]
        context = render.city_context(found, links=render.WebLinks(), choice=choice, freshness=snap.freshness,
                                      now=state().clock(), stale_after=state().stale_after,
                                      other_cities=others if len(others) > 1 else [], static=False,
                                      figure_json=figure_json)
    return render_template("city.html", **context)


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


_ASSET_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}
_asset_cache: dict[str, tuple[bytes, str]] = {}


@blueprint.get("/assets/<name>")
def asset(name: str):
    if name not in render.ASSETS:
        abort(404)
    if name not in _asset_cache:
        content = asset_bytes(name)
        _asset_cache[name] = (content, hashlib.sha256(content).hexdigest()[:16])
    content, etag = _asset_cache[name]
    response = Response(content, content_type=_ASSET_TYPES[name.rsplit(".", 1)[1]])
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response.make_conditional(request)


@blueprint.get("/healthz")
def health():
    """For load balancers and tests: whether a snapshot is being served (no figures)."""
    with state().reader.cursor() as (con, version, freshness):
        ready = bool(con is not None and freshness.built)
    return ({"ok": True, "snapshot": ready, "warm": state().pages.warm}, 200 if ready else 503)
