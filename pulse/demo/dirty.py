"""The dirty lines the exporter's files carry: one of each kind below, covering the contract's
reject reasons but those of ``source`` and ``type`` (a conflicting duplicate among them), blank
lines (skipped, not rejected), and events of types no metric knows."""

from __future__ import annotations

from pulse.demo.ndjson import encode

# The dirty lines generate_files(dirty=True) writes: kind -> the reject reason the contract
# gives it (``None``: a blank line, skipped rather than rejected).
DIRTY_KINDS: dict[str, str | None] = {
    "invalid_utf8": "invalid_utf8",
    "cut_short": "invalid_json",
    "not_json": "invalid_json",
    "json_array": "not_object",
    "bad_specversion": "bad_specversion",
    "missing_id": "missing_id",
    "empty_id": "bad_id",
    "missing_time": "missing_time",
    "time_without_offset": "bad_time",
    "time_not_an_instant": "bad_time",
    "missing_city": "missing_city",
    "bad_city": "bad_city",
    "missing_data": "missing_data",
    "data_not_object": "bad_data",
    "join_without_user": "missing_field:user_id",
    "numeric_user_id": "bad_field:user_id",
    "rsvp_maybe": "bad_field:status",
    "negative_capacity": "bad_field:capacity",
    "starts_at_without_offset": "bad_field:starts_at",
    "unknown_timezone": "bad_field:timezone",
    "conflicting_duplicate": "conflicting_duplicate",
    "blank_empty": None,
    "blank_whitespace": None,
}

# Valid events of types the contract does not list: ingest keeps them, every metric ignores them.
UNKNOWN_TYPES = ("poll:created", "poll:voted")


def dirty_line(kind: str, env: dict, k: int, cities: list[dict]) -> str | bytes:
    """The dirty line of ``kind`` (a key of :data:`DIRTY_KINDS` but conflicting_duplicate),
    made from a clean envelope ``env`` (its time, city and source); bytes when not UTF-8."""
    if kind == "blank_empty":
        return ""
    if kind == "blank_whitespace":
        return "   \t"
    base = {"specversion": "1.0", "id": f"ev-dirty-{k:04d}", "source": env["source"],
            "type": "user:joined_city", "time": env["time"], "city": env["city"],
            "data": {"user_id": f"u_dirty_{k}"}}
    city = next((c for c in cities if c["slug"] == env["city"]), cities[0])
    meetup = {"event_id": f"m_dirty_{k}", "title": f"{city['name']} Python Night: pop-up",
              "starts_at": env["time"], "venue": "TBA"}
    e = dict(base)
    if kind == "invalid_utf8":
        e["type"] = "blog:post_published"
        e["data"] = {"post_id": f"p_dirty_{k}", "title": "Caf@@ night"}
        return encode(e).encode("utf-8").replace(b"@@", b"\xe9\xff")
    if kind == "cut_short":
        line = encode(e)
        return line[: len(line) // 2]
    if kind == "not_json":
        return "upstream connect error or disconnect/reset before headers. reset reason: overflow"
    if kind == "json_array":
        return "[" + encode(e) + "]"
    if kind == "bad_specversion":
        e["specversion"] = "0.3"
    elif kind == "missing_id":
        del e["id"]
    elif kind == "empty_id":
        e["id"] = ""
    elif kind == "missing_time":
        del e["time"]
    elif kind == "time_without_offset":
        t = e["time"]
        e["time"] = t[:-1] if t.endswith("Z") else t[:-6]
    elif kind == "time_not_an_instant":
        e["time"] = e["time"][:4] + "-02-30T19:00:00" + ("+00:00" if e["time"].endswith("Z")
                                                          else e["time"][-6:])
    elif kind == "missing_city":
        del e["city"]
    elif kind == "bad_city":
        e["city"] = city["name"].split(" ")[0].split("/")[0] + "!"
    elif kind == "missing_data":
        e["type"] = "event:rsvp"
        del e["data"]
    elif kind == "data_not_object":
        e["data"] = "user_id=u_8812"
    elif kind == "join_without_user":
        e["data"] = {}
    elif kind == "numeric_user_id":
        e["data"] = {"user_id": 8812}
    elif kind == "rsvp_maybe":
        e["type"] = "event:rsvp"
        e["data"] = {"event_id": "m_1", "user_id": "u_1001", "status": "maybe"}
    elif kind == "negative_capacity":
        e["type"] = "event:created"
        e["data"] = dict(meetup, capacity=-3)
    elif kind == "starts_at_without_offset":
        e["type"] = "event:created"
        e["data"] = dict(meetup, starts_at=meetup["starts_at"][:19])
    elif kind == "unknown_timezone":
        e["type"] = "city:upserted"
        e["data"] = {"name": city["name"], "timezone": "Australia/Atlantis", "region": "apac"}
    else:
        raise ValueError(kind)
    return encode(e)


def conflicting_copy(env: dict) -> str:
    """The line of an event with the same source and id as ``env`` (an event:created) but another
    title: the producer bug the contract rejects as ``conflicting_duplicate``."""
    data = dict(env["data"])
    data["title"] = env["data"]["title"] + " (edited)"
    return encode(dict(env, data=data))


def unknown_type_line(typ: str, env: dict, k: int) -> str:
    """The line of a valid event of type ``typ`` (one of :data:`UNKNOWN_TYPES`), with the time,
    city and source of the clean envelope ``env``."""
    data = ({"poll_id": f"poll_{k}", "question": "Which topic next month?",
             "options": ["DuckDB", "Rust", "htmx"]} if typ == "poll:created"
            else {"poll_id": "poll_100", "user_id": "u_1001", "option": 1})
    return encode(dict(env, id=f"ev-poll-{k:04d}", type=typ, data=data))
