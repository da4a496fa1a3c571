"""Instants: parsing RFC 3339, writing them the ways Pulse writes them, and "3 days ago".

Three written forms, each for one purpose:
- `format_instant`: the contract's output format, `YYYY-MM-DDTHH:MM:SS[.fff]Z` (CSV, JSON);
- `iso`: fixed-width UTC with microseconds, which sorts like the instants it names (the
  SQLite stores keep instants as this text, so `ORDER BY` and `<=` on it are correct);
- `ago`/`duration`: for people ("5m ago", "3 days").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, UTC

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: object) -> datetime | None:
    """An RFC 3339 instant with an offset (`Z` or `+hh:mm`) as an aware datetime, or None."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def format_instant(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS[.fff]Z` in UTC; the fraction only when not zero, in milliseconds
    when it is a whole number of them, else in microseconds (nothing is rounded away)."""
    utc = moment.astimezone(UTC)
    text = (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
            f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}")
    micro = utc.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"


def iso(moment: datetime) -> str:
    """Fixed-width UTC text that sorts like the instants it names."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The instant `iso` (or any offset-carrying ISO 8601 text) names."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ago(now: datetime, when: datetime | None) -> str:
    """How long before `now` `when` was, tersely: `42s ago`, `5m ago`, `3h ago`, `2d ago`."""
    return "-" if when is None else f"{brief(now - when)} ago"


def brief(delta: timedelta) -> str:
    """A length of time in its largest whole unit, tersely: `42s`, `5m`, `3h`, `2d` (a
    negative one is `0s`)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def duration(delta: timedelta) -> str:
    """A length of time in words, to the unit that matters: `3 days`, `5 hours`, `12 minutes`."""
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{max(1, seconds // 60)} minutes"
