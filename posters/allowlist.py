"""Egress allowlist: the only hosts Pulse's channels may connect to are the domains in plugin.json.

Every channel goes through `check_url` before it connects: slack-sdk with the `base_url` it is
built with, tweepy and facebook-sdk through `guarded_session`, a `requests.Session` whose
transport adapter checks each request's URL (redirects included) before sending it. Tests add
127.0.0.1 with `[publisher] allow_hosts_for_tests`; nothing turns the check off.

The same adapter is the libraries' hook for a channel's test `base_url`: tweepy and
facebook-sdk build their URLs on fixed hosts (api.twitter.com, graph.facebook.com), so the
adapter sends a request for such a host to `base_url` instead, keeping its path and query.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

PLUGIN_JSON = Path(__file__).resolve().parents[1] / "plugin.json"


class EgressRefused(Exception):
    """A connection to a host that plugin.json does not declare; refused before connecting."""


@functools.lru_cache(maxsize=None)
def allowed_domains(path: Path = PLUGIN_JSON) -> tuple[str, ...]:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return tuple(d.lower().rstrip(".") for d in manifest["egress"]["allowed_domains"])


def host_allowed(host: str, extra_hosts: Iterable[str] = ()) -> bool:
    host = (host or "").lower().rstrip(".")
    if not host:
        return False
    if host in {h.lower() for h in extra_hosts}:
        return True
    return any(host == domain or host.endswith("." + domain) for domain in allowed_domains())


def check_url(url: str, extra_hosts: Iterable[str] = ()) -> None:
    """Raise EgressRefused unless `url`'s host is a plugin.json domain (or a subdomain) or listed in `extra_hosts`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EgressRefused(f"refused {url!r}: only http(s) URLs")
    if not host_allowed(parts.hostname or "", extra_hosts):
        raise EgressRefused(
            f"refused to connect to {parts.hostname!r}: not in plugin.json's egress.allowed_domains "
            f"({', '.join(allowed_domains())})")


class GuardedAdapter(HTTPAdapter):
    """Checks every request against the allowlist, gives it a timeout, and (tests) re-targets it."""

    def __init__(self, *, timeout: float, extra_hosts: Iterable[str] = (), base_url: str = ""):
        super().__init__(max_retries=0)  # retries are the publisher's decision, never a silent resend
        self.timeout = timeout
        self.extra_hosts = tuple(extra_hosts)
        self.base_url = base_url.rstrip("/")
        if self.base_url:
            check_url(self.base_url, self.extra_hosts)

    def send(self, request, **kwargs):
        if self.base_url:
            target = urlsplit(self.base_url)
            parts = urlsplit(request.url)
            request.url = urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, ""))
        check_url(request.url, self.extra_hosts)
        # tweepy passes no timeout at all: a request must never wait for ever.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def guarded_session(*, timeout: float, extra_hosts: Iterable[str] = (), base_url: str = "") -> requests.Session:
    session = requests.Session()
    adapter = GuardedAdapter(timeout=timeout, extra_hosts=extra_hosts, base_url=base_url)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
