"""The warehouse: migrations recorded once, and a second writer waits instead of crashing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from pulse.warehouse import LockTimeout, open_warehouse
from tests.conftest import query


def test_schema_is_created_and_versioned_by_the_code(config):
    with open_warehouse(config, write=True) as con:
        pass
    with open_warehouse(config, write=True) as con:  # a second open applies nothing again
        rows = con.execute("SELECT component, version, name FROM schema_migrations").fetchall()
    assert rows == [("core", 1, "ingest")]
    tables = {name for (name,) in query(config, "SELECT table_name FROM information_schema.tables")}
    assert {"events", "rejects", "source_state", "ingest_runs", "schema_migrations"} <= tables


def _hold_writer(config, seconds: float) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import time
        from pulse import config as c
        from pulse.warehouse import open_warehouse
        config = c.from_dict({{"warehouse": {{"data_dir": {str(config.data_dir)!r}}}}})
        with open_warehouse(config, write=True, purpose="held by test"):
            print("holding", flush=True)
            time.sleep({seconds})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


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
        with pytest.raises(LockTimeout, match="still in use by another pulse process: pid"):
            with open_warehouse(config, write=False, on_wait=lambda message: None):
                pass
    finally:
        holder.kill()
        holder.wait()
