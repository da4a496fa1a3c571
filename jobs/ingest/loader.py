"""Commit one batch: validate it, dedupe it, store events and rejects, move the source's position.

Everything a batch changes (its events, its rejects, the source's new position and the run's
counters) is written in one DuckDB transaction, so a crash anywhere leaves the warehouse as it
was after the previous batch and a re-run picks up exactly there.

Dedupe is by (source, id) without an index (an index on events costs as much as validation):
`key_hash` narrows the events to compare with, then a redelivery is recognised by identical raw
text, or failing that by equal JSON content; a record with the same key but other content is a
`conflicting_duplicate`. The first valid record of a key wins, in arrival order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from pulse.core import timezones

from jobs.ingest.contract import CONFLICTING_DUPLICATE
from jobs.ingest.sources.base import Batch
from jobs.ingest.validation import LENIENT_JSON, validation_query

_VALIDATION_SQL = validation_query("batch")


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: "Counts") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Ready a writing connection for ingest: the IANA names validation checks against, and
    fewer checkpoints (measured: at DuckDB's default 16 MB, checkpointing after nearly every
    batch made COMMIT a third of the run; 256 MB keeps the pending log bounded)."""
    con.execute("SET checkpoint_threshold = '256MB'")
    timezones.install(con)


def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchall()[0][0]


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    *,
    run_id: int,
    source_name: str,
    kind: str,
    first_seq: int,
) -> Counts:
    """Validate, dedupe and store `batch` and the source's new position, in one transaction."""
    con.register("batch", _as_arrow(batch))
    con.execute("BEGIN TRANSACTION")
    try:
        counts = (_store(con, run_id=run_id, source_name=source_name, first_seq=first_seq)
                  if batch.raws else Counts())
        con.execute(
            """INSERT OR REPLACE INTO source_state (source_name, kind, position, updated_at)
               VALUES (?, ?, ?, now())""",
            [source_name, kind, json.dumps(batch.position)],
        )
        con.execute(
            """UPDATE ingest_runs SET accepted = accepted + ?, duplicates = duplicates + ?,
                      rejected = rejected + ? WHERE run_id = ?""",
            [counts.accepted, counts.duplicates, counts.rejected, run_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS judged_batch")
        con.unregister("batch")
    return counts


def _as_arrow(batch: Batch) -> pa.Table:
    count = len(batch.raws)
    utf8_ok = np.ones(count, dtype=bool)
    if len(batch.invalid_utf8):
        utf8_ok[np.asarray(batch.invalid_utf8, dtype=np.int64)] = False
    if batch.locations is not None:
        prefix, numbers = pa.array([""] * count), pa.array(batch.locations, pa.string())
    else:
        prefix = pa.array([batch.location_prefix] * count, pa.string())
        numbers = pa.array(np.asarray(batch.location_numbers or [], dtype=np.int64)).cast(pa.string())
    table = pa.table({
        "ord": np.arange(count, dtype=np.int64),
        "loc_prefix": prefix,
        "loc_number": numbers,
        "raw": pa.array(batch.raws, pa.string()),
        "utf8_ok": utf8_ok,
    })
    # Many small record batches rather than one: DuckDB scans them on all its threads.
    return pa.Table.from_batches(table.to_batches(max_chunksize=16_384), schema=table.schema)


def _store(con: duckdb.DuckDBPyConnection, *, run_id: int, source_name: str, first_seq: int) -> Counts:
    maybe_lenient = con.execute(
        "SELECT ord, raw FROM batch WHERE utf8_ok AND regexp_matches(raw, ?)", [LENIENT_JSON]).fetchall()
    not_strict = [ord_ for ord_, raw in maybe_lenient if not is_strict_json(raw)]
    con.register("not_strict_json", pa.table({"ord": pa.array(not_strict, pa.int64())}))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE judged_batch AS {_VALIDATION_SQL}")
    finally:
        con.unregister("not_strict_json")
    # Most records are new: only keys seen twice in the batch, or already in events, need the
    # closer look below. Stored events are found by their hash alone, then fetched by rowid:
    # reading `raw` for the whole table (as a plain join would) made each batch cost O(events).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE earlier_rows AS
        SELECT rowid AS rid FROM events
        WHERE key_hash IN (SELECT key_hash FROM judged_batch WHERE reason IS NULL)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE earlier AS
        SELECT key_hash, source, id, raw FROM events WHERE rowid IN (SELECT rid FROM earlier_rows)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE suspect_keys AS
        SELECT key_hash FROM judged_batch WHERE reason IS NULL GROUP BY key_hash HAVING count(*) > 1
        UNION
        SELECT key_hash FROM earlier
    """)
    # For each suspect record: the content already accepted under its key (an earlier event, or
    # the first of that key in this batch), and whether it is itself that first one.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE keyed AS
        WITH suspects AS (
            SELECT *, row_number() OVER (PARTITION BY source, id ORDER BY ord) AS nth
            FROM judged_batch WHERE reason IS NULL AND key_hash IN (SELECT key_hash FROM suspect_keys)
        )
        SELECT s.*, coalesce(x.raw, first.raw) AS accepted_raw,
               x.raw IS NULL AND s.nth = 1 AS is_new
        FROM suspects s
        LEFT JOIN earlier x ON x.source = s.source AND x.id = s.id
        LEFT JOIN suspects first ON first.nth = 1 AND first.source = s.source AND first.id = s.id
    """)
    # Different text can still be the same JSON value (key order, whitespace): settle those here.
    differing = con.execute(
        "SELECT ord, raw, accepted_raw FROM keyed WHERE NOT is_new AND raw <> accepted_raw"
    ).fetchall()
    conflicting = [ord_ for ord_, raw, accepted in differing if not same_json(raw, accepted)]
    con.register("conflicting", pa.table({"ord": pa.array(conflicting, pa.int64())}))
    try:
        accepted = con.execute(
            """INSERT INTO events (seq, source, id, type, time, city, data, raw, run_id, key_hash)
               SELECT ? - 1 + row_number() OVER (ORDER BY ord), source, id, type, time, city,
                      data, raw, ?, key_hash
               FROM (SELECT ord, source, id, type, time, city, data, raw, key_hash FROM judged_batch
                     WHERE reason IS NULL AND key_hash NOT IN (SELECT key_hash FROM suspect_keys)
                     UNION ALL
                     SELECT ord, source, id, type, time, city, data, raw, key_hash FROM keyed WHERE is_new)
               ORDER BY ord""",
            [first_seq, run_id],
        ).fetchall()[0][0]
        duplicates = con.execute(
            "SELECT count(*) FROM keyed WHERE NOT is_new AND ord NOT IN (SELECT ord FROM conflicting)"
        ).fetchall()[0][0]
        # A reject already on record (same place, same text: a re-read file) is not recorded again.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE new_rejects AS
                SELECT ord, location, reason, raw FROM judged_batch WHERE reason IS NOT NULL
                UNION ALL
                SELECT ord, location, '{CONFLICTING_DUPLICATE}', raw FROM keyed
                WHERE ord IN (SELECT ord FROM conflicting)"""
        )
        seen_rejects = con.execute(
            """SELECT count(*) FROM new_rejects n
               WHERE EXISTS (SELECT 1 FROM rejects r WHERE r.source_name = ? AND r.location = n.location
                             AND r.reason = n.reason AND r.raw = n.raw)""",
            [source_name],
        ).fetchall()[0][0]
        rejected = con.execute(
            """INSERT INTO rejects (run_id, source_name, location, reason, raw, rejected_at)
               SELECT ?, ?, location, reason, raw, now() FROM new_rejects n
               WHERE NOT EXISTS (SELECT 1 FROM rejects r WHERE r.source_name = ? AND r.location = n.location
                                 AND r.reason = n.reason AND r.raw = n.raw)
               ORDER BY ord""",
            [run_id, source_name, source_name],
        ).fetchall()[0][0]
    finally:
        con.unregister("conflicting")
        con.execute("DROP TABLE IF EXISTS keyed")
        for table in ("suspect_keys", "earlier", "earlier_rows"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("DROP TABLE IF EXISTS new_rejects")
    return Counts(accepted=accepted, duplicates=duplicates + seen_rejects, rejected=rejected)


def is_strict_json(text: str) -> bool:
    """One complete JSON value by RFC 8259: no NaN or Infinity, no trailing commas."""
    try:
        json.loads(text, parse_constant=_refuse)
        return True
    except (ValueError, RecursionError):
        return False


def _refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def same_json(a: str, b: str) -> bool:
    """Equal as JSON values: key order and whitespace do not matter, `1` and `1.0` do."""
    try:
        return _canonical(a) == _canonical(b)
    except ValueError:
        return False


def _canonical(text: str):
    return json.loads(
        text,
        parse_int=lambda s: ("int", int(s)),
        parse_float=lambda s: ("float", float(s)),
        parse_constant=lambda s: ("float", s),
        object_pairs_hook=_first_key_wins,
    )


def _first_key_wins(pairs):
    # DuckDB keeps the first of duplicate keys when it reads an envelope; compare the same way.
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result
