"""Local calendar periods (day, ISO week named by its Monday, month named by its first day)
and the exact arithmetic the metrics are written with. Pure functions, no I/O."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

PERIODS = ("day", "week", "month")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The dates a command-line range may take: far enough apart for any real platform, well inside
what Python's dates and the periods and timezones around a range can hold (a `--to 9999-12-31`
asks for the period after December 9999)."""


def parse_date(text: str | date, what: str = "date") -> date:
    """A local date written `YYYY-MM-DD` (nothing else: Python alone would also take `20260305`)."""
    if isinstance(text, datetime):
        raise ValueError(f"{what}: expected a date, got a date-time {text!r}")
    if isinstance(text, date):
        return text
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise ValueError(f"{what}: expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a real date") from None


def check_bounds(day: date, what: str = "date") -> date:
    """`day`, or a ValueError when it is outside FIRST_DAY..LAST_DAY."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{what}: {day.isoformat()} is outside the dates Pulse handles "
                         f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}); give a date in that range")
    return day


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period: expected day, week or month, got {period!r}")
    return period


def period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def next_period(start: date, period: str) -> date:
    """The first day of the period after the one starting on `start`."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise ValueError(f"unknown period {period!r}")


def periods(first: date, last: date, period: str) -> list[date]:
    """Starts of every period from the one containing `first` to the one containing `last`."""
    starts = []
    current = period_start(first, period)
    end = period_start(last, period)
    while current <= end:
        starts.append(current)
        current = next_period(current, period)
    return starts


def rate(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator rounded half up to exactly four decimals, in integers (no binary
    float ever sees the unrounded value); None when the denominator is 0."""
    if denominator == 0:
        return None
    tenths_of_thousandths = (2 * 10_000 * numerator + denominator) // (2 * denominator)
    return Decimal(tenths_of_thousandths).scaleb(-4)


def format_rate(value) -> str:
    """A rate with exactly four decimals; empty when undefined (None or NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    # A float here is always the nearest double to a four-decimal value (see `rate`), so
    # rounding it to four decimals again gives that value back exactly.
    return f"{value:.4f}"
