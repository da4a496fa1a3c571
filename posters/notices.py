"""Notices: one Slack message to a city's leads (`[cities.SLUG] leads_slack_channel`), exactly
once per key: the weekly digest of a week, the post of an alert's breach.

The publisher's guarantees, for messages that are not posts:

1. a notice is recorded *sending* (committed, synchronous=FULL) before the API call and *sent*
   with the message's id after it; its marker travels as the message's metadata;
2. one sender at a time (a lock file), so a notice found *sending* was left by a run that died
   mid-call: the channel's history is searched for its marker (found: *sent*; not there: it
   never went out, and is sent now). Nothing is ever sent twice on a guess;
3. an answer that leaves the outcome unknown (a read timeout, a 5xx) is settled the same way
   at once. What to do after a failed send is the publisher's rule (`posters.attempts`):
   retries back off with the shared policy; a throttled answer is not an attempt.

The message is the city's Slack channel kind's (`posters.channels.slack`: its client, its
escaping, its marker lookup), pointed at the leads' channel. What the message says comes from
elsewhere (`dashboards.digest.Message` and the alerts, composed in `jobs.digests`), as a
neutral structure: `slack_content` turns it into Block Kit, escaping every piece of text.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from collections.abc import Callable

from pulse.core import locks, sqlite
from pulse.core.config import Config
from pulse.core.instants import iso, now_utc
from pulse.core.warehouse import data_folder

from posters import attempts
from posters.attempts import Next
from posters.channels import SendError, make_channel
from posters.channels.slack import SECTION_LIMIT, SlackKind, escape
from posters.store import open_posts_file

LOCK_NAME = "notices.lock"
FIELD_LIMIT = 2000
"""Characters in one field of a Block Kit section."""


class Composed(Protocol):
    """A message in no channel's format (`dashboards.digest.Message` is one): plain text only."""

    key: str
    city: str
    title: str
    facts: tuple[tuple[str, str], ...]
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    link: str
    link_text: str

    def text(self) -> str: ...


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def slack_content(message: Composed) -> dict:
    """The Block Kit payload of a message: every piece of its text escaped as Slack's mrkdwn
    needs (`posters.channels.slack.escape`), each block within Slack's limits, and the whole
    text as the notification fallback."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*{escape(message.title)}*", SECTION_LIMIT)}}]
    facts = [{"type": "mrkdwn", "text": _cut(f"*{escape(label)}*\n{escape(value)}", FIELD_LIMIT)}
             for label, value in message.facts]
    for first in range(0, len(facts), 10):  # at most 10 fields a section
        blocks.append({"type": "section", "fields": facts[first:first + 10]})
    for heading, lines in message.sections:
        body = "\n".join(f"\u2022 {escape(line)}" for line in lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _cut(f"*{escape(heading)}*\n{body}", SECTION_LIMIT)}})
    if message.link:
        # A link is <url|text>: the url is Pulse's own (configured base, quoted path), the text escaped.
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"<{message.link.replace('>', '%3E').replace('|', '%7C')}|{escape(message.link_text)}>", SECTION_LIMIT)}})
    return {"text": _cut(escape(message.text()), 4000), "blocks": blocks}


@dataclass(frozen=True)
class Outgoing:
    """One notice to send: `key` is what makes it once."""

    key: str
    city: str
    kind: str
    """digest or alert."""
    content: dict
    """The Slack payload (`slack_content`)."""

    @property
    def text(self) -> str:
        return self.content["text"]


@dataclass(frozen=True)
class Notice:
    key: str
    city: str
    kind: str
    channel: str
    state: str
    marker: str
    text: str
    content: dict
    attempts: int
    last_error: str | None
    external_id: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Notice:
        values = dict(row)
        values["content"] = json.loads(values["content"])
        return cls(**values)


@dataclass(frozen=True)
class Outcome:
    key: str
    state: str
    """sent, already sent, failed, unknown (left *sending*: the next run settles it), skipped."""
    detail: str = ""


class NoticesBusy(Exception):
    """Another process is sending notices."""


class Notices:
    """The notices and alert breaches in the posts file of a data folder (`posts.sqlite`)."""

    def __init__(self, where: Config | str | Path):
        self.path, self._con = open_posts_file(where)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Notices:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, key: str) -> Notice | None:
        row = self._con.execute("SELECT * FROM notices WHERE key = ?", [key]).fetchone()
        return Notice.from_row(row) if row else None

    def all(self) -> list[Notice]:
        return [Notice.from_row(row) for row in self._con.execute("SELECT * FROM notices ORDER BY created_at, key")]

    def record_sending(self, outgoing: Outgoing, channel: str) -> Notice:
        """Mark `outgoing` *sending* (inserting it the first time, with a new marker), committed."""
        stamp = iso(now_utc())
        with sqlite.transaction(self._con) as con:
            row = con.execute("SELECT * FROM notices WHERE key = ?", [outgoing.key]).fetchone()
            if row is None:
                con.execute(
                    "INSERT INTO notices (key, city, kind, channel, state, marker, text, content, attempts, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, 'sending', ?, ?, ?, 1, ?, ?)",
                    [outgoing.key, outgoing.city, outgoing.kind, channel, uuid.uuid4().hex, outgoing.text,
                     json.dumps(outgoing.content, ensure_ascii=False, sort_keys=True), stamp, stamp])
            else:
                con.execute("UPDATE notices SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE key = ?",
                            [stamp, outgoing.key])
            return Notice.from_row(con.execute("SELECT * FROM notices WHERE key = ?", [outgoing.key]).fetchone())

    def settle(self, key: str, state: str, *, external_id: str | None = None, error: str | None = None,
               attempts: int | None = None) -> None:
        """Record where a notice stands; `attempts`: the count corrected (a throttled try is not one)."""
        with sqlite.transaction(self._con) as con:
            con.execute("UPDATE notices SET state = ?, external_id = coalesce(?, external_id), last_error = ?,"
                        " attempts = coalesce(?, attempts), updated_at = ? WHERE key = ?",
                        [state, external_id, error, attempts, iso(now_utc()), key])

    # -- alert breaches -----------------------------------------------------------------------

    def sync_breaches(self, active: list[tuple[str, str, str]], now=None) -> list[tuple[str, str, str]]:
        """Open a breach for each (key, city, title) of `active` without an open one, clear the
        open ones not in `active`; returns the open breaches as (key, city, notice key)."""
        stamp = iso(now or now_utc())
        keys = {key for key, _, _ in active}
        with sqlite.transaction(self._con) as con:
            open_now = {row["key"] for row in con.execute("SELECT key FROM alert_breaches WHERE cleared_at IS NULL")}
            for key in open_now - keys:
                con.execute("UPDATE alert_breaches SET cleared_at = ? WHERE key = ? AND cleared_at IS NULL", [stamp, key])
            for key, city, title in active:
                if key not in open_now:
                    con.execute("INSERT INTO alert_breaches (key, opened_at, city, title, notice_key) VALUES (?, ?, ?, ?, ?)",
                                [key, stamp, city, title, f"alert:{key}:{stamp}"])
            return [(row["key"], row["city"], row["notice_key"]) for row in con.execute(
                "SELECT key, city, notice_key FROM alert_breaches WHERE cleared_at IS NULL ORDER BY opened_at, key")]

    def breaches(self) -> list[dict]:
        """Every breach, the open ones with `cleared_at` None."""
        return [dict(row) for row in self._con.execute("SELECT * FROM alert_breaches ORDER BY opened_at, key")]


def leads_channel(config: Config, city: str):
    """The Slack channel settings a city's notices go out with: its Slack channel's (token,
    base_url), pointed at `leads_slack_channel`; None when the city has none configured."""
    settings = next((c for c in config.cities if c.slug == city), None)
    if settings is None or not settings.leads_slack_channel:
        return None
    slack = settings.channel(SlackKind.name)
    return slack.model_copy(update={"channel": settings.leads_slack_channel}) if slack is not None else None


@dataclass(frozen=True)
class _Message:
    """What the Slack channel's `send`/`find_sent` read of a post: its payload and marker."""

    content: dict
    marker: str


@contextlib.contextmanager
def sender_lock(config: Config, timeout: float = 60.0):
    """One sender of notices at a time, whatever started it (the scheduler, `pulse digest`)."""
    try:
        with locks.hold(data_folder(config) / LOCK_NAME, purpose="notices", timeout=timeout,
                        busy_message=lambda holder: f"another Pulse process is sending notices ({holder})"):
            yield
    except locks.LockBusy as busy:
        raise NoticesBusy(str(busy)) from None


def send(config: Config, outgoing: list[Outgoing], *, channel_factory=make_channel,
         sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> list[Outcome]:
    """Send each notice not sent yet, exactly once (see the module's docstring)."""
    outcomes = []
    built: dict[str, object] = {}
    with sender_lock(config), Notices(config) as store:
        for notice in outgoing:
            settings = leads_channel(config, notice.city)
            if settings is None:
                outcomes.append(Outcome(notice.key, "skipped", f"cities.{notice.city}.leads_slack_channel is not set"))
                continue
            try:
                if notice.city not in built:
                    built[notice.city] = channel_factory(settings, config.publisher)
                channel = built[notice.city]
            except Exception as error:  # noqa: BLE001 - a missing token or a refused base_url: nothing was sent
                outcomes.append(Outcome(notice.key, "failed", str(error)))
                continue
            outcomes.append(_send_one(config, store, channel, settings, notice, sleep, rng or random.Random()))
    return outcomes


def _send_one(config, store: Notices, channel, settings, notice: Outgoing, sleep, rng) -> Outcome:
    where = SlackKind().where(settings)
    found = store.get(notice.key)
    if found is not None and found.state == "sent":
        return Outcome(notice.key, "already sent", found.external_id or "")
    if found is not None and found.state == "sending":
        # Left by a run that stopped mid-call (the lock says no other run is sending).
        try:
            sent = channel.find_sent(_Message(found.content, found.marker))
        except SendError as error:
            return Outcome(notice.key, "unknown", f"left sending by an interrupted run; looking it up failed: {error.message}")
        if sent is not None:
            store.settle(notice.key, "sent", external_id=sent.external_id)
            return Outcome(notice.key, "sent", f"found in {where} by its marker after an interrupted run")
    policy = config.publisher
    throttled_tries, throttled_waited = 0, 0.0
    while True:
        current = store.record_sending(notice, where)
        # Committed: from here until the next commit, a crash leaves the notice *sending*.
        message = _Message(current.content, current.marker)
        try:
            sent = channel.send(message)
        except SendError as error:
            failure = error
        except Exception as error:  # noqa: BLE001 - a bug mid-call: the outcome is unknown
            failure = SendError("unknown", f"{type(error).__name__}: {error}")
        else:
            store.settle(notice.key, "sent", external_id=sent.external_id)
            return Outcome(notice.key, "sent", sent.url)
        step = attempts.after_failure(failure, channel)
        if step is Next.THROTTLED:  # (not an attempt: it waits for the API's reset)
            throttled_tries += 1
            wait = attempts.throttled_wait(throttled_tries, throttled_waited, failure.retry_after, policy, rng)
            store.settle(notice.key, "failed", error=f"{failure.message} (throttled)", attempts=current.attempts - 1)
            if not wait.in_this_run:
                return Outcome(notice.key, "failed", f"{failure.message} (throttled); the next run tries again")
            throttled_waited += wait.seconds
            sleep(wait.seconds)
            continue
        if step is Next.FAIL:
            store.settle(notice.key, "failed", error=failure.message)
            return Outcome(notice.key, "failed", failure.message)
        if step is Next.ATTENTION:  # (not for Slack, which can look a message up: left for the next run)
            return Outcome(notice.key, "unknown", failure.message)
        if step is Next.LOOK_UP:
            try:
                sent = channel.find_sent(message)
            except SendError as lookup:
                return Outcome(notice.key, "unknown", f"{failure.message}; looking it up failed: {lookup.message}")
            if sent is not None:
                store.settle(notice.key, "sent", external_id=sent.external_id)
                return Outcome(notice.key, "sent", f"{failure.message}; found in {where} by its marker")
        wait = attempts.retry_wait(current.attempts, failure.retry_after, policy, rng)
        if wait is None or not wait.in_this_run:
            # Certainly not out: the next run tries again.
            store.settle(notice.key, "failed", error=f"{failure.message} (after {current.attempts} attempts)")
            return Outcome(notice.key, "failed", f"{failure.message}; the next run tries again")
        store.settle(notice.key, "failed", error=failure.message)
        sleep(wait.seconds)
