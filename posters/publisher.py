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

Retries: timeouts and 5xx back off exponentially with jitter, and count toward
`max_attempts` (then the post is *failed*, for `pulse posts retry ID`); auth errors, duplicates
and rejected content fail at once with the API's message. Throttling (429, Graph codes 4, 17,
32, ...) is "later", not "never": it never counts as an attempt and never fails a post; the run
waits for the API's reset time when that is short (`max_wait_seconds`), else the post and the
rest of that account's posts wait, with the reset time, for the first run after it. Each account
(a Slack token, an X user, a Facebook Page) is worked by its own thread with its own rate limit,
so one slow or failing channel holds back no other.

Every run ends by saying what waits for a person (failed posts, posts that need attention,
drafts awaiting approval), whichever run it happened in; `pulse publish` exits 1 while any post
is failed or needs attention, so cron notices.
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
from collections.abc import Callable

from pulse.core import locks
from pulse.core.config import Config, ConfigError, check_secrets
from pulse.core.egress import EgressRefused, check_url
from pulse.core.output import printable
from pulse.core.warehouse import data_folder

from posters import attempts
from posters.attempts import Next
from posters.channels import Channel, ChannelSettings, SendError, kind_of, make_channel
from posters.planner import SyncSummary, sync
from posters.store import Post, PostError, PostStore, iso, now_utc

ACTOR = "pulse (publisher)"
LOCK_NAME = "posts.lock"
NAME_CACHE_DAYS = 7
"""An account's name (X handle, Page name) is asked again after this long."""


class PublisherBusy(Exception):
    """Another `pulse publish` holds the publisher lock."""


@dataclass
class Outcome:
    post_id: int
    where: str
    state: str
    detail: str = ""
    hold_until: dt.datetime | None = None
    """Throttled past this run: the account's next post waits until then too."""


@dataclass(frozen=True)
class Waiting:
    """A post that waits for a person, whichever run left it so."""

    post_id: int
    where: str
    state: str
    what: str
    fix: str


@dataclass
class PublishReport:
    sync: SyncSummary = field(default_factory=SyncSummary)
    outcomes: list[Outcome] = field(default_factory=list)
    recovered: list[Outcome] = field(default_factory=list)
    approval_requests: int = 0
    errors: list[str] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    """Failed posts and posts that need attention, all of them (not only this run's)."""
    pending_approval: dict[str, int] = field(default_factory=dict)
    """City → drafts awaiting approval."""
    withdrawn_started: int = 0
    events: object = None
    """`pulse.core.emit.Delivery`: this run's posts' events (and any left waiting) sent to the sink."""

    def count(self, state: str) -> int:
        """Posts that ended this run in `state`, those settled after a crash included."""
        return sum(1 for o in self.outcomes + self.recovered if o.state == state)

    @property
    def needs_a_person(self) -> bool:
        """Any post failed or needs attention, or an outcome was an error: what `pulse publish` exits 1 for."""
        return bool(self.waiting) or any(o.state == "error" for o in self.outcomes + self.recovered)


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
    """One `pulse publish` run. `say` gets a line for each post as it is done, and one at the
    start of a long run (how many posts, how long the rate limits make it), from any thread."""

    def __init__(self, config: Config, *, now: Callable[[], dt.datetime] = now_utc,
                 sleep: Callable[[float], None] = time.sleep, channel_factory=make_channel,
                 rng: random.Random | None = None, say: Callable[[str], None] = lambda line: None,
                 builder: Callable[[Config], object] | None = None):
        self.config = config
        self.now = now
        self.sleep = sleep
        self.channel_factory = channel_factory
        self.rng = rng or random.Random()
        self._say = say
        self._say_lock = threading.Lock()
        self.builder = builder
        """What builds stale metrics before drafting (the CLI passes the pipeline's, which also
        publishes the dashboards' snapshot); None: analytics' own build."""
        self.limiter = RateLimiter(sleep=sleep)
        self.channels = channel_configs(config)
        self._built: dict[tuple[str, str], Channel] = {}
        self._build_lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._asked: set[str] = set()
        self._done = 0
        self._total = 0

    def say(self, line: str) -> None:
        with self._say_lock:
            self._say(line)

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
            self._load_names(store)
            report.sync = sync(self.config, store, self.now(), builder=self.builder)
            report.errors.extend(report.sync.errors)
            if dry_run:
                for post in store.find(state="publishing"):
                    report.recovered.append(Outcome(post.id, self.where(post), post.state,
                                                    "left by a run that stopped mid-call: would be settled first"))
                for post in store.due(self.now()):
                    report.outcomes.append(Outcome(post.id, self.where(post), "would publish", dry_run_text(post)))
                self._waiting(store, report)
                return report
            report.recovered = self.recover(store)
            report.withdrawn_started = self._withdraw_started(store)
            self._ask_names(store)
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
        self._total = sum(len(posts) for posts in by_account.values())
        self._done = 0
        if self._total:
            with PostStore(self.config) as store:
                for posts in by_account.values():
                    # A channel that cannot be built is the post's to report, not this line's.
                    with contextlib.suppress(Exception):
                        self._name(store, posts[0], self.channel(posts[0].city, posts[0].channel))
            self.say(self._plan_line(by_account))
        if by_account:
            with ThreadPoolExecutor(max_workers=len(by_account)) as pool:
                for outcomes in pool.map(self._work_account, by_account.values()):
                    report.outcomes.extend(outcomes)
        with PostStore(self.config) as store:
            self._waiting(store, report)
        return report

    def _plan_line(self, by_account: dict[str, list[Post]]) -> str:
        """Said before a run starts sending: "12 posts due, about 5 minutes at the channels' rate
        limits: X @a 11 (2 a minute: about 5 minutes), Slack #m 1"."""
        parts, longest = [], 0.0
        for posts in by_account.values():
            channel_config = self.channels[(posts[0].city, posts[0].channel)]
            minutes = (len(posts) - 1) / channel_config.rate
            longest = max(longest, minutes)
            rate = f"{channel_config.rate:g} a minute"
            parts.append(f"{self.where(posts[0], bare=True)} {len(posts)}"
                         + (f" ({rate}: about {_minutes(minutes)})" if minutes >= 1 else ""))
        head = f"{self._total} post{'s' if self._total != 1 else ''} due"
        if longest >= 1:
            head += f", about {_minutes(longest)} at the channels' rate limits"
        return f"{head}: " + ", ".join(parts)

    def _withdraw_started(self, store: PostStore) -> int:
        """Drafts of meetups that have started can never go out: withdrawn, so nothing waits for them."""
        stamp = iso(self.now())
        stale = [p for p in store.find(states=("pending_approval", "failed")) if p.kind != "cancel" and p.starts_at <= stamp]
        for post in stale:
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="withdraw", state="withdrawn",
                             detail="the meetup has already started", expect=("pending_approval", "failed"))
        return len(stale)

    def _waiting(self, store: PostStore, report: PublishReport) -> None:
        """What waits for a person now: every failed post and post that needs attention, and how
        many drafts await approval per city."""
        for post in store.find(states=("failed", "needs_attention")):
            where = self.where(post)
            title = (post.snapshot.get("title") or post.event_id)
            what = f"{post.kind} of “{title}”"
            if post.state == "failed":
                fix = (f"fix the cause, then `pulse posts retry {post.id}` to send it again "
                       f"(or `pulse posts reject {post.id} --reason R --as EMAIL`)")
                report.waiting.append(Waiting(post.id, where, post.state, f"{what}: {post.last_error or 'failed'}", fix))
            else:
                fix = (f"check {where}, then `pulse posts resolve {post.id} --published URL` if it is there, "
                       "else `--not-published` to send it again")
                report.waiting.append(Waiting(post.id, where, post.state,
                                              f"{what}: {post.last_error or 'it may or may not be out'}", fix))
        for post in store.find(state="pending_approval"):
            report.pending_approval[post.city] = report.pending_approval.get(post.city, 0) + 1

    # -- crash recovery -------------------------------------------------------------------

    def recover(self, store: PostStore) -> list[Outcome]:
        """Posts left *publishing* by a run that died mid-call: settle (Slack) or flag them."""
        outcomes = []
        for post in store.find(state="publishing"):
            parent = store.get(post.parent_id) if post.parent_id else None
            try:
                channel = self.channel(post.city, post.channel)
            except Exception as error:  # noqa: BLE001 - a missing secret or channel: flag it, never resend
                channel, lookup_error = None, str(error)
            else:
                lookup_error = ""
                self._name(store, post, channel)
            where = self.where(post)
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
        hold_until: dt.datetime | None = None
        with PostStore(self.config) as store:
            for post in posts:
                try:
                    if hold_until is not None:
                        outcome = self._hold(store, post, hold_until)
                    else:
                        outcome = self._publish_one(store, post)
                        hold_until = outcome.hold_until
                except Exception as error:  # noqa: BLE001 - one bad post never stops the others
                    outcome = Outcome(post.id, f"{post.channel} of {post.city}", "error",
                                      f"{type(error).__name__}: {error}")
                outcomes.append(outcome)
                with self._say_lock:
                    self._done += 1
                    self._say(f"[{self._done}/{self._total}] " + outcome_line(outcome))
        return outcomes

    def _hold(self, store: PostStore, post: Post, until: dt.datetime) -> Outcome:
        """The account is throttled past this run: the post waits (not an attempt) until then."""
        with store.transaction() as con:
            current = store.change(con, post.id, actor=ACTOR, action="wait", not_before=iso(until),
                                   detail=f"the account is throttled; not before {iso(until)}",
                                   expect=("approved", "scheduled"))
        return Outcome(post.id, self.where(current), "throttled",
                       f"the account is throttled: it goes out with the first run after {_clock(until)}")

    def _publish_one(self, store: PostStore, post: Post) -> Outcome:
        where = self.where(post)
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
        self._name(store, post, channel)
        where = self.where(post)
        waiting_state = post.state
        resent_unknown = False
        throttled_tries, throttled_waited = 0, 0.0
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

            policy = self.config.publisher
            step = attempts.after_failure(failure, channel, resent_unknown=resent_unknown)
            if step is Next.THROTTLED:
                # "Later", not "never": not an attempt, and the post waits for the API's reset.
                throttled_tries += 1
                wait = attempts.throttled_wait(throttled_tries, throttled_waited, failure.retry_after, policy, self.rng)
                not_before = self.now() + dt.timedelta(seconds=wait.seconds)
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="throttled", state=waiting_state,
                                 attempts=current.attempts - 1, not_before=iso(not_before),
                                 last_error=f"{failure.message} (throttled: it waits, this is not a failure)",
                                 detail=f"throttled; not before {iso(not_before)}; not counted as an attempt")
                self.limiter.hold(channel_config.account, wait.seconds)
                if not wait.in_this_run:
                    return Outcome(post.id, where, "throttled",
                                   f"{failure.message}: it goes out with the first run after {_clock(not_before)}",
                                   hold_until=not_before)
                throttled_waited += wait.seconds
                self.sleep(wait.seconds)
                continue
            if step is Next.FAIL:
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="fail", state="failed", last_error=failure.message)
                return Outcome(post.id, where, "failed", f"{failure.message}; then `pulse posts retry {post.id}`")
            if step is Next.ATTENTION:
                reason = (f"{failure.message}: the earlier attempt, whose answer was lost, most likely went out"
                          if failure.outcome == "permanent" else failure.message)
                return self._attention(store, post, where, reason)
            if step is Next.LOOK_UP:
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
            elif failure.outcome == "unknown":
                resent_unknown = True  # (a channel that refuses the same post twice: resending is safe)

            # Retry: it did not go out (or we know it did not, or resending is safe).
            tried = current.attempts
            wait = attempts.retry_wait(tried, failure.retry_after, policy, self.rng)
            if wait is None:
                message = f"gave up after {tried} attempts: {failure.message}"
                with store.transaction() as con:
                    store.change(con, post.id, actor=ACTOR, action="fail", state="failed", last_error=message)
                return Outcome(post.id, where, "failed", f"{message}; then `pulse posts retry {post.id}`")
            not_before = self.now() + dt.timedelta(seconds=wait.seconds)
            with store.transaction() as con:
                store.change(con, post.id, actor=ACTOR, action="retry later", state=waiting_state,
                             last_error=failure.message, not_before=iso(not_before),
                             detail=f"attempt {tried} failed; next not before {iso(not_before)}")
            if not wait.in_this_run:
                return Outcome(post.id, where, waiting_state,
                               f"{failure.message}; the first run after {_clock(not_before)} sends it")
            self.sleep(wait.seconds)

    def _attention(self, store: PostStore, post: Post, where: str, reason: str) -> Outcome:
        with store.transaction() as con:
            store.change(con, post.id, actor=ACTOR, action="unknown outcome", state="needs_attention", last_error=reason)
        return Outcome(post.id, where, "needs_attention",
                       f"{reason}; check {where}, then `pulse posts resolve {post.id} --published URL` or --not-published")

    # -- channels -------------------------------------------------------------------------

    def channel(self, city: str, kind: str) -> Channel:
        with self._build_lock:
            if (city, kind) not in self._built:
                channel_config = self.channels.get((city, kind))
                if channel_config is None:
                    raise PostError(f"cities.{city}.channels.{kind} is not configured")
                self._built[(city, kind)] = self.channel_factory(channel_config, self.config.publisher)
            return self._built[(city, kind)]

    def where(self, post: Post, *, bare: bool = False) -> str:
        """Where a post goes, by the account's own name when known ("X @pulse_syd (sydney)")."""
        channel_config = self.channels.get((post.city, post.channel))
        if channel_config is None:
            return f"{post.channel} of {post.city} (not configured)"
        shown = channel_config.channel_kind.where(channel_config, self._names.get(_name_key(channel_config)))
        if bare:
            return shown
        follow = " (follow-up)" if post.parent_id else ""
        return f"{shown} ({post.city}){follow}"

    # -- account names, asked once and kept in the posts file ------------------------------

    def _load_names(self, store: PostStore) -> None:
        cutoff = iso(self.now() - dt.timedelta(days=NAME_CACHE_DAYS))
        for channel_config in self.channels.values():
            key = _name_key(channel_config)
            asked_at, _, name = (store.meta(key) or "").partition(" ")
            if asked_at and asked_at >= cutoff:
                self._asked.add(key)
                if name:
                    self._names[key] = name

    def _ask_names(self, store: PostStore) -> None:
        """Learn the names of the accounts not asked yet (so the queue names them before any post is sent)."""
        for channel_config in self.channels.values():
            if _name_key(channel_config) in self._names or _name_key(channel_config) in self._asked:
                continue
            try:
                channel = self.channel(channel_config.city, channel_config.kind)
            except Exception:  # noqa: BLE001 - a channel that cannot be built says so when it posts
                continue
            self._name(store, channel_config, channel)

    def _name(self, store: PostStore, post_or_config, channel: Channel) -> None:
        """Ask the API once for the account's name (a failure leaves the fallback wording, and is
        not asked again for NAME_CACHE_DAYS)."""
        channel_config = (post_or_config if isinstance(post_or_config, ChannelSettings)
                          else self.channels.get((post_or_config.city, post_or_config.channel)))
        if channel_config is None:
            return
        key = _name_key(channel_config)
        if key in self._names or key in self._asked:
            return
        try:
            name = channel.account_name()
        except Exception:  # noqa: BLE001 - a name is a nicety; never a reason not to post
            name = None
        name = " ".join((name or "").split())[:80]
        self._asked.add(key)
        if name:
            self._names[key] = name
        with store.transaction() as con:
            store.set_meta(con, key, f"{iso(self.now())} {name}".rstrip())


def _name_key(channel_config: ChannelSettings) -> str:
    return f"account_name:{channel_config.key}:{channel_config.account}"


def known_where(store: PostStore, channel_config: ChannelSettings) -> str:
    """Where a channel's posts go, by the account name a publish run learnt (if one did)."""
    cached = store.meta(_name_key(channel_config)) or ""
    name = cached.partition(" ")[2] or None
    return channel_config.channel_kind.where(channel_config, name)


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f} minute{'s' if round(minutes) != 1 else ''}" if minutes < 90 else f"{minutes / 60:.1f} hours"


def _clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def outcome_line(outcome: Outcome) -> str:
    """One line for an outcome (user text escaped for a terminal)."""
    detail = f" ({outcome.detail})" if outcome.detail else ""
    return printable(f"post {outcome.post_id} -> {outcome.where}: {outcome.state}{detail}")


def _waiting_state(post: Post) -> str:
    return "approved" if post.approved_by or post.mode == "approval" or post.kind != "announce" else "scheduled"


def dry_run_text(post: Post) -> str:
    """Exactly what would be sent: the payload's fields as the API gets them."""
    return kind_of(post.channel).payload_text(post.content)
