"""The Postgres outbox source against a real PostgreSQL server (tests/fakes/postgres.py)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from jobs.ingest.sources.base import SourceError
from jobs.ingest.sources.outbox import OutboxSource
from jobs.ingest.sources.outbox import OutboxSettings
from tests.fakes.postgres import create_outbox


def envelope(n: int, **overrides) -> str:
    return json.dumps({
        "specversion": "1.0", "id": f"e{n}", "source": "platform/au", "type": "user:joined_city",
        "time": "2026-03-05T09:12:44.120+11:00", "city": "sydney", "data": {"user_id": f"u_{n}"},
        **overrides,
    })


def source_for(box, batch_records: int = 3, fetch_size: int = 2, password: str | None = None) -> OutboxSource:
    return OutboxSource(
        name="platform", dsn=box.reader_dsn, password=box.reader_password if password is None else password,
        table=box.table, fetch_size=fetch_size, batch_records=batch_records,
    )


def test_reads_in_seq_order_in_batches(outbox):
    # Inserted out of order, with gaps: only seq order counts.
    seqs = [7, 2, 30, 11, 5, 4, 100]
    outbox.insert([(s, envelope(s)) for s in seqs])

    batches = list(source_for(outbox).batches(None))

    assert [len(b.raws) for b in batches] == [3, 3, 1]
    assert [b.locations for b in batches] == [
        ["outbox:2", "outbox:4", "outbox:5"], ["outbox:7", "outbox:11", "outbox:30"], ["outbox:100"],
    ]
    assert [b.position for b in batches] == [{"seq": 5}, {"seq": 30}, {"seq": 100}]
    assert [b.progress for b in batches] == [(3, 7), (6, 7), (7, 7)]
    assert json.loads(batches[0].raws[0]) == json.loads(envelope(2))
    assert all(isinstance(raw, str) for b in batches for raw in b.raws)


def test_resumes_after_position_and_yields_nothing_when_caught_up(outbox):
    outbox.insert([(s, envelope(s)) for s in range(1, 6)])
    source = source_for(outbox)

    last = list(source.batches(None))[-1].position
    assert last == {"seq": 5}
    assert list(source.batches(last)) == []

    outbox.insert([(6, envelope(6)), (9, envelope(9))])
    later = list(source.batches(last))
    assert [b.locations for b in later] == [["outbox:6", "outbox:9"]]
    assert later[0].progress == (2, 2)
    assert [b.locations for b in source.batches({"seq": 3})] == [["outbox:4", "outbox:5", "outbox:6"], ["outbox:9"]]


def test_empty_outbox_yields_nothing(outbox):
    assert list(source_for(outbox).batches(None)) == []


def test_reads_as_read_only_role_that_cannot_write(outbox):
    outbox.insert([(1, envelope(1))])
    assert [b.locations for b in source_for(outbox).batches(None)] == [["outbox:1"]]

    # The grants, not just the source's READ ONLY transaction, keep Pulse from writing.
    with outbox.reader() as conn:
        for statement in (
            f"INSERT INTO {outbox.table} VALUES (2, '{{}}')",
            f"DELETE FROM {outbox.table}",
            f"UPDATE {outbox.table} SET envelope = '{{}}'",
            "CREATE TABLE public.pulse_was_here (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_source_transaction_is_read_only(outbox):
    # A role that could write still cannot through the source's connection.
    source = OutboxSource("platform", outbox.server.dsn(outbox.dbname, "platform"), outbox.owner_password,
                          outbox.table, 10, 10)
    conn = source._connect()
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(f"INSERT INTO {outbox.table} VALUES (1, '{{}}')")
    finally:
        conn.close()


def test_wrong_password_is_a_source_error_without_the_password(outbox):
    wrong = "not-the-password-" + "x7" * 8
    with pytest.raises(SourceError) as raised:
        list(source_for(outbox, password=wrong).batches(None))
    message = str(raised.value)
    assert "platform" in message and "password authentication failed" in message
    assert wrong not in message and outbox.reader_password not in message
    assert "\n" not in message


def test_unreachable_server_is_a_quick_source_error(postgres):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = OutboxSource("platform", f"host=127.0.0.1 port={port} dbname=x user=pulse_reader", "secret-pw",
                          "platform_events", 10, 10)
    started = time.monotonic()
    with pytest.raises(SourceError) as raised:
        list(source.batches(None))
    assert time.monotonic() - started < 5
    assert "outbox platform" in str(raised.value) and "secret-pw" not in str(raised.value)


def test_missing_table_or_grant_is_a_source_error(outbox):
    source = OutboxSource("platform", outbox.reader_dsn, outbox.reader_password, "no_such_table", 10, 10)
    with pytest.raises(SourceError, match="no_such_table"):
        list(source.batches(None))
    with outbox.owner() as conn:
        conn.execute(f"REVOKE SELECT ON {outbox.table} FROM pulse_reader")
    with pytest.raises(SourceError, match="permission denied"):
        list(source_for(outbox).batches(None))


def test_bad_position_is_a_source_error(outbox):
    with pytest.raises(SourceError, match="position"):
        list(source_for(outbox).batches({"cursor": "abc"}))


def test_table_with_schema(postgres):
    box = create_outbox(postgres, "platform_schema_test", schema="Platform Events")
    box.insert([(2, envelope(2)), (1, envelope(1))])
    assert box.table == "Platform Events.platform_events"
    batches = list(source_for(box).batches(None))
    assert [b.locations for b in batches] == [["outbox:1", "outbox:2"]]


def test_pull_is_one_snapshot(outbox):
    # Rows committed while a pull is under way belong to the next pull, not to this one.
    outbox.insert([(s, envelope(s)) for s in range(1, 5)])
    pull = source_for(outbox, batch_records=2, fetch_size=1).batches(None)
    first = next(pull)
    outbox.insert([(5, envelope(5))])
    rest = list(pull)
    assert [b.position for b in [first, *rest]] == [{"seq": 2}, {"seq": 4}]
    assert rest[-1].progress == (4, 4)


def test_from_config_reads_password_from_env(outbox, monkeypatch):
    monkeypatch.setenv("PULSE_TEST_PG_PASSWORD", outbox.reader_password)
    config = OutboxSettings(name="platform", kind="outbox", dsn=outbox.reader_dsn, password_env="PULSE_TEST_PG_PASSWORD")
    source = OutboxSource.from_config(config, batch_records=2)
    assert (source.name, source.kind, source.table, source.batch_records) == ("platform", "outbox", "platform_events", 2)
    outbox.insert([(1, envelope(1))])
    assert [b.locations for b in source.batches(None)] == [["outbox:1"]]


# End to end: `pulse ingest` over an outbox source, into a real warehouse.

def ingest_config(tmp_path, box, monkeypatch, **source):
    from pulse.core.config import from_dict
    monkeypatch.setenv("PULSE_TEST_PG_PASSWORD", box.reader_password)
    return from_dict({
        "warehouse": {"data_dir": str(tmp_path)},
        "ingest": {"batch_records": 3},
        "sources": {"platform": {"kind": "outbox", "dsn": box.reader_dsn, "password_env": "PULSE_TEST_PG_PASSWORD",
                                 "table": box.table, **source}},
    }, base_dir=tmp_path)


def warehouse_rows(config, query: str):
    from pulse.core.warehouse import open_warehouse
    with open_warehouse(config, write=False) as con:
        return con.execute(query).fetchall()


def positions(config):
    return [(kind, json.loads(position)) for kind, position in warehouse_rows(config, "SELECT kind, position FROM source_state")]


def test_ingest_lands_each_event_once_and_picks_up_later_rows(tmp_path, outbox, monkeypatch):
    from jobs.ingest.run import ingest
    config = ingest_config(tmp_path, outbox, monkeypatch)
    outbox.insert([(s, envelope(s)) for s in (1, 2, 4, 5)]
                  + [(3, '"just a string"'), (6, json.dumps({k: v for k, v in json.loads(envelope(6)).items() if k != "time"}))])

    first = ingest(config)
    assert (first.accepted, first.duplicates, first.rejected, first.errors) == (4, 0, 2, [])
    assert warehouse_rows(config, "SELECT id FROM events ORDER BY seq") == [("e1",), ("e2",), ("e4",), ("e5",)]
    rejects = warehouse_rows(config, "SELECT location, reason, raw FROM rejects ORDER BY location")
    assert [(location, reason) for location, reason, _ in rejects] == [("outbox:3", "not_object"), ("outbox:6", "missing_time")]
    assert rejects[0][2] == '"just a string"' and json.loads(rejects[1][2])["id"] == "e6"
    assert positions(config) == [("outbox", {"seq": 6})]

    again = ingest(config)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 0, 0)

    # Later rows, one of them a redelivery of seq 1 under a new seq: counted once.
    outbox.insert([(7, envelope(7)), (8, envelope(1)), (9, envelope(9))])
    later = ingest(config)
    assert (later.accepted, later.duplicates, later.rejected) == (2, 1, 0)
    assert warehouse_rows(config, "SELECT count(*), count(DISTINCT id) FROM events") == [(6, 6)]
    assert warehouse_rows(config, "SELECT count(*) FROM rejects") == [(2,)]


def test_ingest_failure_midway_keeps_committed_batches_and_rerun_completes(tmp_path, outbox, monkeypatch):
    from jobs.ingest.run import ingest
    # fetch_size = batch size: each batch is its own FETCH, so a lost connection shows on the next one.
    config = ingest_config(tmp_path, outbox, monkeypatch, fetch_size=3)
    outbox.insert([(s, envelope(s)) for s in range(1, 11)])

    def drop_connection_after_first_batch(name, done, total):
        assert (name, total) == ("platform", 10)
        if done == 3:
            with outbox.server.connect(outbox.dbname) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pulse' AND datname = %s",
                    [outbox.dbname],
                ).fetchall()
            assert killed == [(True,)]

    broken = ingest(config, on_progress=drop_connection_after_first_batch)
    # The runner reads one batch ahead while it commits, so the batches read before the
    # connection dropped (the first, and up to two more) are committed; never all of them.
    committed = broken.accepted
    assert committed in (3, 6, 9) and len(broken.errors) == 1
    assert "outbox platform" in broken.errors[0] and outbox.reader_password not in broken.errors[0]
    assert warehouse_rows(config, "SELECT count(*) FROM events") == [(committed,)]
    assert positions(config) == [("outbox", {"seq": committed})]
    assert warehouse_rows(config, "SELECT status FROM ingest_runs ORDER BY run_id") == [("failed",)]

    rerun = ingest(config)
    assert (rerun.accepted, rerun.duplicates, rerun.rejected, rerun.errors) == (10 - committed, 0, 0, [])
    assert warehouse_rows(config, "SELECT count(*), count(DISTINCT id), min(id), max(seq) FROM events") == [(10, 10, "e1", 10)]
    assert warehouse_rows(config, "SELECT status FROM ingest_runs ORDER BY run_id") == [("failed",), ("completed",)]


def test_ingest_wrong_password_is_reported_without_it(tmp_path, outbox, monkeypatch):
    from jobs.ingest.run import ingest
    config = ingest_config(tmp_path, outbox, monkeypatch)
    monkeypatch.setenv("PULSE_TEST_PG_PASSWORD", "wrong-" + outbox.reader_password[::-1])
    summary = ingest(config)
    assert summary.accepted == 0 and len(summary.errors) == 1
    assert "password authentication failed" in summary.errors[0]
    assert outbox.reader_password[::-1] not in summary.errors[0]
    assert warehouse_rows(config, "SELECT error FROM ingest_runs")[0][0] == summary.errors[0]
