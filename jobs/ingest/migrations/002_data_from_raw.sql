-- `data` is no longer stored twice: it is part of `raw`, and writing (compressing) it again cost
-- about 7 % of an ingest (benchmarks/ingest.py at 1 M events: 2.78 s -> 2.58 s). The rows are
-- kept in `event_log`, which only the loader writes; every reader reads the view `events`, whose
-- columns are those the table had, `data` derived from `raw` in this one place: the envelope's
-- `data` as DuckDB's JSON reader re-serializes it (the same text the table stored: validation
-- reads it the same way), and NULL where it is absent or `null`.
ALTER TABLE events DROP COLUMN data;
ALTER TABLE events RENAME TO event_log;
CREATE VIEW events AS
SELECT seq, source, id, type, time, city,
       nullif(json_extract(raw, '$.data'), 'null') AS data,  -- NULL only for an unknown type sent without data
       raw, run_id, key_hash
FROM event_log;
