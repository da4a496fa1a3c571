"""Validation of raw records against the contract, in two tiers over a whole batch, as SQL.

A record-by-record Python loop is several times slower than DuckDB here, so the contract
(`contract.py`) is turned into SQL, twice, from the same rules:

- The fast tier (`judge_query`) parses every line once and asks one conjunction: is this a fully
  valid record? Almost every line is, and for those no reason needs to be picked. It is allowed
  to say no to a valid record (a string with an escape, a line that starts with whitespace, an
  unknown type, a lower-case `t` in a time, a line that might be lenient JSON), never yes to a
  bad one: whatever it does not accept goes to the full tier.
- The full tier (`reasons_query`) runs the CASE that picks the first reject reason that
  applies, in the contract's order, on the lines the fast tier did not accept; for a line that
  turns out valid after all it gives the same columns the fast tier would have.

Both tiers are built from one list of rules (`_envelope_rules`, `_type_rules`) and one set of
field predicates (`field_is_valid`); they differ only in how a JSON string's text is read
(`_Reading`): the full tier resolves escapes, the fast tier takes strings without any.

DuckDB's JSON reader (yyjson) also takes trailing commas and NaN/Infinity, which JSON does not.
The fast tier refuses every line that might hold either (`might_be_lenient`: a cheap test, and
the NaN/Infinity regex only where `nan` or `inf` occurs at all); of those, the full tier's
caller checks the lines `LENIENT_JSON` matches with a strict parser and hands the verdict in as
`not_strict` (false alarms cost only time). Everything here is pure: it builds SQL text;
`loader.py` runs it.

Relations: `judge_query` reads `(ord, raw, utf8_ok)` and returns one row per line: `ord, ok, raw, utf8_ok`
and, where `ok`, the columns the events table keeps (`key_hash = hash(source, id)`).
`reasons_query` reads `(ord, raw, utf8_ok, not_strict)` and returns `ord, blank, reason` (NULL
when valid) and the same columns where the record is valid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from jobs.ingest.contract import (
    COUNT, ENVELOPE, ENVELOPE_REASONS, EVENT_TYPES, ID, INSTANT, RSVP_STATUS, RSVP_STATUSES, TEXT, TIMEZONE,
    Field, all_data_fields,
)

# RFC 3339 date-time with a mandatory offset. Hours are limited to 00-23 here because DuckDB's
# cast accepts `24:00:00`; impossible dates (Feb 30) are left to the cast, which refuses them.
RFC3339 = (
    r"\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
# What the contract calls whitespace on a blank line (Python's str.isspace for ASCII).
BLANK_CHARS = " \t\n\r\x0b\x0c"
SLUG = r"[a-z0-9][a-z0-9-]*"
# What yyjson takes and JSON does not: a comma before a closing bracket, and NaN/Infinity in any
# letter case (yyjson compares each letter both ways). Lines where this matches are checked again
# with a strict parser.
TRAILING_COMMA = r",\s*[}\]]"
NAN_OR_INFINITY = r"[:\[,]\s*[-+]?(?i:nan|inf)"
LENIENT_JSON = f"{TRAILING_COMMA}|{NAN_OR_INFINITY}"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _shape(names) -> str:
    """A `from_json` shape reading each named key as a JSON value (absent and null become NULL)."""
    return _sql_str(json.dumps({name: "JSON" for name in names}))


@dataclass(frozen=True)
class _Reading:
    """How a tier reads a JSON value that should be a string.

    DuckDB hands JSON values back re-serialized compactly, so a string is `"..."`, with a
    backslash only where the text holds a quote, a backslash or a control character. Slicing off
    the quotes is far cheaper than parsing the value again, and exact when there is no escape.
    The full tier parses the escaped ones; the fast tier does not take them at all.
    """
    resolves_escapes: bool

    def is_string(self, value: str) -> str:
        if self.resolves_escapes:
            return f"starts_with({value}, '\"')"
        return f"(starts_with({value}, '\"') AND NOT contains({value}, '\\'))"

    def text(self, value: str) -> str:
        """The string's text; only meaningful where `is_string(value)` holds."""
        if self.resolves_escapes:
            return f"(CASE WHEN contains({value}, '\\') THEN {value} ->> '$' ELSE {value}[2:-2] END)"
        return f"{value}[2:-2]"

    def instant(self, text: str) -> str:
        """SQL TIMESTAMPTZ of an RFC 3339 text (NULL when it is no real instant)."""
        # DuckDB's cast only reads an upper-case `T`/`Z`, which RFC 3339 also allows in lower case.
        # The fast tier leaves those (rare) to the full one rather than copy every text.
        return f"try_cast({'upper(' + text + ')' if self.resolves_escapes else text} AS TIMESTAMPTZ)"


FULL = _Reading(resolves_escapes=True)
FAST = _Reading(resolves_escapes=False)


def _is_instant(value: str, reading: _Reading) -> str:
    text = reading.text(value)
    return (f"({reading.is_string(value)} AND regexp_full_match({text}, {_sql_str(RFC3339)}) "
            f"AND {reading.instant(text)} IS NOT NULL)")


def field_is_valid(kind: str, value: str, reading: _Reading = FULL) -> str:
    """SQL predicate: the JSON value `value` (not NULL) is a valid field of `kind`."""
    if kind == ID:
        return f"({reading.is_string(value)} AND {value} <> '\"\"')"
    if kind == TEXT:
        return f"({reading.is_string(value)})"
    if kind == INSTANT:
        return _is_instant(value, reading)
    if kind == COUNT:
        # A JSON integer >= 0; DuckDB types 5 as UBIGINT, -0 as BIGINT, 5.0 as DOUBLE.
        return (f"(json_type({value}) = 'UBIGINT' OR "
                f"(json_type({value}) = 'BIGINT' AND try_cast({value} AS BIGINT) = 0))")
    if kind == TIMEZONE:
        return f"({reading.is_string(value)} AND {reading.text(value)} IN (SELECT name FROM known_timezones))"
    if kind == RSVP_STATUS:
        statuses = ", ".join(_sql_str(s) for s in RSVP_STATUSES)
        return f"({reading.is_string(value)} AND {reading.text(value)} IN ({statuses}))"
    raise ValueError(f"unknown field kind {kind!r}")


def _known_type(type_text: str) -> str:
    return f"{type_text} IN ({', '.join(_sql_str(t) for t in EVENT_TYPES)})"


def _envelope_rules(reading: _Reading) -> list[tuple[str, str]]:
    """(reason, SQL true when it applies) for the envelope, in the contract's order, from
    `bad_specversion` on (the reasons before it are about the line, not the record).

    Each condition may assume the ones before it were false: that is how the full tier reads
    them (a CASE) and the fast tier is a conjunction of all their negations, which asks more.
    """
    def nonempty(value: str) -> str:
        return f"({reading.is_string(value)} AND {value} <> '\"\"')"

    return [
        ("bad_specversion", "e.specversion IS DISTINCT FROM '\"1.0\"'"),
        ("missing_id", "e.id IS NULL"),
        ("missing_source", "e.source IS NULL"),
        ("missing_type", "e.type IS NULL"),
        ("bad_id", f"NOT {nonempty('e.id')}"),
        ("bad_source", f"NOT {nonempty('e.source')}"),
        ("bad_type", f"NOT {nonempty('e.type')}"),
        ("missing_time", "e.time IS NULL"),
        ("bad_time", f"NOT {_is_instant('e.time', reading)}"),
        ("missing_city", "e.city IS NULL"),
        ("bad_city", f"NOT ({reading.is_string('e.city')} AND "
                     f"regexp_full_match({reading.text('e.city')}, {_sql_str(SLUG)}))"),
        ("missing_data", f"e.data IS NULL AND {_known_type(reading.text('e.type'))}"),
        ("bad_data", "e.data IS NOT NULL AND NOT starts_with(e.data, '{')"),
    ]


# The contract's list is the authority on the order; the rules above must follow it exactly.
_LINE_REASONS = ("invalid_utf8", "invalid_json", "not_object")
if _LINE_REASONS + tuple(reason for reason, _ in _envelope_rules(FULL)) != ENVELOPE_REASONS:
    raise RuntimeError("validation.py's envelope rules are out of step with contract.ENVELOPE_REASONS")


def _type_rules(fields: tuple[Field, ...], reading: _Reading) -> list[tuple[str, str]]:
    """(reason, SQL true when it applies) for one type's `data` (read as struct `d`): every
    missing required field, then every bad field, in the contract's order."""
    rules = [(f"missing_field:{f.name}", f"d.{_ident(f.name)} IS NULL") for f in fields if f.required]
    rules += [(f"bad_field:{f.name}",
               f"d.{_ident(f.name)} IS NOT NULL AND NOT {field_is_valid(f.kind, 'd.' + _ident(f.name), reading)}")
              for f in fields]
    return rules


def _none_applies(rules: list[tuple[str, str]]) -> str:
    return " AND ".join(f"NOT ({condition})" for _, condition in rules)


def _envelope_shape() -> str:
    return _shape(ENVELOPE)


def _data_shape() -> str:
    return _shape(all_data_fields())


def judge_query(relation: str, *, fast: bool = True) -> str:
    """The fast tier over `relation`; see the module docstring. With `fast=False` it accepts
    nothing, so every line goes to the full tier (how the tests compare the two)."""
    # The cheap tests first: a line is a record only if it starts with `{` (the fast tier leaves
    # leading whitespace to the full one), and it might be lenient JSON only if it holds a comma
    # before a closing bracket, or `nan`/`inf` in some letter case where the regex then matches.
    # (Two case-blind literals cost a third of one regex for both, or of ILIKE: RE2 skips ahead
    # to a single literal's first letter, in either case.)
    might_be_lenient = (f"(regexp_matches(raw, {_sql_str(TRAILING_COMMA)}) OR "
                        f"((regexp_matches(raw, '(?i)nan') OR regexp_matches(raw, '(?i)inf')) "
                        f"AND regexp_matches(raw, {_sql_str(NAN_OR_INFINITY)})))")
    type_cases = " ".join(
        f"WHEN {_sql_str(json.dumps(name))} THEN {_none_applies(_type_rules(fields, FAST))}"
        for name, fields in EVENT_TYPES.items())
    accepted = (f"e IS NOT NULL AND {_none_applies(_envelope_rules(FAST))} "
                f"AND CASE e.type {type_cases} ELSE false END") if fast else "false"
    return f"""
WITH parsed AS (
    SELECT ord, raw, utf8_ok,
           CASE WHEN utf8_ok AND starts_with(raw, '{{') AND NOT {might_be_lenient}
                THEN try(from_json(raw, {_envelope_shape()})) END AS e
    FROM {relation}
),
fields AS (
    SELECT ord, raw, utf8_ok, e, try(from_json(e.data, {_data_shape()})) AS d FROM parsed
),
judged AS (
    SELECT ord, raw, utf8_ok, e, coalesce({accepted}, false) AS ok FROM fields
)
SELECT ord, ok, raw, utf8_ok,
       CASE WHEN ok THEN {FAST.text('e.source')} END AS source,
       CASE WHEN ok THEN {FAST.text('e.id')} END AS id,
       CASE WHEN ok THEN {FAST.text('e.type')} END AS type,
       CASE WHEN ok THEN CAST({FAST.text('e.time')} AS TIMESTAMPTZ) END AS time,
       CASE WHEN ok THEN {FAST.text('e.city')} END AS city,
       CASE WHEN ok THEN e.data END AS data,
       CASE WHEN ok THEN hash({FAST.text('e.source')}, {FAST.text('e.id')}) END AS key_hash
FROM judged
"""


def reasons_query(relation: str) -> str:
    """The full tier over `relation`; see the module docstring for its columns."""
    type_branches = "\n            ".join(
        f"WHEN type = {_sql_str(name)} THEN CASE "
        + " ".join(f"WHEN {condition} THEN {_sql_str(reason)}" for reason, condition in _type_rules(fields, FULL))
        + " END"
        for name, fields in EVENT_TYPES.items())
    envelope_branches = "\n            ".join(
        f"WHEN {condition} THEN {_sql_str(reason)}" for reason, condition in _envelope_rules(FULL))
    return f"""
WITH parsed AS (
    SELECT ord, raw, utf8_ok, not_strict,
           CASE WHEN utf8_ok AND NOT not_strict THEN try(from_json(raw, {_envelope_shape()})) END AS e
    FROM {relation}
),
envelope AS (
    SELECT *,
           -- (CASE, not AND: the trims copy the line, so only where the cheap test is not enough)
           CASE WHEN e IS NOT NULL THEN false ELSE trim(raw, {_sql_str(BLANK_CHARS)}) = '' END AS blank,
           -- from_json reads an array or a scalar as a record of NULLs, so look at the first byte
           CASE WHEN e IS NULL THEN false WHEN raw[1] = '{{' THEN true
                ELSE ltrim(raw, {_sql_str(BLANK_CHARS)})[1] = '{{' END AS is_object,
           CASE WHEN {FULL.is_string('e.type')} THEN {FULL.text('e.type')} END AS type
    FROM parsed
),
with_data AS (
    SELECT *, try(from_json(e.data, {_data_shape()})) AS d FROM envelope
),
judged AS (
    SELECT ord, raw, e, blank,
        CASE
            WHEN blank THEN NULL
            WHEN NOT utf8_ok THEN 'invalid_utf8'
            WHEN not_strict OR (e IS NULL AND NOT coalesce(json_valid(raw), false)) THEN 'invalid_json'
            WHEN NOT is_object THEN 'not_object'
            {envelope_branches}
            {type_branches}
        END AS reason
    FROM with_data
)
SELECT ord, blank, reason,
       CASE WHEN reason IS NULL AND NOT blank THEN {FULL.text('e.source')} END AS source,
       CASE WHEN reason IS NULL AND NOT blank THEN {FULL.text('e.id')} END AS id,
       CASE WHEN reason IS NULL AND NOT blank THEN {FULL.text('e.type')} END AS type,
       CASE WHEN reason IS NULL AND NOT blank THEN {FULL.instant(FULL.text('e.time'))} END AS time,
       CASE WHEN reason IS NULL AND NOT blank THEN {FULL.text('e.city')} END AS city,
       CASE WHEN reason IS NULL AND NOT blank THEN e.data END AS data,
       CASE WHEN reason IS NULL AND NOT blank THEN hash({FULL.text('e.source')}, {FULL.text('e.id')}) END AS key_hash
FROM judged
"""
