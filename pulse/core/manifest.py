"""The plugin's manifest, `plugin.json`: what Pulse declares to the platform it may do, and the
run-time rules that keep the code inside it.

The file sits at the top of the repository (where the platform's plugin layout wants it) and
is shipped inside the package (`pulse/core/plugin.json` links to it, and a wheel carries the
file's content), so an installed Pulse reads the very manifest it was built with, through
`importlib.resources`, never from a path beside the source tree. Its JSON Schema,
`plugin.schema.json`, is shipped the same way.

What is enforced here, at run time (`pulse plugin check` compares the rest with the code):
- `external_domains`: the only outside hosts an HTTP client may reach (`pulse.core.egress`);
- `routes`: `pulse serve` refuses to start with a route the manifest does not declare
  (`require_declared_routes`), and its Content-Security-Policy is built from the manifest
  (`content_security_policy`);
- `events.emits`: Pulse records no event of a type it does not declare (`pulse.core.emit`);
- `events.listens`: the types the metrics may count (`listens`); every other type is stored
  and ignored.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from collections.abc import Iterable
from typing import Any

from pulse.core.config import ConfigError

ACCESS = ("public", "signed_in", "signed_request")
"""Who may open a route: anyone (the page shows nothing private), a signed-in person (who sees
only their cities' rows), or a caller that proves itself by a signature instead of a session."""

IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
"""Answered for every route by the web framework itself (HEAD as GET, OPTIONS with `Allow`)."""

PERMISSION_OF_NAMESPACE = {"city": "read_cities", "user": "read_users", "event": "read_events",
                           "blog": "read_blog"}
"""The platform's permission for reading an event type, by the type's namespace (`event:rsvp`
needs `read_events`)."""


class ManifestError(ConfigError):
    """The code would do something plugin.json does not declare (one line: what, and the fix)."""


@functools.lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    return json.loads(resources.files("pulse.core").joinpath("plugin.json").read_text(encoding="utf-8"))


def schema() -> dict[str, Any]:
    """The manifest's JSON Schema (`plugin.schema.json`)."""
    return json.loads(resources.files("pulse.core").joinpath("plugin.schema.json").read_text(encoding="utf-8"))


def plugin_id() -> str:
    """The plugin's id: the `source` of every event Pulse emits."""
    return manifest()["id"]


def external_domains() -> tuple[str, ...]:
    """The only outside domains Pulse may call (their subdomains included)."""
    return tuple(domain.lower().rstrip(".") for domain in manifest()["external_domains"])


def listens() -> frozenset[str]:
    """The event types Pulse consumes; any other type is stored and ignored."""
    return frozenset(manifest()["events"]["listens"])


def emits() -> frozenset[str]:
    """The event types Pulse may publish."""
    return frozenset(manifest()["events"]["emits"])


def permission_for(event_type: str) -> str | None:
    """The permission reading `event_type` needs (None for a namespace the platform does not know)."""
    return PERMISSION_OF_NAMESPACE.get(event_type.partition(":")[0])


_TYPE_LITERAL = re.compile(r"'([a-z][a-z0-9_]*:[a-z][a-z0-9_]*)'")


def types_named_in(sql: str) -> set[str]:
    """The event types a SQL text picks by name: every quoted `'namespace:name'` literal."""
    return set(_TYPE_LITERAL.findall(sql))


# --- routes -----------------------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def route_path(rule: str) -> str:
    """A Flask rule as the manifest writes it: `/posts/<int:post_id>/edit` → `/posts/{post_id}/edit`."""
    return _ARGUMENT.sub(r"{\1}", rule)


def served_routes(app) -> dict[tuple[str, str], dict[str, Any]]:
    """Every path `app` answers, as the manifest declares routes, by (path, access)."""
    rules = app.extensions["pulse.auth"]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        path = route_path(rule.rule)
        if rule.endpoint in rules.public_endpoints:
            access = "signed_request" if rule.endpoint in rules.csrf_exempt_endpoints else "public"
        else:
            access = "signed_in"
        entry = found.setdefault((path, access), {"path": path, "methods": [], "access": access})
        entry["methods"] = sorted(set(entry["methods"]) | (set(rule.methods or ()) - IGNORED_METHODS))
    return found


def declared_routes(document: dict | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    return {(route["path"], route.get("access")): route for route in (document or manifest()).get("routes", [])
            if isinstance(route, dict) and isinstance(route.get("path"), str)}


def route_findings(served: dict[tuple[str, str], dict], declared: dict[tuple[str, str], dict],
                   ) -> list[tuple[bool, str, str]]:
    """(exceeds, problem, fix) for every difference between the routes served and those declared;
    `exceeds` when the app answers something the manifest does not declare."""
    problems = []
    for key, route in sorted(served.items()):
        path, access = key
        methods = ", ".join(route["methods"])
        entry = declared.get(key)
        if entry is None:
            other = next((d for (p, _), d in declared.items() if p == path), None)
            if other is not None:
                problems.append((True, f"{path} ({methods}) is open to {access} but declared {other.get('access')!r}",
                                 f"set its access to {json.dumps(access)}"))
            else:
                problems.append((True, f"`pulse serve` answers {path} ({methods}) but routes does not declare it",
                                 f"add {json.dumps(route)} to routes, or remove the route"))
            continue
        if sorted(entry.get("methods") or []) != route["methods"]:
            problems.append((True, f"{path} is served for {methods} but declared for "
                             f"{', '.join(entry.get('methods') or []) or 'no method'}",
                             f"set its methods to {json.dumps(route['methods'])}"))
    served_paths = {path for path, _ in served}
    for path, access in sorted(declared, key=lambda key: (key[0], str(key[1]))):
        if (path, access) not in served and path not in served_paths:
            problems.append((False, f"routes declares {path}, which `pulse serve` does not answer",
                             "remove it from routes (the platform would send requests nobody answers)"))
    return problems


def require_declared_routes(app) -> None:
    """Refuse an app that would answer a route plugin.json does not declare (or differently)."""
    extra = [(problem, fix) for exceeds, problem, fix in route_findings(served_routes(app), declared_routes())
             if exceeds]
    if extra:
        problem, fix = extra[0]
        more = f" (and {len(extra) - 1} more: see `pulse plugin check`)" if len(extra) > 1 else ""
        raise ManifestError(f"plugin.json routes: {problem}; {fix}{more}")


# --- the pages' Content-Security-Policy ------------------------------------------------------

def content_security_policy(document: dict | None = None) -> str:
    """The policy of every page `pulse serve` answers: its own origin, plus the manifest's
    `page_domains` (outside origins the pages may load from in the browser; none today).

    The server's own calls (`external_domains`) are not in it: no page talks to Slack, X or
    Facebook from the browser, and a script that got into one must not either.
    """
    outside = " ".join(f"https://{domain}" for domain in _domains((document or manifest()).get("page_domains", [])))
    extra = f" {outside}" if outside else ""
    # Scripts from this app only (no inline script, no eval); plotly.js sets inline styles.
    return (f"default-src 'self'; script-src 'self'{extra}; style-src 'self' 'unsafe-inline'{extra}; "
            f"img-src 'self' data:{extra}; font-src 'self'{extra}; connect-src 'self'{extra}; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _domains(values: Iterable[str]) -> list[str]:
    return [value.lower().rstrip(".") for value in values]
