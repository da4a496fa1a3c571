"""What to do when a send fails: the one rule posts (`posters.publisher`) and notices
(`posters.notices`) both follow, each keeping its own record of where a message stands.

Pure: it reads the failure (`SendError`), what the channel can do, the tries so far and
`[publisher]`'s limits, and says what comes next; the caller records it, looks the message up,
sleeps or stops.

- It will not go out by trying again (auth, rejected content): `FAIL`; but a duplicate refusal
  after a resend of a message whose first answer was lost means the first one went out:
  `ATTENTION`.
- It may be out (a read timeout, a connection cut after sending): `LOOK_UP` when the channel
  can tell (`find_sent`; not found, it is certainly not out: retry); `RETRY` when the API refuses
  the same message twice (`retry_unknown`), so a resend is safe; else `ATTENTION`: never sent
  again on a guess.
- Throttled (429 and the like) is "later", not "never": `THROTTLED`, which is not an attempt
  (`throttled_wait`).
- Else it certainly did not go out: `RETRY`, an attempt (`retry_wait`).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pulse.core.retry import Backoff

if TYPE_CHECKING:
    from posters.channels import Channel, SendError
    from posters.settings import PublisherSettings

THROTTLED_TRIES_PER_RUN = 3
"""Tries of one message a run makes while throttled without being told until when."""


class Next(enum.Enum):
    FAIL = "fail"
    ATTENTION = "attention"
    LOOK_UP = "look up"
    THROTTLED = "throttled"
    RETRY = "retry"


def after_failure(failure: SendError, channel: Channel, *, resent_unknown: bool = False) -> Next:
    """What to do after `failure`; `resent_unknown`: an earlier try of this message in this run
    had an unknown outcome and was sent again (the channel `retry_unknown`s)."""
    if failure.throttled:
        return Next.THROTTLED
    if failure.outcome == "permanent":
        return Next.ATTENTION if failure.duplicate and resent_unknown else Next.FAIL
    if failure.outcome == "unknown":
        if channel.can_look_up:
            return Next.LOOK_UP
        return Next.RETRY if channel.retry_unknown else Next.ATTENTION
    return Next.RETRY


@dataclass(frozen=True)
class Wait:
    seconds: float
    """Until the next try."""
    in_this_run: bool
    """Whether this run waits for it (sleeps, then tries again); else a later run tries."""


def backoff(policy: PublisherSettings, rng: random.Random) -> Backoff:
    """The shared retry policy (`pulse.core.retry`) with `[publisher]`'s base and cap."""
    return Backoff(policy.backoff_base_seconds, policy.backoff_max_seconds, random=rng.random)


def retry_wait(attempts: int, retry_after: float | None, policy: PublisherSettings,
               rng: random.Random) -> Wait | None:
    """After `attempts` failed attempts of a message: None when that is `max_attempts` (give
    up); else the wait (what the API asked for, or the backoff), waited in this run when it is
    no longer than `max_wait_seconds`."""
    if attempts >= policy.max_attempts:
        return None
    seconds = backoff(policy, rng).after(attempts, retry_after)
    return Wait(seconds, seconds <= policy.max_wait_seconds)


def throttled_wait(tries: int, waited: float, retry_after: float | None, policy: PublisherSettings,
                   rng: random.Random) -> Wait:
    """After the `tries`-th throttled answer in this run, having waited `waited` seconds for the
    earlier ones: the wait, waited in this run while all of them stay within `max_wait_seconds`
    and, when the API does not say until when, for THROTTLED_TRIES_PER_RUN tries at most."""
    seconds = backoff(policy, rng).after(tries, retry_after)
    in_this_run = (waited + seconds <= policy.max_wait_seconds
                   and not (retry_after is None and tries >= THROTTLED_TRIES_PER_RUN))
    return Wait(seconds, in_this_run)
