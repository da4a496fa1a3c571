"""The platform's HTTP feed: `GET {url}/events?after={cursor}&limit={n}`, one batch per page.

The feed hands out an opaque cursor with every page; the position committed with a batch is
the cursor to ask from next, so a re-run continues after the last committed page. Each event is
passed on as compact JSON text, whatever JSON value it is: validation decides what is an event.

Retries (tenacity, with the shared policy of `pulse.core.retry`): 5xx, 429, timeouts and
dropped connections are tried again after a backoff or the `Retry-After` the feed asked for;
a refused token or another 4xx fails at once. The token never appears in a message, a URL or
the source's repr, and the client may only connect to the configured feed's host (its
redirects included).
"""

from __future__ import annotations

import http
import json
import logging
import random as _random
import time
from typing import Any
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import tenacity
from pydantic import Field, field_validator

from pulse.core import registry
from pulse.core.config import secret
from pulse.core.egress import EgressRefused, guarded_session, parse_url
from pulse.core.retry import Backoff, RetryAfterOrBackoff, retry_after_seconds

from jobs.ingest.sources.base import Batch, SourceError, SourceKind, SourceSettings

log = logging.getLogger(__name__)

BACKOFF = Backoff(base=0.5, cap=60.0, jitter=0.25)
RETRY_AFTER_CAP_SECONDS = 300.0
BODY_EXCERPT_CHARS = 200
_NO_SECRETS = ("the URL must not carry credentials, a query or a fragment; put the token in the environment "
               "variable named by token_env")


class FeedSettings(SourceSettings):
    """`[sources.NAME] kind = "feed"`."""

    what = "a feed source"
    url: str
    """The feed's base URL; pages are read from `{url}/events`."""
    token_env: str
    """Environment variable holding the bearer token."""
    page_size: int = Field(1000, ge=1)
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(6, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The egress check's own strict reading (user info, backslashes, a bad port refused);
        # no message repeats a secret the URL may carry.
        try:
            parts, _, _ = parse_url(value)
        except EgressRefused as refused:
            if "@" in value or "?" in value or "#" in value:
                raise ValueError(_NO_SECRETS) from None
            # Its words, not the URL: a mistyped `https://reader:TOKEN/` would show the token as a port.
            reason = str(refused).rsplit(": ", 1)[-1]
            raise ValueError(f"expected an http:// or https:// URL with a host ({reason})") from None
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError(_NO_SECRETS)
        return value


class FeedKind(SourceKind):
    name = "feed"
    settings = FeedSettings

    def make(self, settings, config):
        return FeedSource.from_config(settings)

    def describe_position(self, position) -> str:
        return f"cursor {position.get('cursor')!r}"

    def hosts(self, settings) -> list[str]:
        return [_netloc(settings.url)]


@registry.hookimpl
def pulse_source_kinds():
    return [FeedKind()]


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


class _BearerAuth:
    """Sets the bearer header as requests' `auth`, so a ~/.netrc entry for the host cannot replace it
    (requests only consults netrc when no auth is given) and a redirect to another host drops it."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token>"


class _Transient(Exception):
    """An attempt that may succeed when tried again; `retry_after` when the feed said when."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FeedSource:
    kind = "feed"

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        *,
        token_env: str = "",
        page_size: int = 1000,
        timeout_seconds: float = 30.0,
        max_retries: int = 6,
        session=None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ):
        self.name = name
        self.url = url.rstrip("/") + "/events"
        self._token = token
        self.token_env = token_env
        self.page_size = page_size
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self._session = session
        self._sleep = sleep
        self._backoff = Backoff(BACKOFF.base, BACKOFF.cap, BACKOFF.jitter, random)

    @classmethod
    def from_config(cls, settings: FeedSettings, **overrides) -> FeedSource:
        token = secret(settings.token_env, f"sources.{settings.name}.token_env")
        return cls(
            settings.name, settings.url, token,
            token_env=settings.token_env,
            page_size=settings.page_size,
            timeout_seconds=settings.timeout_seconds,
            max_retries=settings.max_retries,
            **overrides,
        )

    def __repr__(self) -> str:
        return f"FeedSource({self.name!r}, {self.url!r})"

    def batches(self, position: Any | None) -> Iterator[Batch]:
        if position is not None and not isinstance(position, dict):
            raise SourceError(f"feed {self.name}: stored position {position!r} is not a {{\"cursor\": ...}} object")
        cursor = (position or {}).get("cursor") or None
        session = self._session or guarded_session(timeout=self.timeout_seconds, extra_hosts=[_netloc(self.url)])
        records = 0
        try:
            while True:
                body = self._get_page(session, cursor)
                events, next_cursor = self._parse_page(body, cursor)
                if not events:
                    return
                after_used = cursor or ""
                records += len(events)
                yield Batch(
                    locations=[f"feed:{after_used}#{i}" for i in range(len(events))],
                    raws=[json.dumps(event, ensure_ascii=False, separators=(",", ":")) for event in events],
                    position={"cursor": next_cursor},
                    progress=(records, None),
                )
                cursor = next_cursor
        finally:
            if self._session is None:
                session.close()

    # -- one page, with retries -------------------------------------------------------------

    def _get_page(self, session, cursor: str | None) -> bytes:
        import requests

        params = {"limit": str(self.page_size)}
        if cursor is not None:
            params = {"after": cursor, **params}
        shown_url = requests.Request("GET", self.url, params=params).prepare().url

        def attempt() -> bytes:
            try:
                response = session.get(self.url, params=params, auth=_BearerAuth(self._token),
                                       headers={"Accept": "application/json"}, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # Transient: the server was slow, unreachable or dropped the connection mid-body.
                raise _Transient(f"{type(exc).__name__}: {exc}") from None
            except EgressRefused as exc:
                raise SourceError(f"feed {self.name}: {exc}") from None
            except requests.RequestException as exc:
                raise SourceError(self._redact(
                    f"feed {self.name}: GET {shown_url} failed: {type(exc).__name__}: {exc}")) from None
            status = response.status_code
            if status == 200:
                return response.content
            if status in (401, 403):
                where = f"${self.token_env}" if self.token_env else "the source's token_env"
                raise SourceError(f"feed {self.name} refused the token ({status} {_phrase(status)}); check the token in {where}")
            if status == 429:
                raise _Transient(f"{status} {_phrase(status)}", retry_after_seconds(
                    response.headers.get("Retry-After"), cap=RETRY_AFTER_CAP_SECONDS))
            if status >= 500:
                raise _Transient(f"{status} {_phrase(status)}: {self._excerpt(response)}")
            raise SourceError(
                f"feed {self.name}: GET {shown_url} answered {status} {_phrase(status)}: {self._excerpt(response)}")

        def before_sleep(state: tenacity.RetryCallState) -> None:
            log.warning(self._redact(
                f"feed {self.name}: {_one_line(str(state.outcome.exception()))}; retry {state.attempt_number} "
                f"of {self.max_retries} in {state.upcoming_sleep:.1f} s"))

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=RetryAfterOrBackoff(self._backoff),
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self._sleep, before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except _Transient as failure:
            raise SourceError(self._redact(
                f"feed {self.name}: GET {shown_url} failed after {self.max_retries + 1} attempts: "
                f"{_one_line(str(failure))}")) from None

    def _excerpt(self, response) -> str:
        text = response.content[:BODY_EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:BODY_EXCERPT_CHARS]
        return self._redact(_one_line(text)) or "(empty body)"

    def _redact(self, text: str) -> str:
        # A server may echo the request (headers included) in an error body.
        return text.replace(self._token, "***") if self._token else text

    # -- the page's body ----------------------------------------------------------------------

    def _parse_page(self, body: bytes, cursor: str | None) -> tuple[list, str | None]:
        def wrong(what: str) -> SourceError:
            return SourceError(f"feed {self.name}: page after cursor {cursor or '(start)'!r} {what}")

        try:
            page = json.loads(body, object_pairs_hook=_first_key_wins)
        except ValueError as exc:  # includes bad UTF-8
            raise wrong(f"is not JSON ({_one_line(str(exc))})") from None
        if not isinstance(page, dict):
            raise wrong(f"is a JSON {type(page).__name__}, not an object with `events` and `next_cursor`")
        events = page.get("events")
        if not isinstance(events, list):
            raise wrong("has no `events` list")
        if not events:
            return [], None
        next_cursor = page.get("next_cursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            raise wrong("has events but no string `next_cursor`")
        if next_cursor == cursor:
            # Asking again from the same cursor would return the same page forever.
            raise wrong(f"has events but `next_cursor` did not advance from {cursor!r}")
        return events, next_cursor


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict:
    # Keep the first of duplicate keys, as DuckDB's JSON reader does for file records.
    obj: dict = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


def _phrase(status: int) -> str:
    # The standard phrase, not the server's: it is ours to word the message.
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _one_line(text: str) -> str:
    return " ".join(text.split())
