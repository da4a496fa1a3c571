"""Commit one batch: validate it, dedupe it, store events and rejects, move the source's position.

Everything a batch changes (its events, its rejects, the source's new position and the run's
counters) is written in one DuckDB transaction, so a crash anywhere leaves the warehouse as it
was after the previous batch and a re-run picks up exactly there.

A batch goes through these steps (`_store`), in SQL over the whole batch at once:

1. The lines reach DuckDB as an Arrow table, without a copy when the source read them as
   `Lines` (the files source). The fast tier of validation (`judge`, `validation.judge_query`)
   parses each line once and gives, as an Arrow table in arrival order, the columns of every
   record it recognises as fully valid: in practice nearly all of them. It reads only the
   lines, so the run (`run.py`) has it done for the next batch while this one commits.
2. Only the lines it did not accept go through the full tier (`validation.reasons_query`),
   which picks each one's reason exactly as the contract orders them (or finds it valid after
   all, or blank). The few that look like lenient JSON are settled by a strict parser first.
3. Dedupe is by (source, id) without an index (an index on events costs as much as
   validation): `key_hash` narrows the events to compare with, then a redelivery is recognised
   by identical raw text, or failing that by equal JSON content; a record with the same key but
   other content is a `conflicting_duplicate`. The first valid record of a key wins, in arrival
   order.
4. Events are inserted by position: the lines that are skipped (rejects, blanks, duplicates)
   are few, so each stored line's `seq` is computed from them (no sort, no window), and the
   lines go in in arrival order. They go into `event_log` as the line (`raw`) and the envelope
   columns; `data` is in `raw`, and the view `events`, which everything else reads, derives it
   (migration 002: storing it twice cost a tenth of an ingest).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from pulse.core import timezones

from jobs.ingest import arrow
from jobs.ingest.contract import CONFLICTING_DUPLICATE
from jobs.ingest.sources.base import Batch, Lines
from jobs.ingest.validation import LENIENT_JSON, TIMEZONES_VARIABLE, judge_query, reasons_query

_JUDGE_SQL = judge_query("lines_to_judge")
_JUDGE_ALL_SLOW_SQL = judge_query("lines_to_judge", fast=False)
_REASONS_SQL = reasons_query(
    "(SELECT ord, raw, utf8_ok, ord IN (SELECT ord FROM not_strict_json) AS not_strict FROM left_over)")
# The columns of `judged` besides `ord` and `ok`, as both tiers give them (validation.py).
_JUDGED_COLUMNS = ("source", "id", "type", "time", "city", "key_hash")
_TEMP_TABLES = ("earlier_rows", "earlier", "suspect_keys", "keyed", "new_rejects")
# Arrow record batches of this many rows: DuckDB scans an Arrow table one record batch per task,
# so one batch of a whole block would run on a single thread.
_SCAN_ROWS = 16_384


def _scan_rows(count: int) -> int:
    """Rows per Arrow record batch for a table of `count` rows: _SCAN_ROWS, or fewer for a small
    table, so that it is still four tasks: a delta of 10 k lines is judged in 60 ms instead of 70."""
    return min(_SCAN_ROWS, max(1024, -(-count // 4)))


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: Counts) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Ready a writing connection for ingest: the IANA names validation checks against, and
    how it writes (each setting measured on 1 M events):

    - fewer checkpoints: at DuckDB's default 16 MB, checkpointing after nearly every batch made
      COMMIT a third of the run; 256 MB keeps the pending log bounded;
    - no vacuum at checkpoints: a batch ends in a part-filled row group, and merging those with
      their neighbours rewrote (decompressed and compressed again) half of what was stored,
      about a sixth of the run, and left the file bigger;
    - strings compressed with zstd where the file's storage version has it: DuckDB's automatic
      choice (dictionary + FSST) cost half of every insert, for a file twice as big;
    - query results in the order of their input (DuckDB's default, which the positional insert
      relies on).
    """
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET checkpoint_threshold = '256MB'")
    con.execute("SET max_vacuum_tasks = 0")
    if _has_zstd(con):
        con.execute("SET force_compression = 'zstd'")
    timezones.install(con)
    # Validation looks the names up in a list, quoted as JSON strings (see TIMEZONES_VARIABLE).
    con.execute(f"SET VARIABLE {TIMEZONES_VARIABLE} = (SELECT list(to_json(name)) FROM known_timezones)")


def _has_zstd(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse file can hold zstd-compressed strings (storage version 1.2 on; an
    older file would store them uncompressed instead)."""
    try:
        rows = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchall()
    except duckdb.Error:
        return False
    version = rows[0][0] if rows else None
    if isinstance(version, list):  # (older DuckDB gives a map lookup as a list)
        version = version[0] if version else None
    numbers = str(version or "").lstrip("v").rstrip("+").split(".")
    try:
        return (int(numbers[0]), int(numbers[1])) >= (1, 2)
    except (ValueError, IndexError):
        return False


def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) + 1 FROM event_log").fetchall()[0][0]


@dataclass
class Verdict:
    """What validation says of a batch's lines, before dedupe."""

    judged: pa.Table
    """A row per line, in the batch's order: `ord, ok` and, where ok, the columns of the event."""
    reasons: list[tuple[int, str]]
    """(ord, reason) of each rejected line, in order."""


def judge(con: duckdb.DuckDBPyConnection, batch: Batch, *, fast_path: bool = True) -> Verdict:
    """Both tiers of validation over `batch`: the fast one (`validation.judge_query`) over every
    line, the full one over the lines it did not accept. It reads nothing but the lines (and
    the timezone names `prepare` set on `con`), so it may run on a connection of its own (a
    cursor, in another thread) while the batch before this one commits; `commit_batch` takes
    the result.

    `fast_path=False`: the fast tier accepts nothing, so every line goes to the full tier."""
    con.register("lines_to_judge", _as_arrow(batch))
    try:
        # (in record batches, so that the loader's scans of it run on every thread)
        judged = con.sql(_JUDGE_SQL if fast_path else _JUDGE_ALL_SLOW_SQL).to_arrow_table(
            batch_size=_scan_rows(len(batch.raws)))
        left_over = np.flatnonzero(~_oks(judged)).tolist()
        if not left_over:
            return Verdict(judged, [])
        return _judge_the_rest(con, _taken(batch, left_over), judged)
    finally:
        con.execute("DROP TABLE IF EXISTS slow")
        for name in ("lines_to_judge", "left_over", "not_strict_json"):
            _unregister(con, name)


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    *,
    run_id: int,
    source_name: str,
    kind: str,
    first_seq: int,
    fast_path: bool = True,
    verdict: Verdict | None = None,
) -> Counts:
    """Validate, dedupe and store `batch` and the source's new position, in one transaction.

    `verdict` is `judge(..., batch)` when the caller had it done ahead; else it is done here.
    `fast_path=False` sends every line through the full tier of validation (a `verdict` given is
    then not used): slower, and the same result (the tests hold the two to that)."""
    con.register("batch_lines", _as_arrow(batch))
    con.execute("BEGIN TRANSACTION")
    try:
        if len(batch.raws):
            if verdict is None or not fast_path:
                verdict = judge(con, batch, fast_path=fast_path)
            counts = _store(con, batch, verdict, run_id=run_id, source_name=source_name, first_seq=first_seq)
        else:
            counts = Counts()
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
        for table in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        for name in ("batch_lines", "judged", "suspect_lines", "positions", "reject_locations", "conflicting"):
            _unregister(con, name)
    return counts


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    with contextlib.suppress(duckdb.Error):  # (not registered in this batch)
        con.unregister(name)


def _as_arrow(batch: Batch) -> pa.Table:
    """The batch's lines as the table `batch_lines(ord, raw, utf8_ok)`."""
    count = len(batch.raws)
    raws = batch.raws.array if isinstance(batch.raws, Lines) else arrow.strings(batch.raws)
    utf8_ok = np.ones(count, dtype=bool)
    if len(batch.invalid_utf8):
        utf8_ok[np.asarray(batch.invalid_utf8, dtype=np.int64)] = False
    table = arrow.table({"ord": arrow.int64s(np.arange(count)), "raw": raws, "utf8_ok": arrow.bools(utf8_ok)})
    return pa.Table.from_batches(table.to_batches(max_chunksize=_scan_rows(count)), schema=table.schema)


def _taken(batch: Batch, ords: list[int]) -> pa.Table:
    """The lines at `ords` (usually few) as a table `(ord, raw, utf8_ok)`: picked out here, where
    DuckDB would read the text of every line of the batch to find them."""
    raws = batch.raws
    raw = raws.take(ords) if isinstance(raws, Lines) else arrow.strings([raws[o] for o in ords])
    invalid = set(batch.invalid_utf8)
    return arrow.table({"ord": arrow.int64s(ords), "raw": raw,
                        "utf8_ok": arrow.bools([o not in invalid for o in ords])})


def _ords(con: duckdb.DuckDBPyConnection, sql: str) -> list[int]:
    return [row[0] for row in con.execute(sql).fetchall()]


def _store(con: duckdb.DuckDBPyConnection, batch: Batch, verdict: Verdict, *, run_id: int, source_name: str,
           first_seq: int) -> Counts:
    count = len(batch.raws)
    judged = verdict.judged
    con.register("judged", judged)
    _dedupe(con, batch)

    # Every line not stored is a reject, a blank or a duplicate: few, so the seq of each stored
    # line is its position less the skipped lines before it. The lines go in by position (judged
    # holds them in arrival order), so events stay in seq order with no sort; a join on ord would
    # also do, but DuckDB's hash join does not keep the order.
    keep = _oks(judged)
    keep[np.asarray(_ords(con, "SELECT ord FROM keyed WHERE NOT is_new"), dtype=np.int64)] = False
    con.register("positions", arrow.table({"ord": arrow.int64s(np.arange(count)), "keep": arrow.bools(keep),
                                           "seq": arrow.int64s(first_seq - 1 + np.cumsum(keep, dtype=np.int64))}))
    accepted = con.execute(
        """INSERT INTO event_log (seq, source, id, type, time, city, raw, run_id, key_hash)
           SELECT p.seq, j.source, j.id, j.type, j.time, j.city, b.raw, ?, j.key_hash
           FROM judged j POSITIONAL JOIN batch_lines b POSITIONAL JOIN positions p
           WHERE p.keep AND j.ord = p.ord AND b.ord = p.ord""",
        [run_id],
    ).fetchall()[0][0]
    if accepted != int(keep.sum()):  # (judged out of arrival order: never store a misnumbered event)
        raise RuntimeError(f"ingest: {int(keep.sum())} events to store, {accepted} in position")

    reasons = list(verdict.reasons)
    reasons += [(row[0], CONFLICTING_DUPLICATE) for row in con.execute(
        "SELECT ord FROM keyed WHERE conflicting").fetchall()]
    duplicates = con.execute("SELECT count(*) FROM keyed WHERE NOT is_new AND NOT conflicting").fetchall()[0][0]
    rejected, seen_rejects = _store_rejects(con, batch, reasons, run_id=run_id, source_name=source_name)
    return Counts(accepted=accepted, duplicates=duplicates + seen_rejects, rejected=rejected)


def _oks(judged: pa.Table) -> np.ndarray:
    """Which lines `judged` accepts, as a (writable) numpy array."""
    return arrow.bools_of(judged.column("ok"))


def _judge_the_rest(con: duckdb.DuckDBPyConnection, left_over: pa.Table, judged: pa.Table) -> Verdict:
    """The full tier for the lines the fast tier did not accept (`left_over`): their reasons,
    and `judged` with those valid after all among the accepted ones."""
    con.register("left_over", left_over)
    maybe_lenient = con.execute(
        "SELECT ord, raw FROM left_over WHERE utf8_ok AND regexp_matches(raw, ?)", [LENIENT_JSON]).fetchall()
    not_strict = [ord_ for ord_, raw in maybe_lenient if not is_strict_json(raw)]
    con.register("not_strict_json", arrow.table({"ord": arrow.int64s(not_strict)}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE slow AS {_REASONS_SQL}")
    reasons = [(ord_, reason) for ord_, reason in con.execute(
        "SELECT ord, reason FROM slow WHERE reason IS NOT NULL ORDER BY ord").fetchall()]
    valid = con.sql(f"""SELECT ord, true AS ok, {", ".join(_JUDGED_COLUMNS)} FROM slow
                        WHERE reason IS NULL AND NOT blank ORDER BY ord""").to_arrow_table()
    if not valid.num_rows:
        return Verdict(judged, reasons)
    # Few (escapes, leading whitespace and the like): their rows of `judged` replaced in place.
    import pyarrow.compute as pc  # (here: importing it costs 40 ms, which most runs need not pay)

    mask = np.zeros(len(judged), dtype=bool)
    mask[arrow.int64s_of(valid.column("ord"))] = True
    mask = arrow.bools(mask)
    columns = {name: pc.replace_with_mask(judged.column(name).combine_chunks(), mask,
                                          valid.column(name).combine_chunks().cast(judged.schema.field(name).type))
               if name in valid.column_names else judged.column(name) for name in judged.column_names}
    rows = _scan_rows(len(judged))
    return Verdict(pa.Table.from_batches(arrow.table(columns).to_batches(max_chunksize=rows)), reasons)


def _dedupe(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """`keyed`: every accepted line whose key was seen before (in events or earlier in the
    batch) or again in the batch, with whether it is the first of its key (`is_new`) and, when
    not, whether its content differs from the first's (`conflicting`)."""
    # Most records are new: only keys seen twice in the batch, or already in events, need the
    # closer look below. Stored events are found by their hash alone, then fetched by rowid:
    # reading `raw` for the whole table (as a plain join would) made each batch cost O(events).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE earlier_rows AS
        SELECT rowid AS rid FROM event_log
        WHERE key_hash IN (SELECT key_hash FROM judged WHERE ok)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE earlier AS
        SELECT key_hash, source, id, raw FROM event_log WHERE rowid IN (SELECT rid FROM earlier_rows)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE suspect_keys AS
        SELECT key_hash FROM judged WHERE ok GROUP BY key_hash HAVING count(*) > 1
        UNION
        SELECT key_hash FROM earlier
    """)
    # For each suspect record: the content already accepted under its key (an earlier event, or
    # the first of that key in this batch), and whether it is itself that first one.
    con.register("suspect_lines", _taken(batch, _ords(
        con, "SELECT ord FROM judged WHERE ok AND key_hash IN (SELECT key_hash FROM suspect_keys)")))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE keyed AS
        WITH suspects AS (
            SELECT j.ord, j.source, j.id, l.raw, row_number() OVER (PARTITION BY j.source, j.id ORDER BY j.ord) AS nth
            FROM judged j JOIN suspect_lines l USING (ord)
        )
        SELECT s.ord, s.raw, coalesce(x.raw, first.raw) AS accepted_raw,
               x.raw IS NULL AND s.nth = 1 AS is_new, false AS conflicting
        FROM suspects s
        LEFT JOIN earlier x ON x.source = s.source AND x.id = s.id
        LEFT JOIN suspects first ON first.nth = 1 AND first.source = s.source AND first.id = s.id
    """)
    # Different text can still be the same JSON value (key order, whitespace): settle those here.
    differing = con.execute(
        "SELECT ord, raw, accepted_raw FROM keyed WHERE NOT is_new AND raw <> accepted_raw"
    ).fetchall()
    conflicting = [ord_ for ord_, raw, accepted in differing if not same_json(raw, accepted)]
    if conflicting:
        con.register("conflicting", arrow.table({"ord": arrow.int64s(conflicting)}))
        con.execute("UPDATE keyed SET conflicting = true WHERE ord IN (SELECT ord FROM conflicting)")


def _store_rejects(con: duckdb.DuckDBPyConnection, batch: Batch, reasons: list[tuple[int, str]], *,
                   run_id: int, source_name: str) -> tuple[int, int]:
    """Insert the rejects (ord, reason) of this batch; (how many, how many were already on record)."""
    if not reasons:
        return 0, 0
    ords = [ord_ for ord_, _ in reasons]
    con.register("reject_locations", arrow.table({
        "ord": arrow.int64s(ords),
        "location": arrow.strings(_locations(batch, ords)),
        "reason": arrow.strings([reason for _, reason in reasons]),
        "raw": _taken(batch, ords).column("raw"),
    }))
    con.execute("CREATE OR REPLACE TEMP TABLE new_rejects AS SELECT ord, location, reason, raw FROM reject_locations")
    # A reject already on record (same place, same text: a re-read file) is not recorded again.
    seen = con.execute(
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
    return rejected, seen


def _locations(batch: Batch, ords: list[int]) -> list[str]:
    if batch.locations is not None:
        return [batch.locations[o] for o in ords]
    numbers = batch.location_numbers or ()
    return [f"{batch.location_prefix}{numbers[o]}" for o in ords]


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
