"""Egress: the only hosts Pulse may connect to are the manifest's `external_domains` (and their
subdomains), plus the hosts an operator configures for the feed, the outbox and the event sink.

Every HTTP client Pulse builds goes through here before a connection is made, and again for
every redirect: `check_url` for a URL, `guarded_session` for a `requests.Session` (tweepy,
facebook-sdk, the feed) whose transport adapter checks each request it is about to send. A
URL is parsed strictly: only http(s), no user info (`https://slack.com@evil.example/`), no
backslashes or control characters, and only the scheme's default port unless the host was
allowed with its port (`127.0.0.1:8443`, as tests do). Nothing turns the check off.

The adapter is also the libraries' hook for a test `base_url`: tweepy and facebook-sdk build
their URLs on fixed hosts, so the adapter sends a request for such a host (one of the
manifest's domains) to `base_url` instead, keeping its path and query (the base itself must
pass the check); a request for any other host is checked as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from pulse.core.manifest import external_domains

DEFAULT_PORTS = {"http": 80, "https": 443}


class EgressRefused(Exception):
    """A connection to a host the manifest does not declare; refused before connecting."""


def shown(url: str) -> str:
    """`url` as a message may show it: no user info, no query or fragment (either may carry a
    secret), control characters escaped."""
    text = url if isinstance(url, str) else repr(url)
    scheme, sep, rest = text.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        authority = authority.rsplit("@", 1)[-1]
        text = f"{scheme}://{authority}{slash}{path}"
    for mark in "?#":
        if mark in text:
            text = text.split(mark, 1)[0] + mark + "…"
    return repr(text)  # repr: quoted, and every control or format character escaped


def parse_url(url: str):
    """(parts, host, port) of a URL that passes the strict reading of the module docstring
    (port None for the scheme's default); EgressRefused otherwise, in words that never repeat
    the URL's user info, query or fragment."""
    if not isinstance(url, str) or "\\" in url or any(ord(ch) < 0x21 or ord(ch) == 0x7f for ch in url):
        raise EgressRefused(f"refused {shown(url)}: not a plain URL (spaces, control characters or backslashes)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused(f"refused {shown(url)}: not a valid URL (its host or port)") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise EgressRefused(f"refused {shown(url)}: only http(s) URLs")
    if "@" in parts.netloc:
        raise EgressRefused(f"refused {shown(url)}: a URL with user info is not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise EgressRefused(f"refused {shown(url)}: no host")
    return parts, host, port


def host_allowed(host: str, port: int | None = None, scheme: str = "https", extra_hosts: Iterable[str] = ()) -> bool:
    """Whether `host` (with `port`, None for the scheme's default) may be connected to."""
    host = (host or "").lower().rstrip(".")
    if not host:
        return False
    default = port is None or port == DEFAULT_PORTS.get(scheme)
    for extra in extra_hosts:
        extra = extra.lower().rstrip(".")
        if extra == host or (port is not None and extra == f"{host}:{port}"):
            return True
    if not default:
        return False
    return any(host == domain or host.endswith("." + domain) for domain in external_domains())


def check_url(url: str, extra_hosts: Iterable[str] = ()) -> None:
    """Raise EgressRefused unless `url` may be connected to (see the module docstring)."""
    parts, host, port = parse_url(url)
    if not host_allowed(host, port, parts.scheme, extra_hosts):
        raise EgressRefused(
            f"refused to connect to {host!r}: not in plugin.json's external_domains "
            f"({', '.join(external_domains())})")


def _declared(parts) -> bool:
    """Whether a split URL names one of the manifest's own hosts on its default port."""
    try:
        return host_allowed(parts.hostname or "", parts.port, parts.scheme)
    except ValueError:  # a port that is no number: not ours (check_url refuses it)
        return False


def guarded_session(*, timeout: float, extra_hosts: Iterable[str] = (), base_url: str = ""):
    """A `requests.Session` whose every request (redirects included) passes `check_url`, with a
    timeout when the caller gives none, and no retries of its own."""
    import requests
    from requests.adapters import HTTPAdapter

    class GuardedAdapter(HTTPAdapter):
        def __init__(self):
            super().__init__(max_retries=0)  # retries are the caller's decision, never a silent resend
            self.timeout = timeout
            self.extra_hosts = tuple(extra_hosts)
            self.base_url = base_url.rstrip("/")
            if self.base_url:
                check_url(self.base_url, self.extra_hosts)

        def send(self, request, **kwargs):
            parts = urlsplit(request.url)
            if self.base_url and _declared(parts):
                # Only the library's own (declared) hosts go to the test base: a redirect
                # elsewhere is checked as it is, so a test sees it refused as production would.
                target = urlsplit(self.base_url)
                request.url = urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, ""))
            check_url(request.url, self.extra_hosts)
            # tweepy and facebook-sdk pass no timeout at all: a request must never wait for ever.
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.timeout
            return super().send(request, **kwargs)

    session = requests.Session()
    adapter = GuardedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
