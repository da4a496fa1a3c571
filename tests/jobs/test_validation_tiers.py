"""Random files of valid and dirty lines go through ingest twice: as it runs (the fast tier of
validation, the full reason CASE only for what it does not accept) and with the full CASE alone.
Both must give exactly the events, rejects and counts of a plain-Python reading of the contract
(../shared/event-stream.md), written here without the code under test.

The mixes cover every reject reason, blank lines, invalid UTF-8 in the middle of a block, NaN,
Infinity and trailing commas (and `nan`/`inf` inside strings, which are fine), escapes, other
key orders and spacing, CRLF, leading whitespace, unknown types, redeliveries, conflicting
duplicates, keys given twice and lines longer than a batch. PULSE_PROPERTY_EXAMPLES=N runs N
examples (default 20).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.ingest import loader
from jobs.ingest.run import ingest

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

# --- The contract, restated (event-stream.md: "Event types" and "Field types") -------------

ID, TEXT, INSTANT, COUNT, TZ, RSVP = "id", "text", "instant", "count", "tz", "rsvp"
MEETUP = [("ends_at", INSTANT, False), ("venue", TEXT, False), ("url", TEXT, False),
          ("description", TEXT, False), ("image_url", TEXT, False), ("capacity", COUNT, False)]
TYPES = {
    "city:upserted": [("name", TEXT, True), ("timezone", TZ, True), ("region", TEXT, False)],
    "user:joined_city": [("user_id", ID, True)],
    "user:left_city": [("user_id", ID, True)],
    "event:created": [("event_id", ID, True), ("title", TEXT, True), ("starts_at", INSTANT, True), *MEETUP],
    "event:updated": [("event_id", ID, True), ("title", TEXT, False), ("starts_at", INSTANT, False), *MEETUP],
    "event:cancelled": [("event_id", ID, True), ("reason", TEXT, False)],
    "event:rsvp": [("event_id", ID, True), ("user_id", ID, True), ("status", RSVP, True)],
    "event:checked_in": [("event_id", ID, True), ("user_id", ID, True)],
    "blog:post_published": [("post_id", ID, True), ("title", TEXT, True), ("url", TEXT, False),
                            ("author_id", ID, False)],
    "blog:post_viewed": [("post_id", ID, True), ("visitor_id", ID, True), ("user_id", ID, False),
                         ("referrer", TEXT, False)],
}
ZONES = set(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
WHITESPACE = b" \t\n\r\x0b\x0c"
TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                  r"([Zz]|([+-])([0-9]{2}):([0-9]{2}))")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def instant(value) -> datetime | None:
    """The UTC instant of an RFC 3339 date-time with an offset, to the microsecond; else None."""
    match = TIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= days[month - 1] and hour <= 23
            and minute <= 59 and second <= 59):
        return None
    offset = timedelta(0)
    if match.group(9):
        if int(match.group(10)) > 23 or int(match.group(11)) > 59:
            return None
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        offset = -offset if match.group(9) == "-" else offset
    micro = int((match.group(7) or ".0")[1:7].ljust(6, "0"))
    local = datetime(year, month, day, hour, minute, second, micro)
    return (local - offset).replace(tzinfo=UTC)


def field_ok(kind: str, value) -> bool:
    if kind == ID:
        return isinstance(value, str) and value != ""
    if kind == TEXT:
        return isinstance(value, str)
    if kind == INSTANT:
        return instant(value) is not None
    if kind == COUNT:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == TZ:
        return isinstance(value, str) and value in ZONES
    return value in ("going", "waitlist", "not_going") and isinstance(value, str)


def _refuse(name):
    raise ValueError(name)


def _first_key_wins(pairs):
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def parse(text: str):
    """Strict JSON (no NaN, no Infinity, no trailing comma); a repeated key keeps its first value."""
    return json.loads(text, parse_constant=_refuse, object_pairs_hook=_first_key_wins)


def canonical(text: str):
    """The JSON value with integers and other numbers told apart (`1` is not `1.0`)."""
    return json.loads(text, parse_int=lambda s: ("int", int(s)), parse_float=lambda s: ("float", float(s)),
                      object_pairs_hook=lambda pairs: sorted(_first_key_wins(pairs).items(), key=lambda kv: kv[0]))


def reason_for(raw: bytes) -> tuple[str | None, object]:
    """(the first reject reason that applies, or None; the record)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        record = parse(text)
    except (ValueError, RecursionError):
        return "invalid_json", None
    if not isinstance(record, dict):
        return "not_object", None
    if record.get("specversion") != "1.0" or not isinstance(record.get("specversion"), str):
        return "bad_specversion", record
    for name in ("id", "source", "type"):
        if record.get(name) is None:
            return f"missing_{name}", record
    for name in ("id", "source", "type"):
        if not field_ok(ID, record[name]):
            return f"bad_{name}", record
    if record.get("time") is None:
        return "missing_time", record
    if instant(record["time"]) is None:
        return "bad_time", record
    if record.get("city") is None:
        return "missing_city", record
    if not isinstance(record["city"], str) or not SLUG.fullmatch(record["city"]):
        return "bad_city", record
    data = record.get("data")
    if data is None and record["type"] in TYPES:
        return "missing_data", record
    if data is not None and not isinstance(data, dict):
        return "bad_data", record
    fields = TYPES.get(record["type"], [])
    for name, _, required in fields:
        if required and data.get(name) is None:
            return f"missing_field:{name}", record
    for name, kind, _ in fields:
        if data.get(name) is not None and not field_ok(kind, data[name]):
            return f"bad_field:{name}", record
    return None, record


def expected(path: Path, lines: list[bytes]):
    """(events as (seq, source, id, type, utc time, city, data, raw), rejects as (location,
    reason, raw), (accepted, duplicates, rejected)) for a file of these lines, read in one go."""
    events, rejects, first_raw = [], [], {}
    duplicates = 0
    for number, raw in enumerate(lines, start=1):
        if all(byte in WHITESPACE for byte in raw):
            continue
        location = f"{path}:{number}"
        text = raw.decode("utf-8", errors="backslashreplace")
        reason, record = reason_for(raw)
        if reason:
            rejects.append((location, reason, text))
            continue
        key = (record["source"], record["id"])
        if key in first_raw:
            if text == first_raw[key] or canonical(text) == canonical(first_raw[key]):
                duplicates += 1
            else:
                rejects.append((location, "conflicting_duplicate", text))
            continue
        first_raw[key] = text
        events.append((len(events) + 1, record["source"], record["id"], record["type"],
                       instant(record["time"]), record["city"], record.get("data"), text))
    return events, rejects, (len(events), duplicates, len(rejects))


# --- Random lines --------------------------------------------------------------------------

WORDS = ["a", "é", "😀", '"', "\\", "\n", "nan", "inf", "NaN", ",}", "<b>", "x" * 20, ""]
TEXTS = st.lists(st.sampled_from(WORDS), max_size=4).map("".join)
IDS = st.sampled_from(["e1", "e2", "e3", "e4", 'e"5', "é6"])
SOURCES = st.sampled_from(["platform/au", "platform/nz"])
GOOD_TIMES = st.sampled_from([
    "2026-03-05T09:12:44.120+11:00", "2026-03-05T09:12:44Z", "2026-03-05t09:12:44z", "2024-02-29T23:59:59-05:30",
    "2026-03-05T09:12:44.123456789+00:00", "2026-12-31T00:00:00.5-23:59"])
BAD_TIMES = st.sampled_from([
    "2026-03-05T09:12:44", "2026-02-30T09:12:44Z", "2026-03-05T24:00:00Z", "2026-03-05T25:00:00Z",
    "2026-03-05", "2026-03-05 09:12:44Z", "2026-03-05T09:12:44+1100", "2025-02-29T00:00:00Z", 1772662364, "",
    "2026-03-05T09:12:60Z"])
GOOD = {ID: IDS, TEXT: TEXTS, INSTANT: GOOD_TIMES, COUNT: st.sampled_from([0, 1, 80, 2**40]),
        TZ: st.sampled_from(["Australia/Sydney", "UTC", "America/Argentina/Buenos_Aires"]),
        RSVP: st.sampled_from(["going", "waitlist", "not_going"])}
BAD = {ID: st.sampled_from(["", 5, True, ["x"], {"a": 1}]), TEXT: st.sampled_from([5, False, [], {}]),
       INSTANT: BAD_TIMES, COUNT: st.sampled_from([-3, 2.5, 10.0, "10", True, None]),
       TZ: st.sampled_from(["Mars/Olympus", "localtime", "australia/sydney", 3]),
       RSVP: st.sampled_from(["maybe", "Going", "", 1])}
ABSENT = object()
# What an envelope attribute can wrongly be (besides absent and null).
BAD_ENVELOPE = {"specversion": ["1.1", 1.0, "", ["1.0"]], "id": ["", 5, True, {"a": 1}],
                "source": ["", 7, ["s"]], "type": ["", 3, None], "time": BAD_TIMES,
                "city": [5, "Sydney", "sydney!", "-sydney", "", "a b", "é", 0], "data": ["u1", [1], 5, True]}


@st.composite
def record(draw, fault: str | None = None) -> dict:
    """A valid record, or one with a single fault: `envelope` (an attribute absent, null or of
    the wrong kind) or `field` (a data field of its type so)."""
    type_name = draw(st.sampled_from([*TYPES, "poll:created"]))
    fields = TYPES.get(type_name, [])
    data = {name: draw(GOOD[kind]) for name, kind, required in fields if required or draw(st.booleans())}
    if fault == "field" and fields:
        name, kind, _ = draw(st.sampled_from(fields))
        data[name] = draw(st.one_of(BAD[kind], st.just(None), st.just(ABSENT)))
    if draw(st.booleans()):
        data["via"] = draw(st.sampled_from(["form", 3, None, [1, {"b": "nan"}]]))
    data = {k: v for k, v in data.items() if v is not ABSENT}
    rec = {"specversion": "1.0", "id": draw(IDS), "source": draw(SOURCES), "type": type_name,
           "time": draw(GOOD_TIMES), "city": draw(st.sampled_from(["sydney", "a-1", "0x"])), "data": data}
    if type_name == "poll:created" and draw(st.booleans()):
        rec.pop("data")
    if fault == "envelope":
        name = draw(st.sampled_from(list(BAD_ENVELOPE)))
        bad = BAD_ENVELOPE[name]
        value = draw(st.sampled_from([None, ABSENT]) if draw(st.integers(0, 3)) == 0
                     else st.sampled_from(bad) if isinstance(bad, list) else bad)
        rec[name] = value
        rec = {k: v for k, v in rec.items() if v is not ABSENT}
    if draw(st.booleans()):
        rec["ext"] = draw(st.sampled_from(["x", 1, None, {"n": [True]}]))
    return rec


def dumps(draw, value) -> str:
    """JSON text of `value` in one of the ways producers write it."""
    keys = list(value) if isinstance(value, dict) else None
    if keys and draw(st.booleans()):
        value = {k: value[k] for k in draw(st.permutations(keys))}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")]))
    return json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))


@st.composite
def line(draw, earlier: list[bytes]) -> bytes:
    kind = draw(st.sampled_from(["record"] * 4 + ["envelope", "envelope", "field", "field", "again", "again",
                                                   "conflict", "blank", "junk", "lenient", "lenient", "utf8",
                                                   "long", "space", "twice"]))
    if kind == "again" and earlier:
        previous = draw(st.sampled_from(earlier))
        if draw(st.booleans()):
            return previous  # redelivered as it was
        try:
            return dumps(draw, json.loads(previous)).encode()  # the same content, written otherwise
        except ValueError:
            return previous
    if kind == "conflict" and earlier:
        try:
            rec = json.loads(draw(st.sampled_from(earlier)))
        except ValueError:
            rec = None
        if isinstance(rec, dict):
            rec["note"] = draw(st.sampled_from(["changed", 1, 1.0, None]))  # other content, same key
            return dumps(draw, rec).encode()
    if kind == "blank":
        return draw(st.sampled_from([b"", b"   ", b"\t", b" \r", b"\x0b\x0c"]))
    if kind == "junk":
        return draw(st.sampled_from([b"[1,2]", b'"text"', b"42", b"null", b"hello", b'{"a":1} {"b":2}',
                                     b'{"specversion":"1.0","id":"cut', b"{", b"true"]))
    # The line-level changes below go on valid records, where the fast tier must still see them.
    text = dumps(draw, draw(record(kind if kind in ("envelope", "field") else None)))
    if kind == "lenient":
        text = draw(st.sampled_from([
            text[:-1] + ",}", text[:-1] + " , }", re.sub(r'"data": ?\{', lambda m: m.group(0) + '"x":NaN,', text, count=1),
            text[:-1] + ',"x":-Infinity}', text[:-1] + ',"x":[nAn]}', text[:-1] + ',"x":inf}', text.replace("}", ",]}", 1)]))
    if kind == "utf8":
        at = draw(st.integers(0, len(text)))
        return text[:at].encode() + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9"])) + text[at:].encode()
    if kind == "long":
        text = text[:-1] + ',"padding":"' + "p" * draw(st.integers(3000, 9000)) + '"}'
    if kind == "twice":  # a key given twice: the first one counts
        text = text[:-1] + draw(st.sampled_from([',"city":5}', ',"id":"other"}', ',"data":"x"}', ',"specversion":2}']))
    if kind == "space":
        text = draw(st.sampled_from([" ", "\t", "\r"])) + text + draw(st.sampled_from(["", " ", "\r"]))
    return text.encode()


@st.composite
def stream(draw) -> list[bytes]:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 60))):
        lines.append(draw(line(lines)))
    return lines


# --- The test ------------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("PULSE_PROPERTY_EXAMPLES", "20"))


def stored(data_dir: Path):
    """(events, rejects) of the warehouse in `data_dir`, read straight from its file."""
    con = duckdb.connect(str(data_dir / "pulse.duckdb"), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        events = con.execute("SELECT seq, source, id, type, time, city, data, raw FROM events ORDER BY seq").fetchall()
        rejects = con.execute("SELECT location, reason, raw FROM rejects ORDER BY location").fetchall()
    finally:
        con.close()
    return ([(seq, source, id_, type_, time, city, None if data is None else json.loads(data), raw)
             for seq, source, id_, type_, time, city, data, raw in events], rejects)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])  # (each example has its own folders)
@given(lines=stream(), batch_bytes=st.sampled_from([4096, 64 * 1024 * 1024, 64 * 1024 * 1024]), newline_at_end=st.booleans())
def test_fast_tier_and_full_case_alone_agree_with_the_contract(make_config, monkeypatch_module, lines, batch_bytes,
                                                               newline_at_end):
    folder = Path(tempfile.mkdtemp(prefix="pulse-tiers-"))
    try:
        path = folder / "in.ndjson"
        path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
        want_events, want_rejects, want_counts = expected(path, lines)
        results = []
        for fast_path in (True, False):
            data_dir = folder / f"w-{fast_path}"
            config = make_config(warehouse={"data_dir": str(data_dir)}, ingest={"batch_bytes": batch_bytes})
            with monkeypatch_module.context() as patch:
                patch.setattr(loader, "commit_batch", functools.partial(_commit_batch, fast_path=fast_path))
                summary = ingest(config, files=[str(path)])
            results.append(((summary.accepted, summary.duplicates, summary.rejected), *stored(data_dir)))
        for counts, events, rejects in results:
            assert events == want_events
            assert sorted(rejects) == sorted(want_rejects)
            assert counts == want_counts
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_commit_batch = loader.commit_batch


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
