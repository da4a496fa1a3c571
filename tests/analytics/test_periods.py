"""Calendar periods, exact rates and output formats, by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, UTC
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.periods import format_rate, parse_date, period_start, periods, rate
from pulse.core.instants import format_instant


@pytest.mark.parametrize("numerator, denominator, text", [
    (11001, 20000, "0.5501"),   # 0.55005: half up, though the nearest double is below it
    (1, 32, "0.0313"),          # 0.03125: half up, not half even
    (2, 3, "0.6667"), (1, 3, "0.3333"), (0, 7, "0.0000"), (5, 5, "1.0000"),
])
def test_rates_round_half_up_exactly(numerator, denominator, text):
    assert rate(numerator, denominator) == Decimal(text)
    assert format_rate(rate(numerator, denominator)) == text
    assert format_rate(float(rate(numerator, denominator))) == text


def test_an_undefined_rate_is_empty():
    assert rate(0, 0) is None
    assert format_rate(None) == format_rate(float("nan")) == ""


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_rate_is_the_half_up_rounding_of_the_exact_fraction(numerator, denominator):
    scaled = Fraction(numerator, denominator) * 10_000
    half_up = int(scaled + Fraction(1, 2))  # floor(x + 1/2) for x >= 0
    assert rate(numerator, denominator) == Decimal(half_up) / 10_000


def test_instants_in_utc_with_a_fraction_only_when_there_is_one():
    sydney = timezone(timedelta(hours=11))
    assert format_instant(datetime(2026, 3, 5, 19, 0, tzinfo=sydney)) == "2026-03-05T08:00:00Z"
    assert format_instant(datetime(2026, 3, 5, 8, 0, 0, 120_000, tzinfo=UTC)) == "2026-03-05T08:00:00.120Z"
    assert format_instant(datetime(2026, 3, 5, 8, 0, 0, 123_456, tzinfo=UTC)) == "2026-03-05T08:00:00.123456Z"
    assert format_instant(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00Z"


@pytest.mark.parametrize("text", ["20260305", "2026-3-05", "2026-02-30", "2026-03-05T00:00", " 2026-03-05", ""])
def test_dates_are_strictly_yyyy_mm_dd(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_periods_are_local_calendar_periods():
    sunday = date(2026, 4, 5)
    assert period_start(sunday, "week") == date(2026, 3, 30)
    assert period_start(sunday, "month") == date(2026, 4, 1)
    assert periods(date(2025, 12, 31), date(2026, 1, 1), "month") == [date(2025, 12, 1), date(2026, 1, 1)]
    assert periods(sunday, date(2026, 4, 6), "week") == [date(2026, 3, 30), date(2026, 4, 6)]
    assert periods(parse_date("2026-03-05"), date(2026, 3, 5), "day") == [date(2026, 3, 5)]
