"""`pulse publish`: send the posts that are due, each exactly once.

Exactly once, across crashes:

1. a post is marked *publishing* in a committed transaction (synchronous=FULL) before the API
   call, and *published* with its external id after it;
2. one publisher at a time (a lock file), so a post found *publishing* when a run starts was
   left by a run that died mid-call: its outcome is unknown and it is never sent again
   automatically. Slack posts carry a marker and are looked up in the channel (found: published;
   not there: back in the queue); the others become *needs_attention* for
   `pulse posts resolve ID --published URL | --not-published`;
3. an answer that leaves the outcome unknown (a read timeout, a connection cut after sending, a
   Slack 5xx) is treated the same way, except on X, whose duplicate-content check makes a
   resend safe (a duplicate refusal then means the first one went out: needs attention).

Retries: timeouts, 5xx and 429 back off exponentially with jitter (or as long as the API's
Retry-After / rate-limit reset says); auth errors, duplicates and rejected content fail at once
with the API's message. Each account (a Slack token, an X user, a Facebook Page) is worked by
its own thread with its own rate limit, so one slow or failing channel holds back no other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from pulse.core import locks
from pulse.core.config import Config, ConfigError, check_secrets
from pulse.core.egress import EgressRefused, check_url
from pulse.core.retry import Backoff
from pulse.core.warehouse import data_folder

from posters.channels import Channel, ChannelSettings, SendError, kind_of, make_channel
from posters.planner import SyncSummary, sync
from posters.store import Post, PostError, PostStore, iso, now_utc

ACTOR = "pulse (publisher)"
LOCK_NAME = "posts.lock"


class PublisherBusy(Exception):
    """Another `pulse publish` holds the publisher lock."""


@dataclass
class Outcome:
    post_id: int
    where: str
    state: str
    detail: str = ""


@dataclass
class PublishReport:
    sync: SyncSummary = field(default_factory=SyncSummary)
    outcomes: list[Outcome] = field(default_factory=list)
    recovered: list[Outcome] = field(default_factory=list)
    approval_requests: int = 0
    errors: list[str] = field(default_factory=list)
    events: object = None
    """`pulse.core.emit.Delivery`: this run's posts' events (and any left waiting) sent to the sink."""

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


class RateLimiter:
    """At most `rate` posts a minute per account, evenly spaced (a burst never goes out at once)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, account: str, rate_per_minute: float) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(account, now))
            self._next[account] = start + 60.0 / rate_per_minute
        if start > now:
            self._sleep(start - now)

    def hold(self, account: str, seconds: float) -> None:
        """Nothing more for this account for `seconds` (the API said it is throttled)."""
        with self._lock:
            self._next[account] = max(self._next.get(account, 0.0), self._clock() + seconds)


@contextlib.contextmanager
def publisher_lock(config: Config):
    """One publisher at a time, whatever started it (cron, the scheduler, a person)."""
    try:
        with locks.hold(data_folder(config) / LOCK_NAME, purpose="publish",
                        busy_message=lambda holder: f"another `pulse publish` is running ({holder}); "
                                                    "posts are sent by one publisher at a time"):
            yield
    except locks.LockBusy as busy:
        raise PublisherBusy(str(busy)) from None


def check_egress(config: Config) -> None:
    """Fail at start when a channel's test `base_url` points at a host outside the allowlist."""
    for channel in channel_configs(config).values():
        if channel.base_url:
            try:
                check_url(channel.base_url, config.publisher.allow_hosts_for_tests)
            except EgressRefused as error:
                raise ConfigError(f"{channel.key}.base_url: {error}; leave base_url out outside tests, or list "
                                  "the test host in publisher.allow_hosts_for_tests") from None


def channel_configs(config: Config) -> dict[tuple[str, str], ChannelSettings]:
    return {(c.city, c.kind): c for city in config.cities for c in city.channels}


class Publisher:
    def __init__(self, config: Config, *, now: Callable[[], dt.datetime] = now_utc,
                 sleep: Callable[[float], None] = time.sleep, channel_factory=make_channel,
                 rng: random.Random | None = None, say: Callable[[str], None] = lambda line: None,
                 builder: Callable[[Config], object] | None = None):
        self.config = config
        self.now = now
        self.sleep = sleep
        self.channel_factory = channel_factory
        self.rng = rng or random.Random()
        self.say = say
        self.builder = builder
        """What builds stale metrics before drafting (the CLI passes the pipeline's, which also
        publishes the dashboards' snapshot); None: analytics' own build."""
        self.limiter = RateLimiter(sleep=sleep)
        self.channels = channel_configs(config)
        self._built: dict[tuple[str, str], Channel] = {}
        self._build_lock = threading.Lock()

    # -- the run --------------------------------------------------------------------------

    def run(self, *, dry_run: bool = False, send_approval_requests: bool = True) -> PublishReport:
        check_egress(self.config)
        if not dry_run:
            check_secrets(self.config, only="cities")
        # The lock is held for the whole run: a second publisher must never take this run's
        # *publishing* posts for ones left by a crash.
        with publisher_lock(self.config):
            report = self._run(dry_run, send_approval_requests)
        if not dry_run:
            with PostStore(self.config) as store:
                report.events = store.deliver_events(self.config)
            if report.events.sent or report.events.problem:
                self.say(report.events.line())
        return report

    def _run(self, dry_run: bool, send_approval_requests: bool) -> PublishReport:
        report = PublishReport()
        with PostStore(self.config) as store:
            report.sync = sync(self.config, store, self.now(), builder=self.builder)
            report.errors.extend(report.sync.errors)
            if dry_run:
                for post in store.find(state="publishing"):
                    report.recovered.append(Outcome(post.id, self.where(post), post.state,
                                                    "left by a run that stopped mid-call: would be settled first"))
                for post in store.due(self.now()):
                    report.outcomes.append(Outcome(post.id, self.where(post), "would publish", dry_run_text(post)))
                return report
            report.recovered = self.recover(store)
            if send_approval_requests:
                from posters.slack_approvals import send_approval_requests as send_requests
                report.approval_requests, errors = send_requests(self.config, store, self.channel)
                report.errors.extend(errors)
            due = store.due(self.now())
        by_account: dict[str, list[Post]] = defaultdict(list)
        for post in due:
            channel_config = self.channels.get((post.city, post.channel))
            if channel_config is None:
                report.outcomes.append(Outcome(post.id, f"{post.channel} of {post.city}", post.state,
                                               "channel no longer configured: left as it is"))
                continue
            by_account[channel_config.account].append(post)
        if by_account:
            with ThreadPoolExecutor(max_workers=len(by_account)) as pool:
                for outcomes in pool.map(self._work_account, by_account.values()):
                    report.outcomes.extend(outcomes)
        return report

    # -- crash recovery -------------------------------------------------------------------

    def recover(self, store: PostStore) -> list[Outcome]:
        """Posts left *publishing* by a run that died mid-call: settle (Slack) or flag them."""
        outcomes = []
        for post in store.find(state="publishing"):
            parent = store.get(post.parent_id) if post.parent_id else None
            where = self.where(post, store)
            try:
                channel = self.channel(post.city, post.channel)
            except Exception as error:  # noqa: BLE001 - a missing secret or channel: flag it, never resend
                channel, lookup_error = None, str(error)
            else:
                lookup_error = ""
            if channel is not None and channel.can_look_up:
                try:
                    found = channel.find_sent(post, parent)
                except SendError as error:
                    lookup_error = error.message
                else:
                    with store.transaction() as con:
                        if found is not None:
                            store.change(con, post.id, actor=ACTOR, action="settle", state="published",
                                         external_id=found.external_id, external_url=found.url, last_error=None,
                                         detail="found in the channel by its marker after an interrupted run")
                            outcomes.append(Outcome(post.id, where, "published", "found by its marker"))
                        else:
                            store.change(con, post.id, actor=ACTOR, action="settle", state=_waiting_state(post),
                                         detail="not in the channel after an interrupted run: queued again")
                            outcomes.append(Outcome(post.id, where, _waiting_state(post), "not in the channel: queued again"))
                    continue
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="interrupted", state="needs_attention",
                             last_error="a publish run stopped during the call; it may or may not be out",
                             detail=lookup_error or None)
            outcomes.append(Outcome(post.id, where, "needs_attention",
                                    f"check {where}, then `pulse posts resolve {post.id} --published URL` or --not-published"))
        return outcomes

    # -- one account's posts, in order ---------------------------------------------------

    def _work_account(self, posts: list[Post]) -> list[Outcome]:
        outcomes = []
        with PostStore(self.config) as store:
            for post in posts:
                try:
                    outcomes.append(self._publish_one(store, post))
                except Exception as error:  # noqa: BLE001 - one bad post never stops the others
                    outcomes.append(Outcome(post.id, f"{post.channel} of {post.city}", "error",
                                            f"{type(error).__name__}: {error}"))
        return outcomes

    def _publish_one(self, store: PostStore, post: Post) -> Outcome:
        where = self.where(post, store)
        if post.kind != "cancel" and post.starts_at <= iso(self.now()):
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="withdraw", state="withdrawn",
                             detail="the meetup has already started", expect=("approved", "scheduled"))
            return Outcome(post.id, where, "withdrawn", "the meetup has already started")
        parent = store.get(post.parent_id) if post.parent_id else None
        if parent is not None and parent.state != "published":
            return Outcome(post.id, where, post.state, f"waits until post {parent.id} ({parent.state}) is published")
        channel_config = self.channels[(post.city, post.channel)]
        try:
            channel = self.channel(post.city, post.channel)
        except Exception as error:  # noqa: BLE001 - e.g. the egress check refused its base_url
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="fail", state="failed", last_error=str(error),
                             expect=("approved", "scheduled"))
            return Outcome(post.id, where, "failed", str(error))
        waiting_state = post.state
        unknown_before = False
        while True:
            self.limiter.wait(channel_config.account, channel_config.rate)
            with store.transaction() as con:
                current = store.get(post.id)
                if current.state not in ("approved", "scheduled"):
                    return Outcome(post.id, where, current.state, "changed by someone else meanwhile")
                current = store.change(con, post.id, actor=ACTOR, action="publish", state="publishing",
                                       publishing_since=iso(self.now()), attempts=current.attempts + 1)
            # Committed: from here until the next commit, a crash leaves the post *publishing*.
            try:
                sent = channel.send(current, parent)
            except SendError as error:
                failure = error
            except Exception as error:  # noqa: BLE001 - a bug mid-call: the outcome is unknown
                failure = SendError("unknown", f"{type(error).__name__}: {error}")
            else:
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="published", state="published",
                                 external_id=sent.external_id, external_url=sent.url, last_error=None,
                                 not_before=None)
                return Outcome(post.id, where, "published", sent.url)

            if failure.outcome == "permanent":
                if failure.duplicate and unknown_before:
                    return self._attention(store, post, where, f"{failure.message}: the earlier attempt, whose answer "
                                                               "was lost, most likely went out")
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="fail", state="failed", last_error=failure.message)
                return Outcome(post.id, where, "failed", failure.message)

            if failure.outcome == "unknown":
                if channel.can_look_up:
                    try:
                        found = channel.find_sent(current, parent)
                    except SendError as lookup:
                        return self._attention(store, post, where, f"{failure.message}; looking it up failed: {lookup.message}")
                    if found is not None:
                        with store.transaction() as con:
                            store.change(con, post.id, actor=ACTOR, action="published", state="published",
                                         external_id=found.external_id, external_url=found.url, last_error=None,
                                         detail=f"{failure.message}; found in the channel by its marker")
                        return Outcome(post.id, where, "published", found.url)
                elif channel.retry_unknown:
                    unknown_before = True
                else:
                    return self._attention(store, post, where, failure.message)

            # Retry: it did not go out (or we know it did not).
            attempts = current.attempts
            if attempts >= self.config.publisher.max_attempts:
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="fail", state="failed",
                                 last_error=f"gave up after {attempts} attempts: {failure.message}")
                return Outcome(post.id, where, "failed", f"gave up after {attempts} attempts: {failure.message}")
            wait = failure.retry_after if failure.retry_after is not None else self.backoff(attempts)
            not_before = self.now() + dt.timedelta(seconds=wait)
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="retry later", state=waiting_state,
                             last_error=failure.message, not_before=iso(not_before),
                             detail=f"attempt {attempts} failed; next not before {iso(not_before)}")
            if failure.retry_after is not None:
                self.limiter.hold(channel_config.account, wait)
            if wait > self.config.publisher.max_wait_seconds:
                return Outcome(post.id, where, waiting_state, f"{failure.message}; throttled for {wait:.0f} s: the next run sends it")
            self.sleep(wait)

    def _attention(self, store: PostStore, post: Post, where: str, reason: str) -> Outcome:
        with store.transaction() as con:
            store.change(con, post.id, actor=ACTOR, action="unknown outcome", state="needs_attention", last_error=reason)
        return Outcome(post.id, where, "needs_attention",
                       f"{reason}; check {where}, then `pulse posts resolve {post.id} --published URL` or --not-published")

    def backoff(self, attempt: int) -> float:
        """The shared retry policy (`pulse.core.retry.Backoff`) with `[publisher]`'s base and cap."""
        p = self.config.publisher
        return Backoff(p.backoff_base_seconds, p.backoff_max_seconds, random=self.rng.random).wait(attempt)

    # -- channels -------------------------------------------------------------------------

    def channel(self, city: str, kind: str) -> Channel:
        with self._build_lock:
            if (city, kind) not in self._built:
                channel_config = self.channels.get((city, kind))
                if channel_config is None:
                    raise PostError(f"cities.{city}.channels.{kind} is not configured")
                self._built[(city, kind)] = self.channel_factory(channel_config, self.config.publisher)
            return self._built[(city, kind)]

    def where(self, post: Post, store: PostStore | None = None) -> str:
        channel_config = self.channels.get((post.city, post.channel))
        if channel_config is None:
            return f"{post.channel} of {post.city} (not configured)"
        follow = " (follow-up)" if post.parent_id else ""
        return f"{channel_config.channel_kind.where(channel_config)} ({post.city}){follow}"


def _waiting_state(post: Post) -> str:
    return "approved" if post.approved_by or post.mode == "approval" or post.kind != "announce" else "scheduled"


def dry_run_text(post: Post) -> str:
    """Exactly what would be sent: the payload's fields as the API gets them."""
    return kind_of(post.channel).payload_text(post.content)
