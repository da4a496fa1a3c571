"""Validation of raw records against the contract, as one SQL query over a whole batch.

A record-by-record Python loop is several times slower than DuckDB here, so the contract
(`contract.py`) is turned into SQL once: each line is parsed once into the envelope's
attributes (as JSON values) and once more into every `data` field any type knows, and one CASE
picks the first reject reason that applies, in the contract's order. Everything here is pure:
it builds SQL text; `loader.py` runs it.

The query reads a relation `batch(ord, loc_prefix, loc_number, raw, utf8_ok)`, and
`not_strict_json(ord)`: lines DuckDB's lenient JSON reader accepts but JSON does not (see
`LENIENT_JSON`), found beforehand by `loader.py`. It returns one row
per non-blank line: `ord, location, raw, reason` (NULL when valid) and the envelope columns the
events table keeps, with `key_hash = hash(source, id)`.
"""

from __future__ import annotations

import json

from jobs.ingest.contract import (
    COUNT, EVENT_TYPES, ID, INSTANT, RSVP_STATUS, RSVP_STATUSES, TEXT, TIMEZONE, all_data_fields,
)

# RFC 3339 date-time with a mandatory offset. Hours are limited to 00-23 here because DuckDB's
# cast accepts `24:00:00`; impossible dates (Feb 30) are left to the cast, which refuses them.
RFC3339 = (
    r"\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
# What the contract calls whitespace on a blank line (Python's str.isspace for ASCII).
BLANK_CHARS = " \t\n\r\x0b\x0c"
SLUG = r"[a-z0-9][a-z0-9-]*"
# DuckDB's JSON reader (yyjson) also takes trailing commas and NaN/Infinity, which JSON does not.
# Lines where this matches are checked again with a strict parser (false alarms only cost time).
LENIENT_JSON = r",\s*[}\]]|[:\[,]\s*[-+]?(?i:nan|inf)"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _shape(names) -> str:
    """A `from_json` shape reading each named key as a JSON value (absent and null become NULL)."""
    return _sql_str(json.dumps({name: "JSON" for name in names}))


def _text(value: str) -> str:
    """The SQL text of a JSON string value, escapes resolved.

    DuckDB hands JSON values back re-serialized compactly, so a string is `"..."`: slicing off
    the quotes is far cheaper than parsing it again, and only needed when it holds no escape.
    """
    return f"(CASE WHEN contains({value}, '\\') THEN {value} ->> '$' ELSE {value}[2:-2] END)"


def _is_string(value: str) -> str:
    return f"starts_with({value}, '\"')"


def _is_instant(value: str) -> str:
    text = _text(value)
    return (f"({_is_string(value)} AND regexp_full_match({text}, {_sql_str(RFC3339)}) "
            f"AND try_cast(upper({text}) AS TIMESTAMPTZ) IS NOT NULL)")


def field_is_valid(kind: str, value: str) -> str:
    """SQL predicate: the JSON value `value` (not NULL) is a valid field of `kind`."""
    if kind == ID:
        return f"({_is_string(value)} AND {value} <> '\"\"')"
    if kind == TEXT:
        return f"({_is_string(value)})"
    if kind == INSTANT:
        return _is_instant(value)
    if kind == COUNT:
        # A JSON integer >= 0; DuckDB types 5 as UBIGINT, -0 as BIGINT, 5.0 as DOUBLE.
        return (f"(json_type({value}) = 'UBIGINT' OR "
                f"(json_type({value}) = 'BIGINT' AND try_cast({value} AS BIGINT) = 0))")
    if kind == TIMEZONE:
        return f"({_is_string(value)} AND {_text(value)} IN (SELECT name FROM known_timezones))"
    if kind == RSVP_STATUS:
        statuses = ", ".join(_sql_str(s) for s in RSVP_STATUSES)
        return f"({_is_string(value)} AND {_text(value)} IN ({statuses}))"
    raise ValueError(f"unknown field kind {kind!r}")


def _data_reason(type_name: str, fields) -> str:
    """CASE branches for one type: every missing required field, then every bad field, in order."""
    branches = [f"WHEN d.{_ident(f.name)} IS NULL THEN {_sql_str('missing_field:' + f.name)}"
                for f in fields if f.required]
    branches += [
        f"WHEN d.{_ident(f.name)} IS NOT NULL AND NOT {field_is_valid(f.kind, 'd.' + _ident(f.name))} "
        f"THEN {_sql_str('bad_field:' + f.name)}"
        for f in fields
    ]
    return f"WHEN type = {_sql_str(type_name)} THEN CASE {' '.join(branches)} END"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validation_query(relation: str = "batch") -> str:
    """The SQL that validates `relation`; see the module docstring for its columns."""
    known_types = ", ".join(_sql_str(t) for t in EVENT_TYPES)
    data_reasons = "\n            ".join(_data_reason(t, f) for t, f in EVENT_TYPES.items())
    envelope_shape = _shape(["specversion", "id", "source", "type", "time", "city", "data"])
    return f"""
WITH parsed AS (
    SELECT ord, loc_prefix, loc_number, raw, utf8_ok, not_strict,
           CASE WHEN utf8_ok AND NOT not_strict THEN try(from_json(raw, {envelope_shape})) END AS e
    FROM (SELECT *, ord IN (SELECT ord FROM not_strict_json) AS not_strict FROM {relation})
),
envelope AS (
    SELECT ord, loc_prefix, loc_number, raw, utf8_ok, not_strict, e,
           -- (CASE, not AND: the trims copy the line, so only where the cheap test is not enough)
           CASE WHEN e IS NOT NULL THEN false ELSE trim(raw, {_sql_str(BLANK_CHARS)}) = '' END AS blank,
           -- from_json reads an array or a scalar as a record of NULLs, so look at the first byte
           CASE WHEN e IS NULL THEN false WHEN raw[1] = '{{' THEN true
                ELSE ltrim(raw, {_sql_str(BLANK_CHARS)})[1] = '{{' END AS is_object,
           CASE WHEN {_is_string('e.id')} THEN {_text('e.id')} END AS id,
           CASE WHEN {_is_string('e.source')} THEN {_text('e.source')} END AS source,
           CASE WHEN {_is_string('e.type')} THEN {_text('e.type')} END AS type,
           CASE WHEN {_is_string('e.time')} THEN {_text('e.time')} END AS time_text,
           CASE WHEN {_is_string('e.city')} THEN {_text('e.city')} END AS city,
           e.data AS data
    FROM parsed
),
with_data AS (
    SELECT *, try(from_json(data, {_shape(all_data_fields())})) AS d
    FROM envelope
    WHERE NOT blank
),
judged AS (
    SELECT ord, loc_prefix, loc_number, raw, source, id, type, time_text, city, data,
        CASE
            WHEN NOT utf8_ok THEN 'invalid_utf8'
            WHEN not_strict OR (e IS NULL AND NOT coalesce(json_valid(raw), false)) THEN 'invalid_json'
            WHEN NOT is_object THEN 'not_object'
            WHEN e.specversion IS DISTINCT FROM '"1.0"' THEN 'bad_specversion'
            WHEN e.id IS NULL THEN 'missing_id'
            WHEN e.source IS NULL THEN 'missing_source'
            WHEN e.type IS NULL THEN 'missing_type'
            WHEN id IS NULL OR id = '' THEN 'bad_id'
            WHEN source IS NULL OR source = '' THEN 'bad_source'
            WHEN type IS NULL OR type = '' THEN 'bad_type'
            WHEN e.time IS NULL THEN 'missing_time'
            WHEN NOT {_is_instant('e.time')} THEN 'bad_time'
            WHEN e.city IS NULL THEN 'missing_city'
            WHEN city IS NULL OR NOT regexp_full_match(city, {_sql_str(SLUG)}) THEN 'bad_city'
            WHEN data IS NULL AND type IN ({known_types}) THEN 'missing_data'
            WHEN data IS NOT NULL AND NOT starts_with(data, '{{') THEN 'bad_data'
            {data_reasons}
        END AS reason
    FROM with_data
)
SELECT ord,
       loc_prefix || loc_number AS location,
       raw,
       reason,
       source, id, type,
       CASE WHEN reason IS NULL THEN CAST(upper(time_text) AS TIMESTAMPTZ) END AS time,
       city,
       data,
       CASE WHEN reason IS NULL THEN hash(source, id) END AS key_hash
FROM judged
"""
