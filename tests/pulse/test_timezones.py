"""One list of known timezones (tzdata's IANA names) for config, ingest and analytics."""

from __future__ import annotations

import duckdb

from pulse.core.timezones import known_timezones


def test_the_hosts_aliases_are_not_timezones():
    names = known_timezones()
    assert "Australia/Sydney" in names and "UTC" in names
    assert not {"localtime", "posixrules"} & names


def test_duckdb_converts_with_every_known_name():
    # analytics buckets by `timezone(name, ...)`: a name ingest accepts must never stop a build.
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    failing = []
    for name in sorted(known_timezones()):
        try:
            con.execute("SELECT timezone(?, TIMESTAMPTZ '2026-03-05 00:00:00+00')", [name]).fetchall()
        except duckdb.Error:
            failing.append(name)
    assert failing == []
