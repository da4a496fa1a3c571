"""Meetups as the rest of Pulse reads them: the `analytics.meetups` model (the one derivation of
a meetup's state, see models/04_meetups.sql) with each city's name and timezone.

The publisher reads "what changed since I last looked" here: every meetup has `changed_seq`,
the highest event seq behind its current state, and the models' `last_seq` says how far the
build has read; so `changed_since(con, seen)` is every meetup touched by events after `seen`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Meetup:
    city: str
    event_id: str
    title: str
    starts_at: datetime
    created_at: datetime | None
    """When the meetup was created on the platform (its first `event:created`); None when only
    updates arrived."""
    timezone: str
    city_name: str = ""
    venue: str = ""
    url: str = ""
    description: str = ""
    cancelled: bool = False
    reason: str = ""
    """Why it was cancelled (the latest `event:cancelled`'s reason), '' when none given."""


_SELECT = """
SELECT m.city, m.event_id, m.title, m.starts_at, m.created_at, c.timezone, coalesce(c.name, m.city),
       m.venue, m.url, m.description, m.cancelled, m.cancel_reason
FROM analytics.meetups m JOIN analytics.cities c USING (city)
"""


def changed_since(con, seen_seq: int) -> tuple[list[Meetup], int]:
    """(meetups whose state changed through events with seq > `seen_seq`, the seq the models are
    built up to): the next call passes the latter as `seen_seq`."""
    built = con.execute("SELECT coalesce(max(last_seq), 0) FROM analytics.state").fetchall()[0][0]
    rows = con.execute(_SELECT + " WHERE m.changed_seq > ? ORDER BY m.city, m.event_id", [seen_seq]).fetchall()
    return [Meetup(*row) for row in rows], max(built, seen_seq)


def meetup(con, event_id: str) -> Meetup | None:
    rows = con.execute(_SELECT + " WHERE m.event_id = ?", [event_id]).fetchall()
    return Meetup(*rows[0]) if rows else None
