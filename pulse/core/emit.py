"""Pulse's own events, published back to the platform as CloudEvents 1.0 through an outbox.

What Pulse emits (`EMITS`, each type declared in plugin.json's `events.emits`):
- `social:post_published`: post_id, meetup_id, city, channel, kind, link;
- `social:post_failed`: post_id, meetup_id, city, channel, kind, error, attempts;
- `analytics:refreshed`: cities (those with new data in this build), data_as_of (when the
  last completed ingest finished), events_counted (events of the types the metrics count).
The envelope follows the platform stream's own rules (../shared/event-stream.md): specversion
"1.0", a stable `id`, `source` = the plugin's id, `type`, `time` (RFC 3339, UTC), `city` (the
chapter's slug; `all` for analytics:refreshed, which covers every city, as `--city all` does),
`data` an object.

Recording: `record(con, event)` puts an event into the outbox table of the posts file
(`outbox_events`, posters/migrations/020_outbox.sql) on the caller's connection, inside the
caller's transaction: a post marked published and its `social:post_published` commit together
or not at all. Ids are stable (a post's marker and the change's audit row; the warehouse's
instance and the build's range), and recording the same id again keeps the first.

Delivering: `deliver(config, con)` sends what waits, oldest first, in batches, to the sink of
`[events]` (an NDJSON file, or an HTTP endpoint with a bearer token), and marks a batch sent only
once the sink took it (the file written and fsynced; a 2xx answer). A sink that is down (a full
disk, HTTP 500, connection refused) keeps the events for a later run. A crash between sending
and marking sends that batch once more, with the same ids: a receiver dedupes by source + id,
as Pulse does with the platform's stream. One delivery at a time (a lock file); a run that finds
another delivering leaves the events to it.

Nothing is recorded while `[events]` names no sink.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from pulse.core import locks, registry, sqlite
from pulse.core.config import Config, ConfigError, FieldProblem, Settings, model_section, secret
from pulse.core.instants import format_instant, iso, now_utc, parse_iso
from pulse.core.manifest import ManifestError, emits, plugin_id

EMITS: dict[str, tuple[str, ...]] = {
    "social:post_published": ("post_id", "meetup_id", "city", "channel", "kind", "link"),
    "social:post_failed": ("post_id", "meetup_id", "city", "channel", "kind", "error", "attempts"),
    "analytics:refreshed": ("cities", "data_as_of", "events_counted"),
}
"""Every event type Pulse publishes, with its data fields (`pulse plugin check` compares the
types with plugin.json's events.emits)."""

EVERY_CITY = "all"
"""The `city` of an event about every city (analytics:refreshed)."""

TEXT_LIMIT = 1000
"""Characters kept of a text field that comes from outside (an API's error, a link)."""

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
LOCK_NAME = "events.lock"


class EventsSettings(Settings):
    """`[events]`: where Pulse publishes its own events (neither key: nothing is recorded)."""

    file: str = ""
    """An NDJSON file Pulse appends its events to, one per line (relative to the config file's folder)."""
    url: str = ""
    """An HTTP endpoint Pulse POSTs its events to, a JSON array at a time (CloudEvents batched mode)."""
    token_env: str = ""
    """Environment variable holding the bearer token for `url`."""
    timeout_seconds: float = Field(10.0, gt=0)
    batch_size: int = Field(100, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
            if "@" in parts.netloc or parts.query or parts.fragment:
                raise ValueError("the URL must not carry credentials, a query or a fragment; put the token "
                                 "in the environment variable named by token_env")
        return value

    @model_validator(mode="after")
    def _one_sink(self):
        if self.file and self.url:
            raise FieldProblem("url", "give either file or url, not both")
        if self.url and not self.token_env:
            raise FieldProblem("token_env", "required with url: the environment variable holding the bearer token")
        return self


@registry.hookimpl
def pulse_config_sections():
    return [model_section("events", EventsSettings)]


def enabled(config: Config) -> bool:
    """Whether Pulse records and delivers its events (a sink is configured)."""
    settings = config.events
    return bool(settings.file or settings.url)


# --- the events ---------------------------------------------------------------------------------

def cloudevent(type: str, id: str, city: str, time: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """One event as it is sent; ManifestError for a type plugin.json does not declare."""
    if type not in EMITS or type not in emits():
        raise ManifestError(f"plugin.json events.emits: Pulse would emit {type!r}, which it does not declare; "
                            "declare it in plugin.json (and EMITS in pulse/core/emit.py)")
    return {"specversion": "1.0", "id": id, "source": plugin_id(), "type": type, "time": format_instant(time),
            "city": city, "data": data}


def post_changed(post, change_id: int) -> dict[str, Any] | None:
    """The event a post's new state means (published, failed), or None; `post` as it is after the
    change (`posters.store.Post`), `change_id` the change's audit row."""
    data = {"post_id": str(post.id), "meetup_id": post.event_id, "city": post.city, "channel": post.channel,
            "kind": post.kind}
    if post.state == "published":
        type = "social:post_published"
        data["link"] = _bounded(post.external_url or "")
    elif post.state == "failed":
        type = "social:post_failed"
        data.update(error=_bounded(post.last_error or ""), attempts=post.attempts)
    else:
        return None
    return cloudevent(type, f"{post.marker}-{change_id}", post.city, parse_iso(post.updated_at), data)


def refreshed(instance: str, *, from_seq: int, to_seq: int, cities: Iterable[str], data_as_of: datetime | None,
              events_counted: int, at: datetime) -> dict[str, Any]:
    """`analytics:refreshed` for a build over the warehouse's events from_seq..to_seq."""
    data = {"cities": sorted(cities), "data_as_of": format_instant(data_as_of) if data_as_of else None,
            "events_counted": events_counted}
    return cloudevent("analytics:refreshed", f"{instance}-refreshed-{from_seq}-{to_seq}", EVERY_CITY, at, data)


def _bounded(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT - 1] + "…"


# --- the outbox (a table of the posts file) ---------------------------------------------------

def record(con, event: dict[str, Any]) -> bool:
    """Put `event` in the outbox within the caller's transaction; False when its id was there already."""
    cursor = con.execute(
        "INSERT INTO outbox_events (id, type, envelope, recorded_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [event["id"], event["type"], json.dumps(event, ensure_ascii=False, separators=(",", ":")), iso(now_utc())])
    return cursor.rowcount == 1


def waiting(con) -> int:
    return con.execute("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL").fetchone()[0]


@dataclass
class Delivery:
    sent: int = 0
    waiting: int = 0
    problem: str | None = None

    def line(self) -> str:
        text = f"events: {self.sent} sent, {self.waiting} waiting"
        return text + (f" ({self.problem}; they go out with a later run)" if self.problem else "")


class SinkDown(Exception):
    """The sink did not take a batch (nothing is marked sent); one line, no secret in it."""


def deliver(config: Config, con) -> Delivery:
    """Send what waits in the outbox of `con` (the posts file) to the configured sink."""
    if not enabled(config):
        return Delivery(waiting=waiting(con))
    from pulse.core.warehouse import data_folder

    settings = config.events
    try:
        with locks.hold(data_folder(config) / LOCK_NAME, purpose="deliver events"):
            sink = make_sink(config)
            sent = 0
            while True:
                rows = con.execute("SELECT n, envelope FROM outbox_events WHERE sent_at IS NULL ORDER BY n LIMIT ?",
                                   [settings.batch_size]).fetchall()
                if not rows:
                    return Delivery(sent, 0)
                numbers = [row[0] for row in rows]
                try:
                    sink.send([row[1] for row in rows])
                except SinkDown as down:
                    with sqlite.transaction(con):
                        con.executemany("UPDATE outbox_events SET attempts = attempts + 1, last_error = ? WHERE n = ?",
                                        [(str(down), n) for n in numbers])
                    return Delivery(sent, waiting(con), str(down))
                # Sent: a crash before this commit sends the batch once more, with the same ids.
                with sqlite.transaction(con):
                    con.executemany("UPDATE outbox_events SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                                    "WHERE n = ?", [(iso(now_utc()), n) for n in numbers])
                sent += len(numbers)
    except locks.LockBusy:
        return Delivery(waiting=waiting(con), problem="another Pulse process is delivering them")
    except SinkDown as down:  # the sink could not even be set up (a missing token)
        return Delivery(waiting=waiting(con), problem=str(down))


# --- sinks ----------------------------------------------------------------------------------

def make_sink(config: Config):
    settings = config.events
    if settings.file:
        return FileSink(Path(config.base_dir) / settings.file)
    try:
        token = secret(settings.token_env, "events.token_env")
    except ConfigError as error:  # said with every run; the events wait
        raise SinkDown(str(error)) from None
    return HttpSink(settings.url, token, timeout=settings.timeout_seconds)


class FileSink:
    """Appends each event as one line of NDJSON, then fsyncs; a failed write is cut off again."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def send(self, lines: list[str]) -> None:
        payload = "".join(line + "\n" for line in lines).encode("utf-8")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise SinkDown(f"events.file {self.path}: cannot open: {error.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                payload = b"\n" + payload  # a line left cut short never glues onto the first of ours
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as error:
            with contextlib.suppress(OSError):  # not a regular file (/dev/full): nothing to cut
                os.ftruncate(fd, size)  # what was half written goes again
            raise SinkDown(f"events.file {self.path}: {error.strerror or error}") from None
        finally:
            os.close(fd)


class HttpSink:
    """POSTs a JSON array of events (CloudEvents batched mode) with a bearer token; a 2xx means taken.

    The client may reach only the configured endpoint's host (`pulse.core.egress`) and follows
    no redirect: the token goes to that host or nowhere."""

    def __init__(self, url: str, token: str, *, timeout: float):
        self.url = url
        self._token = token
        self.timeout = timeout
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname

    def send(self, lines: list[str]) -> None:
        import requests

        from pulse.core.egress import EgressRefused, guarded_session

        body = ("[" + ",".join(lines) + "]").encode("utf-8")
        where = f"events.url ({self.host})"
        try:
            session = guarded_session(timeout=self.timeout, extra_hosts=[self.host])
            response = session.post(self.url, data=body, allow_redirects=False, timeout=self.timeout,
                                    headers={"Content-Type": BATCH_CONTENT_TYPE,
                                             "Authorization": f"Bearer {self._token}"})
        except EgressRefused as refused:
            raise SinkDown(f"{where}: {refused}") from None
        except requests.RequestException as error:
            raise SinkDown(f"{where}: could not deliver ({type(error).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise SinkDown(f"{where}: HTTP {response.status_code}"
                           + (" (a redirect is not followed)" if 300 <= response.status_code < 400 else ""))

    def __repr__(self) -> str:
        return f"HttpSink({self.host!r}, <bearer token>)"
