"""Validation of raw records against the contract, in two tiers over a whole batch, as SQL.

A record-by-record Python loop is several times slower than DuckDB here, so the contract
(`contract.py`) is turned into SQL, twice, from the same rules and predicates:

- The fast tier (`judge_query`) parses every line once and asks one conjunction: is this a fully
  valid record? Almost every line is, and for those no reason needs to be picked. It may say no
  to a valid record (an id or source holding a quote, backslash or control character, a line
  starting with whitespace, a lower-case `t` in a time, a line that might be lenient JSON), never
  yes to a bad one: whatever it does not accept goes to the full tier.
- The full tier (`reasons_query`) runs the CASE that picks the first reject reason that applies,
  in the contract's order, on the lines the fast tier did not accept; for a line that turns out
  valid after all (or blank) it says so, with the same columns the fast tier would have given.

Both tiers test each attribute and field with the same predicate of its kind (`is_valid`), and
the full tier's CASE is generated from the contract's list of reasons (`_envelope_rules`,
`_type_rules`); the fast tier's conjunction from the same kinds. They differ only in how they
read a string's text (`_Reading`) and in what the fast tier leaves to the full one.

The predicates work on JSON values as DuckDB hands them back: re-serialized in one canonical
form, so a string is `"..."` with a backslash only where its text holds a quote, a backslash or a
control character (an input `\\u00e9` comes back as `é`). So a known name, an RFC 3339 time or a
slug is tested on the quoted value as it is, exactly and without a copy.

DuckDB's JSON reader (yyjson) also takes trailing commas and NaN/Infinity, which JSON does not.
The fast tier refuses every line that might hold either (a cheap test for each, and the
NaN/Infinity regex only where `nan` or `inf` occurs at all); of those, the full tier's caller
checks the lines `LENIENT_JSON` matches with a strict parser and hands the verdict in as
`not_strict` (false alarms cost only time). Everything here is pure: it builds SQL text;
`loader.py` runs it.

Relations: `judge_query` reads `(ord, raw, utf8_ok)` and returns one row per line, in its order:
`ord, ok` and, where `ok`, the columns `event_log` keeps but `raw` and `run_id` (`key_hash =
hash(source, id)`; `data` is not stored, the view `events` reads it from `raw`); the lines
themselves are not copied. `reasons_query` reads `(ord, raw, utf8_ok, not_strict)` and returns
`ord, blank, reason` (NULL when valid or blank) and the same columns where the record is valid.
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

# The SQL variable the loader sets to the IANA names that `timezone` fields are checked against
# (the table known_timezones), each quoted as a JSON string, so a value is looked up as it is.
TIMEZONES_VARIABLE = "pulse_timezones"

# Kinds of the envelope's attributes (contract: "Envelope"), besides the data field kinds.
SPECVERSION = "specversion"  # the string "1.0"
SLUG_KIND = "slug"           # a string `[a-z0-9][a-z0-9-]*`
OBJECT = "object"            # a JSON object
ENVELOPE_KINDS = {"specversion": SPECVERSION, "id": ID, "source": ID, "type": ID, "time": INSTANT,
                  "city": SLUG_KIND, "data": OBJECT}
if tuple(ENVELOPE_KINDS) != ENVELOPE:
    raise RuntimeError("validation.ENVELOPE_KINDS is out of step with contract.ENVELOPE")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted(text: str) -> str:
    """SQL literal of `text` as DuckDB writes it as a JSON string."""
    return _sql_str(json.dumps(text, ensure_ascii=False))


def _matches(value: str, pattern: str) -> str:
    """The JSON value is a string whose whole text matches `pattern` (whose matches hold no `"`
    nor `\\`: such a string is written without escapes, so its quoted form can be matched)."""
    return f"regexp_full_match({value}, {_sql_str(chr(34) + pattern + chr(34))})"


@dataclass(frozen=True)
class _Reading:
    """How a tier reads a string's text: the full tier resolves escapes; the fast tier only reads
    strings it knows have none (it checks, or their kind allows none)."""
    resolves_escapes: bool

    def text(self, value: str) -> str:
        """The text of the JSON string `value`."""
        # (substr, not the slice value[2:-2]: DuckDB's slice of a string costs four times more)
        unquoted = f"substr({value}, 2, length({value}) - 2)"
        if self.resolves_escapes:
            return f"(CASE WHEN contains({value}, '\\') THEN {value} ->> '$' ELSE {unquoted} END)"
        return unquoted

    def instant(self, value: str) -> str:
        """SQL TIMESTAMPTZ of the JSON value when it is an RFC 3339 instant, else NULL."""
        # DuckDB's cast only reads an upper-case `T`/`Z`, which RFC 3339 also allows in lower
        # case: the full tier upper-cases the text; the fast one leaves those (rare) to it.
        text = self.text(value)
        return (f"(CASE WHEN {_matches(value, RFC3339)} "
                f"THEN try_cast({'upper(' + text + ')' if self.resolves_escapes else text} AS TIMESTAMPTZ) END)")


FULL = _Reading(resolves_escapes=True)
FAST = _Reading(resolves_escapes=False)


def is_valid(kind: str, value: str, reading: _Reading = FULL) -> str:
    """SQL predicate: the JSON value `value` is a valid `kind` (NULL when `value` is NULL). The
    same for both tiers but for `instant` (see `_Reading.instant`); never true of `null`."""
    if kind == ID:
        return f"(starts_with({value}, '\"') AND {value} <> '\"\"')"
    if kind == TEXT:
        return f"starts_with({value}, '\"')"
    if kind == INSTANT:
        return f"({value} IS NOT NULL AND {reading.instant(value)} IS NOT NULL)"
    if kind == COUNT:
        # A JSON integer >= 0; DuckDB types 5 as UBIGINT, -0 as BIGINT, 5.0 as DOUBLE.
        return (f"(json_type({value}) = 'UBIGINT' OR "
                f"(json_type({value}) = 'BIGINT' AND try_cast({value} AS BIGINT) = 0))")
    if kind == TIMEZONE:
        # A list lookup, not `IN (SELECT ...)`: DuckDB would join every row of the batch with
        # the names, where only the few `city:upserted` ones need a look.
        return f"list_contains(getvariable('{TIMEZONES_VARIABLE}'), {value})"
    if kind == RSVP_STATUS:
        return f"({value} IN ({', '.join(_quoted(s) for s in RSVP_STATUSES)}))"
    if kind == SPECVERSION:
        return f"({value} = {_quoted('1.0')})"
    if kind == SLUG_KIND:
        return _matches(value, SLUG)
    if kind == OBJECT:
        return f"starts_with({value}, '{{')"
    raise ValueError(f"unknown field kind {kind!r}")


def field_is_valid(kind: str, value: str, reading: _Reading = FULL) -> str:
    """SQL predicate: the JSON value `value` (not NULL) is a valid field of `kind`."""
    return is_valid(kind, value, reading)


def _known_type(type_value: str) -> str:
    """The JSON value `type_value` is one of the contract's types."""
    return f"{type_value} IN ({', '.join(_quoted(t) for t in EVENT_TYPES)})"


_LINE_REASONS = ("invalid_utf8", "invalid_json", "not_object")


def _envelope_rules() -> list[tuple[str, str]]:
    """(reason, SQL true when it applies) for the envelope (read as struct `e`), generated from
    the contract's list of reasons (`missing_X`, `bad_X` for attribute X), in its order, from the
    first after the reasons about the line itself. A rule may assume the ones before it did not
    apply: the full tier reads them as one CASE."""
    if ENVELOPE_REASONS[:len(_LINE_REASONS)] != _LINE_REASONS:
        raise RuntimeError("contract.ENVELOPE_REASONS no longer starts with the reasons about the line")
    reasons = ENVELOPE_REASONS[len(_LINE_REASONS):]
    rules = []
    for reason in reasons:
        problem, _, attribute = reason.partition("_")
        if attribute not in ENVELOPE_KINDS or problem not in ("missing", "bad"):
            raise RuntimeError(f"contract reason {reason!r} names no envelope attribute")
        value = f"e.{_ident(attribute)}"
        if problem == "missing":
            # `data` is required of the known types only (contract: missing_data).
            rules.append((reason, f"{value} IS NULL" + (f" AND {_known_type('e.type')}" if attribute == "data" else "")))
        else:
            valid = is_valid(ENVELOPE_KINDS[attribute], value, FULL)
            # Absent is bad where the contract has no missing_X (specversion); else absent is
            # either caught above or allowed (data of an unknown type).
            rules.append((reason, f"{value} IS NOT NULL AND NOT {valid}" if f"missing_{attribute}" in reasons
                          else f"NOT coalesce({valid}, false)"))
    return rules


def _type_rules(fields: tuple[Field, ...]) -> list[tuple[str, str]]:
    """(reason, SQL true when it applies) for one type's `data` (read as struct `d`): every
    missing required field, then every bad field, in the contract's order."""
    rules = [(f"missing_field:{f.name}", f"d.{_ident(f.name)} IS NULL") for f in fields if f.required]
    rules += [(f"bad_field:{f.name}",
               f"d.{_ident(f.name)} IS NOT NULL AND NOT {is_valid(f.kind, 'd.' + _ident(f.name), FULL)}")
              for f in fields]
    return rules


def _fast_fields_valid(fields: tuple[Field, ...]) -> str:
    """The fast tier's test of one type's `data` fields, read as list `dl` (one JSON value per
    field, in the contract's order; a key that is absent gives NULL, one that is null `null`)."""
    checks = []
    for index, f in enumerate(fields, start=1):
        value = f"dl[{index}]"
        valid = is_valid(f.kind, value, FAST)
        checks.append(valid if f.required else f"({value} IS NULL OR {value} = 'null' OR {valid})")
    return " AND ".join(checks)


def _json_path(name: str) -> str:
    return "$." + json.dumps(name)


def _shape(names) -> str:
    """A `from_json` shape reading each named key as a JSON value (absent and null become NULL)."""
    return _sql_str(json.dumps({name: "JSON" for name in names}))


def judge_query(relation: str, *, fast: bool = True) -> str:
    """The fast tier over `relation`; see the module docstring. With `fast=False` it accepts
    nothing, so every line goes to the full tier (how the tests compare the two)."""
    def value(attribute: str) -> str:
        return f"e.{_ident(attribute)}"

    # Every attribute's kind; `time` is cast once, for the test and for its column; the text of
    # `source` and `id` is stored, so the fast tier takes them only without escapes.
    envelope = " AND ".join(
        ["ts IS NOT NULL" if attribute == "time" else is_valid(kind, value(attribute), FAST)
         for attribute, kind in ENVELOPE_KINDS.items() if attribute not in ("type", "data")]
        + [f"NOT contains({value(attribute)}, '\\')" for attribute in ("source", "id")])
    # Then per type: a known one has `data`, an object, and its fields; another type is kept as
    # it is, its `data` absent or an object (its name is stored, so without escapes).
    data_object = is_valid(OBJECT, value("data"), FAST)
    per_type = " ".join(
        f"WHEN {_quoted(name)} THEN {data_object} AND {_fast_fields_valid(fields)}"
        for name, fields in EVENT_TYPES.items())
    other_type = (f"{is_valid(ID, value('type'), FAST)} AND NOT contains({value('type')}, '\\') "
                  f"AND ({value('data')} IS NULL OR {data_object})")
    accepted = (f"CASE WHEN {envelope} AND CASE {value('type')} {per_type} ELSE {other_type} END "
                f"THEN true ELSE false END")
    field_lists = " ".join(
        f"WHEN {_quoted(name)} THEN json_extract({value('data')}, "
        f"[{', '.join(_sql_str(_json_path(f.name)) for f in fields)}])"
        for name, fields in EVENT_TYPES.items())
    # A known type's name as a constant costs less than a copy.
    type_name = (f"CASE {value('type')} " + " ".join(f"WHEN {_quoted(name)} THEN {_sql_str(name)}" for name in EVENT_TYPES)
                 + f" ELSE {FAST.text(value('type'))} END")
    # Lines that are no record for the fast tier: not UTF-8, not starting with `{` (it leaves
    # leading whitespace to the full tier), or possibly lenient JSON: a comma before a closing
    # bracket, or `nan`/`inf` in some letter case where the regex then matches. (A CASE, not OR:
    # in a SELECT list OR evaluates every operand on every row. Two case-blind literals cost a
    # third of one regex for both: RE2 skips ahead to a literal's first letter, in either case.)
    return f"""
WITH parsed AS (
    SELECT ord, raw, utf8_ok,
           CASE WHEN NOT utf8_ok OR NOT starts_with(raw, '{{') THEN NULL
                WHEN regexp_matches(raw, {_sql_str(TRAILING_COMMA)}) THEN NULL
                WHEN (regexp_matches(raw, '(?i)nan') OR regexp_matches(raw, '(?i)inf'))
                     AND regexp_matches(raw, {_sql_str(NAN_OR_INFINITY)}) THEN NULL
                ELSE try(from_json(raw, {_shape(ENVELOPE)})) END AS e
    FROM {relation}
),
read AS (
    SELECT ord, raw, utf8_ok, e, {FAST.instant(value('time'))} AS ts,
           CASE {value('type')} {field_lists} END AS dl
    FROM parsed
),
judged AS (
    SELECT ord, raw, utf8_ok, e, ts, {accepted if fast else 'false'} AS ok FROM read
),
accepted AS (
    SELECT ord, ok,
           CASE WHEN ok THEN {FAST.text(value('source'))} END AS source,
           CASE WHEN ok THEN {FAST.text(value('id'))} END AS id,
           CASE WHEN ok THEN {type_name} END AS type,
           CASE WHEN ok THEN ts END AS time,
           CASE WHEN ok THEN {FAST.text(value('city'))} END AS city
    FROM judged
)
SELECT *, CASE WHEN ok THEN hash(source, id) END AS key_hash FROM accepted
"""


def reasons_query(relation: str) -> str:
    """The full tier over `relation`; see the module docstring for its columns."""
    type_branches = "\n            ".join(
        f"WHEN e.type = {_quoted(name)} THEN CASE "
        + " ".join(f"WHEN {condition} THEN {_sql_str(reason)}" for reason, condition in _type_rules(fields))
        + " END"
        for name, fields in EVENT_TYPES.items())
    envelope_branches = "\n            ".join(
        f"WHEN {condition} THEN {_sql_str(reason)}" for reason, condition in _envelope_rules())
    valid = "reason IS NULL AND NOT blank"
    return f"""
WITH parsed AS (
    SELECT ord, raw, utf8_ok, not_strict,
           CASE WHEN utf8_ok AND NOT not_strict THEN try(from_json(raw, {_shape(ENVELOPE)})) END AS e
    FROM {relation}
),
envelope AS (
    SELECT *,
           -- (CASE, not AND: the trims copy the line, so only where the cheap test is not enough)
           CASE WHEN e IS NOT NULL THEN false ELSE trim(raw, {_sql_str(BLANK_CHARS)}) = '' END AS blank,
           -- from_json reads an array or a scalar as a record of NULLs, so look at the first byte
           CASE WHEN e IS NULL THEN false WHEN raw[1] = '{{' THEN true
                ELSE ltrim(raw, {_sql_str(BLANK_CHARS)})[1] = '{{' END AS is_object
    FROM parsed
),
with_data AS (
    SELECT *, try(from_json(e.data, {_shape(all_data_fields())})) AS d FROM envelope
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
       CASE WHEN {valid} THEN {FULL.text('e.source')} END AS source,
       CASE WHEN {valid} THEN {FULL.text('e.id')} END AS id,
       CASE WHEN {valid} THEN {FULL.text('e.type')} END AS type,
       CASE WHEN {valid} THEN {FULL.instant('e.time')} END AS time,
       CASE WHEN {valid} THEN {FULL.text('e.city')} END AS city,
       CASE WHEN {valid} THEN hash({FULL.text('e.source')}, {FULL.text('e.id')}) END AS key_hash
FROM judged
"""
