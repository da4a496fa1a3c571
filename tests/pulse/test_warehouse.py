"""The warehouse: migrations recorded once, and a second writer waits instead of crashing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from pulse.core.warehouse import LockTimeout, open_warehouse
from tests.support.records import query


def test_schema_is_created_and_versioned_by_the_code(config):
    with open_warehouse(config, write=True) as con:
        pass
    with open_warehouse(config, write=True) as con:  # a second open applies nothing again
        rows = con.execute("SELECT component, version, name FROM schema_migrations ORDER BY ALL").fetchall()
    # Every component's files, each once: the ingest tables (jobs/ingest/migrations) and the
    # analytics models (analytics/migrations).
    assert rows == [("analytics", 1, "models"), ("analytics", 2, "rsvps"), ("analytics", 3, "key_hashes"),
                    ("analytics", 4, "meetup_details"), ("analytics", 10, "capacity_waitlist"), ("ingest", 1, "ingest"),
                    ("ingest", 2, "data_from_raw")]
    tables = {name for (name,) in query(config, "SELECT table_name FROM information_schema.tables")}
    assert {"events", "event_log", "rejects", "source_state", "ingest_runs", "schema_migrations"} <= tables


def _warehouse_of_001(config, *, recorded_as: str):
    """A connection to a new warehouse holding only the ingest tables of migration 001, recorded
    as applied under component `recorded_as` (`core`: before the ingest component had a name)."""
    from importlib import resources

    import duckdb

    config.data_dir.mkdir(parents=True)
    old = duckdb.connect(str(config.data_dir / "pulse.duckdb"))
    old.execute((resources.files("jobs.ingest") / "migrations" / "001_ingest.sql").read_text())
    old.execute("CREATE TABLE schema_migrations (component VARCHAR, version INTEGER, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (component, version))")
    old.execute("INSERT INTO schema_migrations (component, version, name) VALUES (?, 1, 'ingest')", [recorded_as])
    return old


def test_a_warehouse_from_before_the_ingest_component_keeps_its_data(config):
    """Until the ingest tables had a component of their own they were recorded as `core`'s: such a
    warehouse is upgraded in place, its events kept and nothing created twice."""
    old = _warehouse_of_001(config, recorded_as="core")
    old.execute("INSERT INTO events VALUES (1, 's', 'e1', 't', now(), 'sydney', NULL, '{}', 1, 0)")
    old.close()
    with open_warehouse(config, write=True):
        pass
    assert query(config, "SELECT id FROM events") == [("e1",)]
    assert ("ingest", 1) in query(config, "SELECT component, version FROM schema_migrations")
    assert not query(config, "SELECT * FROM schema_migrations WHERE component = 'core'")


def test_a_warehouse_that_stored_data_keeps_it_as_it_was(config):
    """Before migration 002 ingest stored each event's `data` as validation read it (the
    envelope read with `data` as JSON); upgraded, the view `events` gives the same text from
    `raw`, for lines of every shape that matters here."""
    old = _warehouse_of_001(config, recorded_as="ingest")
    raws = ['{"id":"1","data":{"a": 1, "b" : [1, 2.50, 1E2, -0.0, "x\\u00e9\\"\\/"]}}', '{"id":"2","data":{"a":1},"data":{"b":2}}',
            '{"id":"3","data":{"a":1,"a":2}}', '  {"id":"4","dAta":{"a":1},"data":{"z":{"y":null}}}',
            '{"id":"5","data":null}', '{"id":"6"}', '{"id":"7","data":{"n":100000000000000000000000,"m":1e400}}']
    for seq, raw in enumerate(raws, start=1):
        old.execute("INSERT INTO events SELECT ?, 's', ?, 't', now(), 'sydney', from_json(?, '{\"data\": \"JSON\"}').data, "
                    "?, 1, 0", [seq, str(seq), raw, raw])
    before = old.execute("SELECT seq, data FROM events ORDER BY seq").fetchall()
    old.close()
    with open_warehouse(config, write=True):
        pass
    assert query(config, "SELECT seq, data FROM events ORDER BY seq") == before
    assert [data for _, data in before][4:6] == [None, None]
    assert "data" not in {name for (name,) in query(
        config, "SELECT column_name FROM information_schema.columns WHERE table_name = 'event_log'")}


def _hold_writer(config, seconds: float) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import time
        from pulse.core import config as c
        from pulse.core.warehouse import open_warehouse
        config = c.from_dict({{"warehouse": {{"data_dir": {str(config.data_dir)!r}}}}})
        with open_warehouse(config, write=True, purpose="held by test"):
            print("holding", flush=True)
            time.sleep({seconds})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_readers_never_open_the_file_under_a_writer(config):
    """DuckDB refuses a read-write open while any other process has the file open, even read-only
    for a moment, so a reader must not touch the file outside the warehouse's lock (it once looked
    whether the schema was migrated before taking the lock: a writer opening meanwhile failed).
    A writer holds the lock and opens the file over and over for a second, while readers start."""
    with open_warehouse(config, write=True):
        pass
    script = textwrap.dedent(f"""
        import time, duckdb
        from pulse.core import config as c
        from pulse.core.warehouse import database_path, hold_lock
        config = c.from_dict({{"warehouse": {{"data_dir": {str(config.data_dir)!r}}}}})
        refused = opened = 0
        with hold_lock(config, exclusive=True, purpose="writer of the test"):
            print("holding", flush=True)
            until = time.monotonic() + 1.0
            while time.monotonic() < until:
                try:
                    duckdb.connect(str(database_path(config))).close()
                    opened += 1
                except duckdb.IOException:
                    refused += 1
        print(opened, refused, flush=True)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "holding"

    read_rows = []

    def read():
        with open_warehouse(config, write=False, on_wait=lambda message: None) as con:
            read_rows.append(con.execute("SELECT count(*) FROM events").fetchall())

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    opened, refused = (int(n) for n in writer.stdout.readline().split())
    for reader in readers:
        reader.join()
    assert writer.wait() == 0
    assert opened > 10 and refused == 0
    assert read_rows == [[(0,)]] * 4  # (each reader read, once the writer let go)


def test_a_second_writer_waits_and_says_for_what(config):
    holder = _hold_writer(config, 1.5)
    messages = []
    started = time.monotonic()
    try:
        with open_warehouse(config, write=True, purpose="test", on_wait=messages.append):
            waited = time.monotonic() - started
    finally:
        holder.wait()
    assert waited >= 1.0
    assert len(messages) == 1
    assert f"pid {holder.pid} (held by test" in messages[0]


def test_the_wait_is_bounded(make_config):
    config = make_config(warehouse={"lock_timeout_seconds": 0.5})
    holder = _hold_writer(config, 5)
    try:
        with pytest.raises(LockTimeout, match="still in use by another pulse process: pid"), \
                open_warehouse(config, write=False, on_wait=lambda message: None):
            pass
    finally:
        holder.kill()
        holder.wait()
