"""An independent reader of the contract (../shared/event-stream.md), written from the text, not
from Pulse: the envelope, the event types and the reject reasons in order; and a classifier of
NDJSON files into accepted events, redeliveries, rejects and blank lines. The demo's tests use it
as their oracle."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import available_timezones

ZONES = available_timezones()

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
STATUSES = {"going", "waitlist", "not_going"}
EVENT_FIELDS = ["event_id", "title", "starts_at", "ends_at", "venue", "url", "description",
                "image_url", "capacity"]
# type -> [(field, required)] in the table's order
TYPES = {
    "city:upserted": [("name", True), ("timezone", True), ("region", False)],
    "user:joined_city": [("user_id", True)],
    "user:left_city": [("user_id", True)],
    "event:created": [(f, f in ("event_id", "title", "starts_at")) for f in EVENT_FIELDS],
    "event:updated": [(f, f == "event_id") for f in EVENT_FIELDS],
    "event:cancelled": [("event_id", True), ("reason", False)],
    "event:rsvp": [("event_id", True), ("user_id", True), ("status", True)],
    "event:checked_in": [("event_id", True), ("user_id", True)],
    "blog:post_published": [("post_id", True), ("title", True), ("url", False),
                            ("author_id", False)],
    "blog:post_viewed": [("post_id", True), ("visitor_id", True), ("user_id", False),
                         ("referrer", False)],
}
TEXT = {"name", "title", "venue", "url", "description", "image_url", "reason", "region", "referrer"}


def parse_time(value) -> datetime | None:
    """An aware datetime for an RFC 3339 string with an offset that is a real instant, else None."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def field_ok(name: str, value) -> bool:
    if name.endswith("_id"):
        return isinstance(value, str) and value != ""
    if name in TEXT:
        return isinstance(value, str)
    if name in ("starts_at", "ends_at"):
        return parse_time(value) is not None
    if name == "capacity":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if name == "timezone":
        return isinstance(value, str) and value in ZONES
    if name == "status":
        return value in STATUSES
    raise AssertionError(name)


def reject_reason(obj) -> str | None:
    """The contract's reason for a parsed record (before duplicate handling), None if valid."""
    if not isinstance(obj, dict):
        return "not_object"
    if obj.get("specversion") != "1.0":
        return "bad_specversion"
    for attr in ("id", "source", "type"):
        if obj.get(attr) is None:
            return f"missing_{attr}"
        if not isinstance(obj[attr], str) or obj[attr] == "":
            return f"bad_{attr}"
    if obj.get("time") is None:
        return "missing_time"
    if parse_time(obj["time"]) is None:
        return "bad_time"
    if obj.get("city") is None:
        return "missing_city"
    if not isinstance(obj["city"], str) or not SLUG.fullmatch(obj["city"]):
        return "bad_city"
    known = obj["type"] in TYPES
    if obj.get("data") is None:
        return "missing_data" if known else None
    if not isinstance(obj["data"], dict):
        return "bad_data"
    for name, required in TYPES.get(obj["type"], []):
        value = obj["data"].get(name)
        if value is None:
            if required:
                return f"missing_field:{name}"
        elif not field_ok(name, value):
            return f"bad_field:{name}"
    return None


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def read_lines(path: Path) -> list[bytes]:
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    assert raw.endswith(b"\n"), f"{path.name} does not end with a newline"
    return raw[:-1].split(b"\n")


def classify_files(out: Path, names: list[str]):
    """Walk every line in path order as the contract says Pulse must: the accepted events, the
    byte-identical redeliveries, the rejects with location and reason, the blank lines."""
    accepted: dict[tuple, tuple] = {}  # (source, id) -> (canonical content, raw line, file)
    accepted_order: list[dict] = []
    redelivered: list[tuple] = []  # (raw line of the copy, raw line of the first, file, first file)
    rejects: list[tuple] = []
    blanks: list[tuple] = []
    for name in names:
        for n, raw in enumerate(read_lines(out / name), 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                rejects.append((name, n, "invalid_utf8"))
                continue
            if text.strip() == "":
                blanks.append((name, n))
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                rejects.append((name, n, "invalid_json"))
                continue
            reason = reject_reason(obj)
            if reason:
                rejects.append((name, n, reason))
                continue
            key = (obj["source"], obj["id"])
            if key in accepted:
                first = accepted[key]
                if first[0] != canonical(obj):
                    rejects.append((name, n, "conflicting_duplicate"))
                else:
                    redelivered.append((raw, first[1], name, first[2]))
                continue
            accepted[key] = (canonical(obj), raw, name)
            accepted_order.append(obj)
    return accepted_order, redelivered, rejects, blanks


