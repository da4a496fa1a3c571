"""How long to wait before trying a remote call again: one policy for the feed and the publisher.

- Exponential backoff with jitter: attempt n (1-based) waits `base * 2**(n-1)`, stretched by up
  to `jitter` (a fraction) at random so that clients that failed together do not retry together,
  and never more than `cap`.
- When the server said how long (`Retry-After` in seconds or as an HTTP-date, or an API's reset
  time), that is the wait instead, bounded by `retry_after_cap`.

`RetryAfterOrBackoff` plugs the policy into tenacity (the feed's retry loop); the publisher and
the notices, whose retries span runs (a post waits in its store until `not_before`), ask
`Backoff.after` through `posters.attempts`, their rule for what follows a failed send.
"""

from __future__ import annotations

import email.utils
import random as _random
from dataclasses import dataclass, field
from datetime import datetime, UTC
from collections.abc import Callable, Mapping

import tenacity


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 60.0
    jitter: float = 0.25
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first failure)."""
        return min(self.cap, self.base * 2 ** (attempt - 1) * (1 + self.jitter * self.random()))

    def after(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt`: what the server asked for
        (`retry_after`, bounded where it was read) when it said, else the backoff."""
        return retry_after if retry_after is not None else self.wait(attempt)


def retry_after_seconds(value: str | None, *, cap: float = 300.0, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or HTTP-date), at most `cap`;
    None when absent or unreadable (then back off instead)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return min(seconds, cap)


def retry_after_header(headers: Mapping[str, str] | None, *, cap: float = 300.0) -> float | None:
    """`retry_after_seconds` of a response's headers (any capitalisation of the name)."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            return retry_after_seconds(value, cap=cap)
    return None


class RetryAfterOrBackoff(tenacity.wait.wait_base):
    """tenacity wait: the failed attempt's `retry_after` (an attribute of its exception) when it
    has one, else the backoff for that attempt."""

    def __init__(self, backoff: Backoff):
        self.backoff = backoff

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return self.backoff.after(retry_state.attempt_number, getattr(error, "retry_after", None))
