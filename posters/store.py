"""Posts, their states and the audit log, in `<data_dir>/posts.sqlite`.

SQLite rather than DuckDB: posts must change state while `pulse ingest`/`pulse build` hold the
warehouse's single writer lock and while `pulse serve` takes approvals. In WAL mode any number
of processes read and one writes for milliseconds at a time; every change here is one
`BEGIN IMMEDIATE` transaction, so two approvers (or an approver and the publisher) never both
act on the same old state. `synchronous = FULL`: a post marked *publishing* is on disk before
its API call starts, which is what makes "never twice" survive a crash.

Every state or text change writes an `audit` row in the same transaction (who, when, action,
old and new state, old and new text). A post becoming published or failed also records its
event for the platform (`pulse.core.emit`, when `[events]` names a sink) in that transaction:
the change and its event commit together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pulse.core import emit, sqlite
from pulse.core.config import Config
from pulse.core.instants import iso, now_utc, parse_iso
from pulse.core.storage import ensure_folder
from pulse.core.warehouse import data_folder
from pulse.web import scope

__all__ = ["STATES", "WAITING", "SENT_OR_MAYBE", "Post", "PostError", "PostStore", "iso", "now_utc", "parse_iso"]

FILE_NAME = "posts.sqlite"

STATES = ("pending_approval", "approved", "scheduled", "publishing", "published", "failed", "rejected",
          "withdrawn", "needs_attention")
WAITING = ("pending_approval", "approved", "scheduled", "failed")
"""Not (yet) sent: a cancellation withdraws these, a change re-renders them."""
SENT_OR_MAYBE = ("publishing", "published", "needs_attention")
"""Possibly on the channel already: a change or a cancellation needs a follow-up post."""

# Which state may follow which (the publisher, approvers, sync and `resolve` all go through `transition`).
TRANSITIONS = {
    "pending_approval": {"pending_approval", "approved", "rejected", "withdrawn"},
    "approved": {"approved", "pending_approval", "publishing", "failed", "rejected", "withdrawn"},
    "scheduled": {"scheduled", "publishing", "failed", "rejected", "withdrawn"},
    "publishing": {"published", "failed", "needs_attention", "approved", "scheduled"},
    "failed": {"approved", "scheduled", "pending_approval", "rejected", "withdrawn"},
    "needs_attention": {"published", "approved", "scheduled"},
    "published": set(),
    "rejected": set(),
    "withdrawn": set(),
}

class PostError(Exception):
    """A request about a post that cannot be done (unknown id, wrong state), in one line."""


@dataclass(frozen=True)
class Post:
    id: int
    city: str
    event_id: str
    channel: str
    kind: str
    parent_id: int | None
    mode: str
    state: str
    text: str
    content: dict
    snapshot: dict
    edited_by: str | None
    starts_at: str
    due_at: str
    not_before: str | None
    marker: str
    attempts: int
    last_error: str | None
    external_id: str | None
    external_url: str | None
    approved_by: str | None
    approved_at: str | None
    rejected_by: str | None
    reject_reason: str | None
    approval_request: str | None
    publishing_since: str | None
    created_at: str
    updated_at: str
    approval_settled: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Post:
        values = dict(row)
        values["content"] = json.loads(values["content"])
        values["snapshot"] = json.loads(values["snapshot"])
        return cls(**values)


@dataclass(frozen=True)
class AuditEntry:
    post_id: int
    at: str
    actor: str
    action: str
    old_state: str | None
    new_state: str | None
    old_text: str | None
    new_text: str | None
    detail: str | None


def open_posts_file(where: Config | str | Path) -> tuple[Path, sqlite3.Connection]:
    """The posts file (`posts.sqlite` of a data folder, or the file at a path), opened and its
    schema migrated: the posts are kept in it, and the notices (`posters.notices`) too."""
    path = Path(data_folder(where) / FILE_NAME if isinstance(where, Config) else where)
    ensure_folder(path.parent)
    con = sqlite.connect(path, synchronous="FULL", check_same_thread=False)
    sqlite.migrate(con, resources.files("posters") / "migrations")
    return path, con


class PostStore:
    """The posts file of one data folder. Each method is one short transaction; safe across processes."""

    def __init__(self, where: Config | str | Path):
        self.path, self._con = open_posts_file(where)
        self.emitting = isinstance(where, Config) and emit.enabled(where)
        """Whether a post's change records its event (`pulse.core.emit`) in the same transaction."""

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> PostStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed on leaving the block."""
        return sqlite.transaction(self._con)

    # -- reading ----------------------------------------------------------------------------

    def get(self, post_id: int) -> Post:
        row = _scoped(self._con, "SELECT * FROM posts WHERE id = ? AND {scope}", [post_id]).fetchone()
        if row is None:
            raise PostError(f"post {post_id}: no such post (see `pulse posts list`)")
        return Post.from_row(row)

    def find(self, *, state: str | None = None, city: str | None = None, channel: str | None = None,
             event_id: str | None = None, kind: str | None = None, states: tuple[str, ...] | None = None) -> list[Post]:
        where, params = [], []
        for column, value in (("state", state), ("city", city), ("channel", channel), ("event_id", event_id),
                              ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        sql = "SELECT * FROM posts WHERE " + " AND ".join([*where, "{scope}"]) + " ORDER BY id"
        return [Post.from_row(row) for row in _scoped(self._con, sql, params).fetchall()]

    def due(self, now: dt.datetime) -> list[Post]:
        """Posts ready to go: approved (or automatic) and their time has come, oldest due first."""
        stamp = iso(now)
        rows = self._con.execute(
            "SELECT * FROM posts WHERE state IN ('approved', 'scheduled') AND due_at <= ? "
            "AND (not_before IS NULL OR not_before <= ?) ORDER BY due_at, id", [stamp, stamp]).fetchall()
        return [Post.from_row(row) for row in rows]

    def count_waiting_approval(self, cities: tuple[str, ...] | None) -> int:
        """Drafts awaiting approval in `cities` (None: every city)."""
        sql = "SELECT count(*) FROM posts WHERE state = 'pending_approval'"
        params: list = []
        if cities is not None:
            sql += f" AND city IN ({','.join('?' * len(cities))})"
            params = list(cities)
        return self._con.execute(sql, params).fetchone()[0]

    def published_times(self) -> dict[int, str]:
        """Post id → when it was published (its audit entry's time)."""
        rows = self._con.execute("SELECT post_id, max(at) FROM audit WHERE new_state = 'published' "
                                 "AND coalesce(old_state, '') != 'published' GROUP BY post_id").fetchall()
        return {row[0]: row[1] for row in rows}

    def histories(self, post_ids: list[int]) -> dict[int, list[AuditEntry]]:
        """The audit entries of many posts at once, oldest first."""
        found: dict[int, list[AuditEntry]] = {post_id: [] for post_id in post_ids}
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start:start + 500]
            rows = self._con.execute(
                "SELECT post_id, at, actor, action, old_state, new_state, old_text, new_text, detail FROM audit "
                f"WHERE post_id IN ({','.join('?' * len(chunk))}) ORDER BY id", chunk).fetchall()
            for row in rows:
                found[row[0]].append(AuditEntry(*row))
        return found

    def audit(self, post_id: int) -> list[AuditEntry]:
        rows = _scoped(self._con,
                       "SELECT post_id, at, actor, action, old_state, new_state, old_text, new_text, detail "
                       "FROM audit WHERE post_id = ? AND post_id IN (SELECT id FROM posts WHERE {scope}) ORDER BY id",
                       [post_id]).fetchall()
        return [AuditEntry(*row) for row in rows]

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    # -- writing (callers hold `transaction()`; `con` is that transaction) ------------------

    def insert(self, con: sqlite3.Connection, *, actor: str, city: str, event_id: str, channel: str, kind: str,
               mode: str, state: str, text: str, content: dict, snapshot: dict, starts_at: str, due_at: str,
               parent_id: int | None = None, detail: str | None = None) -> int:
        stamp = iso(now_utc())
        cursor = con.execute(
            "INSERT INTO posts (city, event_id, channel, kind, parent_id, mode, state, text, content, snapshot,"
            " starts_at, due_at, marker, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [city, event_id, channel, kind, parent_id, mode, state, text, _json(content), _json(snapshot),
             starts_at, due_at, uuid.uuid4().hex, stamp, stamp])
        post_id = cursor.lastrowid
        _audit(con, post_id, actor, "drafted", None, state, None, text, detail)
        return post_id

    def change(self, con: sqlite3.Connection, post_id: int, *, actor: str, action: str, detail: str | None = None,
               expect: tuple[str, ...] | None = None, **fields) -> Post:
        """Set `fields` on a post (a new `state` must be allowed from the current one), with an audit row."""
        row = _scoped(con, "SELECT * FROM posts WHERE id = ? AND {scope}", [post_id]).fetchone()
        if row is None:
            raise PostError(f"post {post_id}: no such post (see `pulse posts list`)")
        old = Post.from_row(row)
        if expect is not None and old.state not in expect:
            raise PostError(f"post {post_id} is {old.state}; {action} needs it to be {' or '.join(expect)}")
        new_state = fields.get("state", old.state)
        if new_state != old.state and new_state not in TRANSITIONS[old.state]:
            raise PostError(f"post {post_id} is {old.state}; it cannot become {new_state}")
        if not fields:
            return old
        for name in ("content", "snapshot"):
            if name in fields:
                fields[name] = _json(fields[name])
        fields["updated_at"] = iso(now_utc())
        assignments = ", ".join(f"{name} = ?" for name in fields)
        con.execute(f"UPDATE posts SET {assignments} WHERE id = ?", [*fields.values(), post_id])
        new_text = fields.get("text", old.text)
        change_id = _audit(con, post_id, actor, action, old.state, new_state,
                           old.text if new_text != old.text else None, new_text if new_text != old.text else None,
                           detail)
        new = Post.from_row(con.execute("SELECT * FROM posts WHERE id = ?", [post_id]).fetchone())
        event = emit.post_changed(new, change_id) if self.emitting and new_state != old.state else None
        if event is not None:
            emit.record(con, event)  # commits with the change, or neither does
        return new

    def set_meta(self, con: sqlite3.Connection, key: str, value: str) -> None:
        con.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value])

    def enabled_since(self, con: sqlite3.Connection, city: str, channel: str, configured: str, now: dt.datetime) -> str:
        """When this channel was enabled: the configured instant, else the first time it was seen (recorded)."""
        if configured:
            return configured
        row = con.execute("SELECT since FROM channels_enabled WHERE city = ? AND channel = ?", [city, channel]).fetchone()
        if row:
            return row[0]
        since = iso(now)
        con.execute("INSERT INTO channels_enabled (city, channel, since) VALUES (?, ?, ?)", [city, channel, since])
        return since

    def note(self, post_id: int, detail: str, actor: str = "pulse") -> None:
        """A line in a post's history that changes nothing (e.g. a Slack message that could not be updated)."""
        with self.transaction() as con:
            state = con.execute("SELECT state FROM posts WHERE id = ?", [post_id]).fetchone()
            if state is not None:
                _audit(con, post_id, actor, "note", state[0], state[0], None, None, detail)

    def sync_retries(self) -> list[tuple[str, str]]:
        """(city, event_id) of the meetups that could not be drafted yet."""
        return [(row[0], row[1]) for row in
                self._con.execute("SELECT DISTINCT city, event_id FROM sync_retry ORDER BY city, event_id")]

    def set_sync_retry(self, con: sqlite3.Connection, city: str, event_id: str, failed: dict[str, str],
                       now: dt.datetime) -> None:
        """Keep the meetup's channels that failed to draft (with why) for the next sync; forget the rest."""
        con.execute("DELETE FROM sync_retry WHERE city = ? AND event_id = ? AND channel NOT IN "
                    f"({','.join('?' * len(failed))})", [city, event_id, *failed])
        for channel, error in failed.items():
            con.execute("INSERT INTO sync_retry (city, event_id, channel, error, first_at, last_at) VALUES (?,?,?,?,?,?) "
                        "ON CONFLICT (city, event_id, channel) DO UPDATE SET error = excluded.error, last_at = excluded.last_at",
                        [city, event_id, channel, error, iso(now), iso(now)])

    def record_event(self, event: dict) -> bool:
        """Put one of Pulse's own events in this file's outbox (`pulse.core.emit`)."""
        with self.transaction() as con:
            return emit.record(con, event)

    def deliver_events(self, config: Config) -> emit.Delivery:
        """Send the outbox's waiting events to the configured sink."""
        return emit.deliver(config, self._con)

    def seen_slack_request(self, signature: str, now: float, keep_seconds: float = 600) -> bool:
        """Record a signed Slack request; True when the very same one came before (a replay)."""
        with self.transaction() as con:
            con.execute("DELETE FROM slack_requests_seen WHERE seen_at < ?", [now - keep_seconds])
            try:
                con.execute("INSERT INTO slack_requests_seen (signature, seen_at) VALUES (?, ?)", [signature, now])
            except sqlite3.IntegrityError:
                return True
        return False


def _scoped(con: sqlite3.Connection, sql: str, params: list):
    """`sql` over the posts of the cities the reader may see (`pulse.web.scope`): `{scope}` in it
    becomes the scope's condition on `city`, whose parameters follow `params`."""
    condition, cities = scope.current().sql("city")
    return con.execute(sql.replace("{scope}", condition), [*params, *cities])


def _audit(con, post_id, actor, action, old_state, new_state, old_text, new_text, detail) -> int:
    return con.execute(
        "INSERT INTO audit (post_id, at, actor, action, old_state, new_state, old_text, new_text, detail) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        [post_id, iso(now_utc()), actor, action, old_state, new_state, old_text, new_text, detail]).lastrowid


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
