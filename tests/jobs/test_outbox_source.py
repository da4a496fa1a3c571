"""The Postgres outbox source against a real PostgreSQL server (tests/fakes/postgres.py)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from jobs.ingest.sources.base import SourceError
from jobs.ingest.sources.outbox import OutboxSource
from pulse.config import SourceConfig
from tests.fakes.postgres import create_outbox, outbox, postgres  # noqa: F401


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
    config = SourceConfig(name="platform", kind="outbox", dsn=outbox.reader_dsn, password_env="PULSE_TEST_PG_PASSWORD")
    source = OutboxSource.from_config(config, batch_records=2)
    assert (source.name, source.kind, source.table, source.batch_records) == ("platform", "outbox", "platform_events", 2)
    outbox.insert([(1, envelope(1))])
    assert [b.locations for b in source.batches(None)] == [["outbox:1"]]
