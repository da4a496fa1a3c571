"""The date range and period a dashboard shows, as chosen in its URL. Pure logic, no I/O.

A range is a preset (`30d`, `90d`, `365d`: the last N local days of the city, today
included) or `custom` with `from` and `to`; the period (`week` or `month`) buckets the charts.
The previous period is the range of the same length that ends the day before this one starts:
what every KPI tile is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from collections.abc import Mapping
from zoneinfo import ZoneInfo

# The dates a custom range may take (the previous range it is compared with included): the
# command line's (9999-12-01 or 0001-01-05 used to end in a 500 here).
from analytics.periods import FIRST_DAY, LAST_DAY, parse_date

PRESETS = {"30d": 30, "90d": 90, "365d": 365}
PRESET_LABELS = {"30d": "Last 30 days", "90d": "Last 90 days", "365d": "Last 365 days", "custom": "Custom range"}
PERIODS = ("week", "month")
PERIOD_LABELS = {"week": "Week", "month": "Month"}
DEFAULT_RANGE = "90d"
DEFAULT_PERIOD = "week"
# A custom range longer than this would ask for thousands of daily rows per page for no
# one's benefit; it is refused rather than served slowly.
MAX_DAYS = 3 * 366


class RangeError(ValueError):
    """A range or period in a URL that cannot be shown, phrased for the person who chose it."""


@dataclass(frozen=True)
class Choice:
    """What the URL asked for: `range` (a preset or custom), the custom dates, the period."""

    range: str = DEFAULT_RANGE
    start: date | None = None
    end: date | None = None
    period: str = DEFAULT_PERIOD

    def query(self) -> dict[str, str]:
        """The URL query that asks for this choice again (for links that keep it)."""
        params = {"range": self.range, "period": self.period}
        if self.range == "custom":
            params.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        return params


@dataclass(frozen=True)
class Window:
    """Concrete local dates: this range, the previous one of the same length, the period."""

    start: date
    end: date
    period: str
    choice: Choice

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous_end(self) -> date:
        return self.start - timedelta(days=1)

    @property
    def previous_start(self) -> date:
        return self.start - timedelta(days=self.days)

    def label(self) -> str:
        if self.choice.range in PRESETS:
            return f"{PRESET_LABELS[self.choice.range]} ({self.start.isoformat()} to {self.end.isoformat()})"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def previous_label(self) -> str:
        return f"{self.previous_start.isoformat()} to {self.previous_end.isoformat()}"


def parse_choice(args: Mapping[str, str]) -> Choice:
    """The choice in a URL's query (`range`, `from`, `to`, `period`); absent keys take the defaults."""
    range_name = args.get("range") or DEFAULT_RANGE
    period = args.get("period") or DEFAULT_PERIOD
    if range_name not in PRESETS and range_name != "custom":
        raise RangeError(f"range: expected one of {', '.join(PRESETS)} or custom, got {range_name!r}")
    if period not in PERIODS:
        raise RangeError(f"period: expected week or month, got {period!r}")
    if range_name != "custom":
        return Choice(range_name, None, None, period)
    try:
        start = parse_date(args.get("from") or "", "from")
        end = parse_date(args.get("to") or "", "to")
    except ValueError as error:
        raise RangeError(f"custom range: {error}") from None
    if start > end:
        raise RangeError(f"custom range: from {start} is after to {end}")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError(f"custom range: at most {MAX_DAYS} days, got {(end - start).days + 1}")
    if end > LAST_DAY:
        raise RangeError(f"custom range: to {end} is too far in the future (at most {LAST_DAY})")
    if start < FIRST_DAY + timedelta(days=(end - start).days + 1):  # the previous range starts before FIRST_DAY
        raise RangeError(f"custom range: too far in the past (this range and the one before it, which it is "
                         f"compared with, start on {FIRST_DAY} or later)")
    return Choice("custom", start, end, period)


def window(choice: Choice, today: date) -> Window:
    """The dates `choice` means for a city whose local date is `today`."""
    if choice.range in PRESETS:
        days = PRESETS[choice.range]
        return Window(today - timedelta(days=days - 1), today, choice.period, choice)
    return Window(choice.start, choice.end, choice.period, choice)


def local_today(timezone_name: str, now: datetime) -> date:
    """The calendar date in `timezone_name` at the instant `now` (timezone-aware)."""
    return now.astimezone(ZoneInfo(timezone_name)).date()
