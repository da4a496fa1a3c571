"""Every reject reason of the contract, each on a line of its own, with the reason expected.

The lines go through the real path (a file, `pulse ingest --file`'s code, a DuckDB warehouse) in
one file, so this also shows the rest of a batch is accepted around its bad lines.
"""

from __future__ import annotations

import json

import pytest

from jobs.ingest.run import ingest
from tests.support.records import envelope, line, query

CREATED = {"event_id": "m1", "title": "Python night", "starts_at": "2026-04-01T18:30:00+11:00"}


def env(**changes):
    """A valid joined_city envelope with attributes changed (None removes one)."""
    record = envelope(id="x")
    for key, value in changes.items():
        if value is _ABSENT:
            record.pop(key)
        else:
            record[key] = value
    return line(record)


_ABSENT = object()


def typed(type_name, data, **changes):
    return env(type=type_name, data=data, **changes)


CASES = [
    # (what, the raw line, the reason expected or None when accepted)
    ("valid", env(), None),
    ("not utf-8", b'{"specversion":"1.0","id":"\xff"}', "invalid_utf8"),
    ("cut short", env()[:40], "invalid_json"),
    ("not json", "hello world", "invalid_json"),
    ("two values", '{"a":1} {"b":2}', "invalid_json"),
    ("trailing comma", env()[:-1] + ',}', "invalid_json"),
    ("trailing comma in data", env(data={"user_id": "u"}).replace('"u"}', '"u",}'), "invalid_json"),
    ("NaN", typed("event:created", {**CREATED, "capacity": 1}).replace('"capacity":1', '"capacity":NaN'), "invalid_json"),
    ("-Infinity", typed("event:created", {**CREATED, "capacity": 1}).replace('"capacity":1', '"capacity": -Infinity'), "invalid_json"),
    ("nan, inf in text are fine", typed("event:created", {**CREATED, "title": "nan,inf:nan [,]"}), None),
    ("array", "[1,2]", "not_object"),
    ("string", '"text"', "not_object"),
    ("number", "42", "not_object"),
    ("null", "null", "not_object"),
    ("no specversion", env(specversion=_ABSENT), "bad_specversion"),
    ("numeric specversion", env(specversion=1.0), "bad_specversion"),
    ("other specversion", env(specversion="1.1"), "bad_specversion"),
    ("no id nor source", env(id=_ABSENT, source=_ABSENT), "missing_id"),
    ("null id", env(id=None), "missing_id"),
    ("bad id, no source: missing comes first", env(id=5, source=_ABSENT), "missing_source"),
    ("empty id, no type", env(id="", type=_ABSENT), "missing_type"),
    ("empty id", env(id=""), "bad_id"),
    ("numeric id", env(id=7), "bad_id"),
    ("empty source", env(source=""), "bad_source"),
    ("numeric type", env(type=3), "bad_type"),
    ("empty type", env(type=""), "bad_type"),
    ("no time, bad city", env(time=_ABSENT, city="Sydney!"), "missing_time"),
    ("null time", env(time=None), "missing_time"),
    ("time without offset", env(time="2026-03-05T09:12:44"), "bad_time"),
    ("February 30", env(time="2026-02-30T09:12:44Z"), "bad_time"),
    ("hour 25", env(time="2026-03-05T25:00:00Z"), "bad_time"),
    ("hour 24", env(time="2026-03-05T24:00:00Z"), "bad_time"),
    ("epoch number", env(time=1772662364), "bad_time"),
    ("date only", env(time="2026-03-05"), "bad_time"),
    ("no city", env(city=_ABSENT), "missing_city"),
    ("capital city", env(city="Sydney"), "bad_city"),
    ("punctuated city", env(city="sydney!"), "bad_city"),
    ("city starting with -", env(city="-sydney"), "bad_city"),
    ("empty city", env(city=""), "bad_city"),
    ("numeric city", env(city=5), "bad_city"),
    ("no data, known type", env(data=_ABSENT), "missing_data"),
    ("null data, known type", env(data=None), "missing_data"),
    ("no data, unknown type: kept", env(type="poll:created", data=_ABSENT), None),
    ("array data, unknown type", env(type="poll:created", data=[1]), "bad_data"),
    ("string data", env(data="u1"), "bad_data"),
    ("bad data but bad time first", env(data="u1", time="yesterday"), "bad_time"),
    ("no user_id", typed("user:joined_city", {}), "missing_field:user_id"),
    ("null user_id", typed("user:left_city", {"user_id": None}), "missing_field:user_id"),
    ("empty user_id", typed("user:left_city", {"user_id": ""}), "bad_field:user_id"),
    ("numeric user_id", typed("user:joined_city", {"user_id": 5}), "bad_field:user_id"),
    ("extra fields kept", typed("user:joined_city", {"user_id": "u", "via": {"x": 1}}), None),
    ("rsvp: missing before bad", typed("event:rsvp", {"user_id": 5, "status": "maybe"}), "missing_field:event_id"),
    ("rsvp: bad user", typed("event:rsvp", {"event_id": "m", "user_id": 5, "status": "maybe"}), "bad_field:user_id"),
    ("rsvp: no status", typed("event:rsvp", {"event_id": "m", "user_id": "u"}), "missing_field:status"),
    ("rsvp: unknown status", typed("event:rsvp", {"event_id": "m", "user_id": "u", "status": "maybe"}), "bad_field:status"),
    ("rsvp: status case", typed("event:rsvp", {"event_id": "m", "user_id": "u", "status": "Going"}), "bad_field:status"),
    ("rsvp: waitlist", typed("event:rsvp", {"event_id": "m", "user_id": "u", "status": "waitlist"}), None),
    ("created: all missing before bad", typed("event:created", {"event_id": 5, "starts_at": "x"}), "missing_field:title"),
    ("created: valid", typed("event:created", CREATED), None),
    ("created: empty title is fine", typed("event:created", {**CREATED, "title": ""}), None),
    ("created: starts_at without offset", typed("event:created", {**CREATED, "starts_at": "2026-04-01T18:30:00"}), "bad_field:starts_at"),
    ("created: bad ends_at", typed("event:created", {**CREATED, "ends_at": "soon"}), "bad_field:ends_at"),
    ("created: numeric venue", typed("event:created", {**CREATED, "venue": 12}), "bad_field:venue"),
    ("created: null venue is absent", typed("event:created", {**CREATED, "venue": None}), None),
    ("created: negative capacity", typed("event:created", {**CREATED, "capacity": -3}), "bad_field:capacity"),
    ("created: fractional capacity", typed("event:created", {**CREATED, "capacity": 2.5}), "bad_field:capacity"),
    ("created: 10.0 is not an integer", typed("event:created", {**CREATED, "capacity": 10.0}), "bad_field:capacity"),
    ("created: capacity as text", typed("event:created", {**CREATED, "capacity": "10"}), "bad_field:capacity"),
    ("created: capacity true", typed("event:created", {**CREATED, "capacity": True}), "bad_field:capacity"),
    ("created: zero capacity", typed("event:created", {**CREATED, "capacity": 0}), None),
    ("updated: only the id", typed("event:updated", {"event_id": "m1"}), None),
    ("updated: numeric title", typed("event:updated", {"event_id": "m1", "title": 5}), "bad_field:title"),
    ("cancelled: numeric reason", typed("event:cancelled", {"event_id": "m1", "reason": 0}), "bad_field:reason"),
    ("checked in: no user", typed("event:checked_in", {"event_id": "m1"}), "missing_field:user_id"),
    ("city: unknown timezone", typed("city:upserted", {"name": "Sydney", "timezone": "Mars/Olympus"}), "bad_field:timezone"),
    ("city: host-only timezone", typed("city:upserted", {"name": "Sydney", "timezone": "localtime"}), "bad_field:timezone"),
    ("city: timezone case", typed("city:upserted", {"name": "Sydney", "timezone": "australia/sydney"}), "bad_field:timezone"),
    ("city: valid", typed("city:upserted", {"name": "Sydney", "timezone": "Australia/Sydney", "region": "au"}), None),
    ("city: no name", typed("city:upserted", {"timezone": "Australia/Sydney"}), "missing_field:name"),
    ("post: no title", typed("blog:post_published", {"post_id": "p"}), "missing_field:title"),
    ("post: empty author", typed("blog:post_published", {"post_id": "p", "title": "t", "author_id": ""}), "bad_field:author_id"),
    ("view: valid", typed("blog:post_viewed", {"post_id": "p", "visitor_id": "v"}), None),
    ("view: empty user", typed("blog:post_viewed", {"post_id": "p", "visitor_id": "v", "user_id": ""}), "bad_field:user_id"),
    ("view: numeric referrer", typed("blog:post_viewed", {"post_id": "p", "visitor_id": "v", "referrer": 1}), "bad_field:referrer"),
]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """Ingest all cases, each with its own id, in one file; map line number → reason (None: accepted)."""
    from pulse.core import config as config_module

    folder = tmp_path_factory.mktemp("validation")
    config = config_module.from_dict({"warehouse": {"data_dir": str(folder / "w")}}, base_dir=folder)
    lines = []
    for index, (_, raw, _) in enumerate(CASES):
        if isinstance(raw, str) and raw.startswith("{") and '"id":"x"' in raw:
            raw = raw.replace('"id":"x"', f'"id":"case-{index}"', 1)
        lines.append(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    path = folder / "cases.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest(config, files=[str(path)])
    rejects = {loc.rsplit(":", 1)[1]: reason for loc, reason in query(config, "SELECT location, reason FROM rejects")}
    accepted = {row[0] for row in query(config, "SELECT raw FROM events")}
    return summary, rejects, accepted, lines


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case[0] for case in CASES])
def test_each_line_gets_the_first_reason_that_applies(outcome, index):
    _, rejects, accepted, lines = outcome
    expected = CASES[index][2]
    assert rejects.get(str(index + 1)) == expected
    if expected is None:
        assert lines[index].decode() in accepted


def test_the_rest_of_the_batch_goes_in(outcome):
    summary, rejects, accepted, _ = outcome
    assert summary.rejected == sum(1 for case in CASES if case[2] is not None) == len(rejects)
    assert summary.accepted == sum(1 for case in CASES if case[2] is None) == len(accepted)


def test_accepted_envelope_columns(config, tmp_path):
    record = envelope(id="a", type="event:created", data=CREATED, time="2026-03-05T09:12:44.120+11:00")
    path = tmp_path / "one.ndjson"
    path.write_text(line(record) + "\n")
    ingest(config, files=[str(path)])
    [(source, id_, type_, time, city, data)] = query(
        config, "SELECT source, id, type, strftime(time, '%Y-%m-%dT%H:%M:%S.%g'), city, data FROM events")
    assert (source, id_, type_, city) == ("platform/au", "a", "event:created", "sydney")
    assert time == "2026-03-04T22:12:44.120"  # 09:12 at +11:00 is 22:12 the day before in UTC
    assert json.loads(data) == CREATED


def _first_key_wins(pairs):
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def test_data_is_read_from_the_stored_line(config, tmp_path):
    """`data` is not stored apart from the line (migration 002): the view `events` reads it from
    `raw`. Whatever the line's spacing, escapes, key order or repeated keys, it is the line's
    `data` as a JSON value (the first of repeated keys, as the envelope is read), and NULL for
    an unknown type sent without it or with `null`."""
    base = '"specversion":"1.0","source":"platform/au","time":"2026-03-05T09:00:00Z","city":"sydney"'
    lines = {
        "spaced": '{' + base + ', "id":"a", "type":"user:joined_city", "data" : { "user_id" : "u1" , "n": [1, 2.50] } }',
        "escaped": '{' + base + ',"id":"b","type":"user:joined_city","data":{"user_id":"\\u00e9\\"\\/\\ud83d\\ude00"}}',
        "repeated data": '{' + base + ',"id":"c","type":"user:joined_city","data":{"user_id":"first"},"data":{"user_id":"second"}}',
        "repeated field": '{' + base + ',"id":"d","type":"user:joined_city","data":{"user_id":"one","user_id":"two"}}',
        "leading space": '  {' + base + ',"id":"e","type":"user:joined_city","data":{"user_id":"u5"}}',
        "data last then other": '{"data":{"user_id":"u6","x":{"y":null}},' + base + ',"id":"f","type":"user:joined_city"}',
        "unknown, no data": '{' + base + ',"id":"g","type":"partner:thing"}',
        "unknown, null data": '{' + base + ',"id":"h","type":"partner:thing","data":null}',
        "unknown, object": '{' + base + ',"id":"i","type":"partner:thing","data":{"deep":{"k":[true,false,null]}}}',
    }
    path = tmp_path / "odd.ndjson"
    path.write_text("\n".join(lines.values()) + "\n", encoding="utf-8")
    summary = ingest(config, files=[str(path)])
    assert (summary.accepted, summary.rejected) == (len(lines), 0)
    stored = dict(query(config, "SELECT raw, data FROM events"))
    for name, raw in lines.items():
        expected = json.loads(raw, object_pairs_hook=_first_key_wins).get("data")
        data = stored[raw]
        if expected is None:
            assert data is None, name  # (SQL NULL, not the JSON text `null`)
        else:
            assert json.loads(data, object_pairs_hook=_first_key_wins) == expected, name
