"""What a feature hands the web shell to be mounted in `pulse serve`.

The dashboards and the posts queue are each one `WebExtension`, registered through the
`pulse_web_extensions` hook. The shell gives every extension's routes the same gate (sign-in
required unless listed public, CSRF on every unsafe method unless listed exempt), the same
security headers and error pages, `g.user`, and `pulse.web.auth.auth()` (`require_city`,
`require_admin`, `csrf_token`); an extension's templates extend the shell's `base.html`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from collections.abc import Callable

if TYPE_CHECKING:
    from flask import Blueprint, Flask

    from pulse.core.config import Config


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    badge: Callable[[object], int | None] | None = None
    """A count to show beside the label for the signed-in person (e.g. posts waiting), or None."""
    visible: Callable[[object], bool] = lambda user: True


@dataclass(frozen=True)
class WebExtension:
    name: str
    blueprint: Callable[[Config], Blueprint]
    """Builds the extension's Flask blueprint for this configuration."""
    public_endpoints: frozenset[str] = frozenset()
    """Endpoints that need no sign-in (they must authenticate callers their own way, or show nothing private)."""
    csrf_exempt_endpoints: frozenset[str] = frozenset()
    """Endpoints that take unsafe methods without the session's CSRF token (e.g. signed Slack requests)."""
    nav_links: tuple[NavLink, ...] = ()
    assets: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    """Files served at `/assets/NAME` (stylesheets, scripts), each by a function returning its bytes."""
    install: Callable[[Flask, Config, dict], None] | None = None
    """Called once the app exists, with the serving options (`workers`, `warm`, ...): set up the
    extension's state in `app.extensions`."""
    start: Callable[[Flask], None] | None = None
    """Background work for a running server (`pulse serve`), started after the app is built."""
    stop: Callable[[Flask], None] | None = None
