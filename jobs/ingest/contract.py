"""The event-stream contract (../shared/event-stream.md) as data: what validation checks, in order.

Order matters: a rejected record gets the first reason that applies, so the envelope checks and
each type's fields are listed exactly in the contract's order.
"""

from __future__ import annotations

from dataclasses import dataclass

# Field kinds, each checked by a SQL predicate in validation.py.
ID = "id"                  # a non-empty string
TEXT = "text"              # a string, possibly empty
INSTANT = "instant"        # RFC 3339 with an offset, a real instant
COUNT = "count"            # a non-negative integer
TIMEZONE = "timezone"      # a known IANA timezone name
RSVP_STATUS = "rsvp_status"

RSVP_STATUSES = ("going", "waitlist", "not_going")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False


def _required(name: str, kind: str) -> Field:
    return Field(name, kind, required=True)


_MEETUP_DETAILS = (
    Field("ends_at", INSTANT),
    Field("venue", TEXT),
    Field("url", TEXT),
    Field("description", TEXT),
    Field("image_url", TEXT),
    Field("capacity", COUNT),
)

EVENT_TYPES: dict[str, tuple[Field, ...]] = {
    "city:upserted": (_required("name", TEXT), _required("timezone", TIMEZONE), Field("region", TEXT)),
    "user:joined_city": (_required("user_id", ID),),
    "user:left_city": (_required("user_id", ID),),
    "event:created": (_required("event_id", ID), _required("title", TEXT), _required("starts_at", INSTANT),
                      *_MEETUP_DETAILS),
    "event:updated": (_required("event_id", ID), Field("title", TEXT), Field("starts_at", INSTANT),
                      *_MEETUP_DETAILS),
    "event:cancelled": (_required("event_id", ID), Field("reason", TEXT)),
    "event:rsvp": (_required("event_id", ID), _required("user_id", ID), _required("status", RSVP_STATUS)),
    "event:checked_in": (_required("event_id", ID), _required("user_id", ID)),
    "blog:post_published": (_required("post_id", ID), _required("title", TEXT), Field("url", TEXT),
                            Field("author_id", ID)),
    "blog:post_viewed": (_required("post_id", ID), _required("visitor_id", ID), Field("user_id", ID),
                         Field("referrer", TEXT)),
}

# Envelope attributes Pulse reads (all others are kept in `raw` and otherwise ignored).
ENVELOPE = ("specversion", "id", "source", "type", "time", "city", "data")

# Reject reasons that do not depend on the type, in the contract's order.
ENVELOPE_REASONS = (
    "invalid_utf8", "invalid_json", "not_object", "bad_specversion",
    "missing_id", "missing_source", "missing_type", "bad_id", "bad_source", "bad_type",
    "missing_time", "bad_time", "missing_city", "bad_city", "missing_data", "bad_data",
)
CONFLICTING_DUPLICATE = "conflicting_duplicate"


def all_data_fields() -> list[str]:
    """Every `data` field any type names, once, in first-seen order."""
    seen: dict[str, None] = {}
    for fields in EVENT_TYPES.values():
        for field in fields:
            seen.setdefault(field.name)
    return list(seen)
