"""The web shell behind `pulse serve`: one Flask app that every feature mounts into.

The shell owns what must be the same on every page: sessions and sign-in (`auth.py`), CSRF,
security headers, error pages, the top bar and its links, and the `/assets/NAME` files. The
features (the dashboards, the posts queue) are `WebExtension`s registered through the
`pulse_web_extensions` hook; each contributes a blueprint, the endpoints it declares public or
CSRF-exempt, nav links and assets, and gets `install`ed with the serving options.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from datetime import datetime, timedelta, UTC
from importlib import resources
from collections.abc import Callable, Iterable

from flask import Flask, Response, abort, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from pulse.core import manifest, registry
from pulse.core.config import Config
from pulse.people import People
from pulse.web import auth as auth_module
from pulse.web.extension import NavLink, WebExtension

SECRET_ENV = "PULSE_SESSION_SECRET"
EXTENSIONS_KEY = "pulse.web.extensions"

CONTENT_SECURITY_POLICY = manifest.content_security_policy()  # built from plugin.json's page_domains
# No page here uses any of these browser features; a script that got in could not either.
PERMISSIONS_POLICY = ("accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), midi=(), payment=(), usb=(), fullscreen=(self)")
# Only when the cookie is Secure (`--secure-cookies`: served over HTTPS): a browser that saw it
# then refuses plain HTTP to this host for a year, so the cookie cannot be stripped to HTTP.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
SHELL_ASSETS = ("pulse.css",)


class _StoreInteger(IntegerConverter):
    """`<int:...>` in every route: at most SQLite's largest integer. A longer run of digits is
    a page that does not exist (404), not an OverflowError in a store (500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 63 - 1)
        super().__init__(map, *args, **kwargs)


def registered_extensions() -> list[WebExtension]:
    """Every registered web extension."""
    return list(registry.collect("pulse_web_extensions").values())


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


def shell_asset(name: str) -> bytes:
    return (resources.files("pulse.web") / "static" / name).read_bytes()


class ShellLinks:
    """Links of pages that are not a feature's own (sign-in, errors, the queue)."""

    def overview(self, choice=None) -> str:
        return "/"

    def asset(self, name: str) -> str:
        return f"/assets/{name}"


def create_app(
    config: Config,
    *,
    people: People | None = None,
    secret_key: str | None = None,
    clock: Callable[[], datetime] | None = None,
    secure_cookies: bool = False,
    extensions: Iterable[WebExtension] | None = None,
    **options,
) -> Flask:
    """The WSGI app over `config`'s data folder.

    `extensions` default to every registered one; `options` go to each extension's `install`
    (the dashboards take `stale_after`, `cache_size`, `warm`, `workers`).
    """
    mounted = list(registered_extensions() if extensions is None else extensions)
    app = Flask("pulse.web", template_folder=str(resources.files("pulse.web") / "templates"), static_folder=None)
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
    # Werkzeug answers `//a//b` with a redirect to an absolute URL built from the Host header, so
    # whoever sets Host (or X-Forwarded-Host through a proxy) would choose where it points. No
    # route here needs it: such paths are simply not found.
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = _StoreInteger
    now = clock or (lambda: datetime.now(UTC))
    app.config["PULSE_CLOCK"] = now
    public = {"web.asset"}
    exempt: set[str] = set()
    assets: dict[str, Callable[[], bytes]] = {name: (lambda name=name: shell_asset(name)) for name in SHELL_ASSETS}
    nav: list[NavLink] = []
    for extension in mounted:
        app.register_blueprint(extension.blueprint(config))
        public |= extension.public_endpoints
        exempt |= extension.csrf_exempt_endpoints
        nav.extend(extension.nav_links)
        assets.update(extension.assets)
    app.extensions[EXTENSIONS_KEY] = mounted
    # Sessions and links expire by the app's clock, so tests can move it.
    auth_module.install(app, people or People(config, clock=lambda: now().timestamp()), public=public,
                        csrf_exempt=exempt)
    for extension in mounted:
        if extension.install:
            extension.install(app, config, options)
    app.register_blueprint(_asset_blueprint(assets))
    if extensions is None:  # what `pulse serve` mounts: it answers only what plugin.json declares
        manifest.require_declared_routes(app)

    @app.context_processor
    def _shell():
        user = g.get("user")
        links = [(link.label, link.path, link.badge(user) if link.badge else None)
                 for link in nav if user is not None and link.visible(user)]
        return {"links": ShellLinks(), "static": False, "nav_links": links}

    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    return app


def start(app: Flask) -> None:
    """Start the extensions' background work (for a serving process)."""
    for extension in app.extensions[EXTENSIONS_KEY]:
        if extension.start:
            extension.start(app)


def stop(app: Flask) -> None:
    for extension in reversed(app.extensions[EXTENSIONS_KEY]):
        if extension.stop:
            extension.stop(app)


def _asset_blueprint(assets: dict[str, Callable[[], bytes]]):
    from flask import Blueprint

    blueprint = Blueprint("web", __name__)
    types = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}
    cache: dict[str, tuple[bytes, str]] = {}

    @blueprint.get("/assets/<name>")
    def asset(name: str):
        if name not in assets:
            abort(404)
        if name not in cache:
            content = assets[name]()
            cache[name] = (content, hashlib.sha256(content).hexdigest()[:16])
        content, etag = cache[name]
        response = Response(content, content_type=types[name.rsplit(".", 1)[1]])
        response.set_etag(etag)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response.make_conditional(request)

    return blueprint


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")  # sign-in link tokens stay out of Referer
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.endpoint != "web.asset":
        # A person's figures and posts: no shared cache may keep them.
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
