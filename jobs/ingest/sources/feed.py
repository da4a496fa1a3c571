"""The platform's HTTP feed: `GET {url}/events?after={cursor}&limit={n}`, one batch per page.

The feed hands out an opaque cursor with every page; the position committed with a batch is
the cursor to ask from next, so a re-run continues after the last committed page. Each event is
passed on as compact JSON text, whatever JSON value it is: validation decides what is an event.
"""

from __future__ import annotations

import email.utils
import http
import json
import logging
import random as _random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import requests

from jobs.ingest.sources.base import Batch, SourceError
from pulse.config import SourceConfig, secret

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 300.0
BODY_EXCERPT_CHARS = 200


class _BearerAuth(requests.auth.AuthBase):
    """Sets the bearer header as requests' `auth`, so a ~/.netrc entry for the host cannot replace it
    (requests only consults netrc when no auth is given) and a redirect to another host drops it."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token>"


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
        session: requests.Session | None = None,
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
        self._random = random

    @classmethod
    def from_config(cls, source_config: SourceConfig, **overrides) -> FeedSource:
        cfg = source_config
        token = secret(cfg.token_env, f"sources.{cfg.name}.token_env")
        return cls(
            cfg.name, cfg.url, token,
            token_env=cfg.token_env,
            page_size=cfg.page_size,
            timeout_seconds=cfg.timeout_seconds,
            max_retries=cfg.max_retries,
            **overrides,
        )

    def __repr__(self) -> str:
        return f"FeedSource({self.name!r}, {self.url!r})"

    def batches(self, position: Any | None) -> Iterator[Batch]:
        if position is not None and not isinstance(position, dict):
            raise SourceError(f"feed {self.name}: stored position {position!r} is not a {{\"cursor\": ...}} object")
        cursor = (position or {}).get("cursor") or None
        session = self._session or requests.Session()
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

    def _get_page(self, session: requests.Session, cursor: str | None) -> bytes:
        params = {"limit": str(self.page_size)}
        if cursor is not None:
            params = {"after": cursor, **params}
        shown_url = requests.Request("GET", self.url, params=params).prepare().url
        retries = 0
        while True:
            wait = None
            try:
                response = session.get(
                    self.url,
                    params=params,
                    auth=_BearerAuth(self._token),
                    headers={"Accept": "application/json"},
                    timeout=self.timeout_seconds,
                )
                status = response.status_code
                if status == 200:
                    return response.content
                if status in (401, 403):
                    where = f"${self.token_env}" if self.token_env else "the source's token_env"
                    raise SourceError(
                        f"feed {self.name} refused the token ({status} {_phrase(status)}); check the token in {where}"
                    )
                if status == 429:
                    wait = _retry_after_seconds(response.headers.get("Retry-After"))
                    error = f"{status} {_phrase(status)}"
                elif status >= 500:
                    error = f"{status} {_phrase(status)}: {self._excerpt(response)}"
                else:
                    raise SourceError(
                        f"feed {self.name}: GET {shown_url} answered {status} {_phrase(status)}: {self._excerpt(response)}"
                    )
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # Transient: the server was slow, unreachable or dropped the connection mid-body.
                error = f"{type(exc).__name__}: {exc}"
            except requests.RequestException as exc:
                raise SourceError(self._redact(f"feed {self.name}: GET {shown_url} failed: {type(exc).__name__}: {exc}")) from None
            if retries >= self.max_retries:
                raise SourceError(self._redact(
                    f"feed {self.name}: GET {shown_url} failed after {retries + 1} attempts: {_one_line(error)}"
                ))
            if wait is None:
                wait = self._backoff(retries)
            retries += 1
            log.warning(self._redact(
                f"feed {self.name}: {_one_line(error)}; retry {retries} of {self.max_retries} in {wait:.1f} s"
            ))
            self._sleep(wait)

    def _backoff(self, retries_so_far: int) -> float:
        # Jitter spreads out clients that failed together, so they do not retry together.
        backoff = BACKOFF_BASE_SECONDS * 2 ** retries_so_far
        return min(BACKOFF_CAP_SECONDS, backoff * (1 + 0.25 * self._random()))

    def _excerpt(self, response: requests.Response) -> str:
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


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait per a Retry-After header (delta-seconds or HTTP-date), or None to back off."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return min(seconds, RETRY_AFTER_CAP_SECONDS)


def _phrase(status: int) -> str:
    # The standard phrase, not the server's: it is ours to word the message.
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _one_line(text: str) -> str:
    return " ".join(text.split())
