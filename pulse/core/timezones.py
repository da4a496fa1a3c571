"""Which timezone names Pulse knows: one list for config, ingest and analytics.

The IANA names shipped in the `tzdata` package, the same on every machine. Not zoneinfo's
`available_timezones()`: it adds whatever the host has under /usr/share/zoneinfo, such as
`localtime` or `posixrules`, which are no IANA names and which DuckDB cannot convert with.
"""

from __future__ import annotations

import functools
from importlib import resources


@functools.lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """Every IANA timezone name Pulse accepts (for `city:upserted`, and in the config)."""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


def check_timezone(name: str) -> str:
    """`name` when it is a known IANA timezone, else ValueError with what to write instead."""
    if name not in known_timezones():
        raise ValueError(f"{name!r} is not a known IANA timezone; use a name like \"Australia/Sydney\" or \"UTC\"")
    return name


def install(con) -> None:
    """Make the list a table `known_timezones(name)` of this DuckDB connection (temp: it is the
    code's list, never stored), so SQL checks names against the very same list."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS known_timezones (name VARCHAR)")
    if not con.execute("SELECT count(*) FROM known_timezones").fetchall()[0][0]:
        con.execute("INSERT INTO known_timezones SELECT unnest(?::VARCHAR[])", [sorted(known_timezones())])
