"""The per-period series a dashboard draws, clipped to the range it shows. Pure functions, no I/O.

Why not the metrics API's per-period tables as they are: the contract counts a period whole
(`pulse metrics member-growth --from` a Wednesday starts with that whole ISO week), so the first
and last bars of a chart would count days outside the chosen range, and the bars would not add
up to the tiles beside them. Here each period counts only its days inside the range (`from`,
`to` say which), and nothing after the figures' as-of day: a period that has not begun is not
drawn, and a meetup that has not started is not "attended" (it is in the Upcoming card).
Whole periods inside the range are exactly the contract's figures.

What they are computed from, for one city or a hundred at once (the overview reads every city
with two queries, see `dashboards.data`): `MemberDays`, the membership changes per local day,
and `HeldMeetups`, the meetups that had started by the as-of instant, each as numpy arrays so
that a range's figures are a few array lookups, not a DataFrame per city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.periods import next_period, periods, rate
from dashboards.ranges import Window

MEMBER_COLUMNS = ["city", "period_start", "from", "to", "joins", "leaves", "net", "members_end"]
ATTENDANCE_COLUMNS = ["city", "period_start", "from", "to", "events", "going", "checked_in", "no_shows",
                      "attendance_rate"]
BLOG_COLUMNS = ["city", "post_id", "title", "period_start", "from", "to", "views", "unique_visitors"]


def period_name(start: date, period: str) -> str:
    """How a period is named for people, as the contract names it (a week by its Monday):
    "week of 31 Aug 2026", "Aug 2026"."""
    if period == "week":
        return f"week of {start.day} {start.strftime('%b %Y')}"
    return start.strftime("%b %Y")


def _day(value: date) -> np.datetime64:
    return np.datetime64(value, "D")


@dataclass(frozen=True)
class MemberDays:
    """A city's membership changes per local day (`analytics.member_daily`; days without any
    are absent), sorted: what members at the end of a day, and joins and leaves over days, are
    read from. The contract's `members_end` is the running sum of joins - leaves."""

    days: np.ndarray
    """datetime64[D], ascending."""
    joins: np.ndarray
    leaves: np.ndarray

    @classmethod
    def empty(cls) -> MemberDays:
        return cls(np.array([], dtype="datetime64[D]"), np.array([], dtype=np.int64), np.array([], dtype=np.int64))

    def __post_init__(self):
        object.__setattr__(self, "_joins", np.concatenate([[0], np.cumsum(self.joins)]))
        object.__setattr__(self, "_leaves", np.concatenate([[0], np.cumsum(self.leaves)]))

    @property
    def first_day(self) -> date | None:
        """The first day with a change (None: nobody ever joined)."""
        return self.days[0].astype(date) if len(self.days) else None

    def _upto(self, day: date) -> int:
        """How many of `days` are on or before `day`."""
        return int(np.searchsorted(self.days, _day(day), side="right"))

    def members_on(self, day: date) -> int:
        """Members at the end of `day`."""
        upto = self._upto(day)
        return int(self._joins[upto] - self._leaves[upto])

    def changes(self, first: date, last: date) -> tuple[int, int]:
        """(joins, leaves) over the days first..last."""
        if last < first:
            return 0, 0
        lo, hi = self._upto(first - timedelta(days=1)), self._upto(last)
        return int(self._joins[hi] - self._joins[lo]), int(self._leaves[hi] - self._leaves[lo])

    def net(self, first: date, last: date) -> int:
        joins, leaves = self.changes(first, last)
        return joins - leaves


@dataclass(frozen=True)
class HeldMeetups:
    """A city's meetups that had started by the as-of instant, not cancelled: their local days
    (sorted) and attendance. What "meetups held" and the attendance rate are read from."""

    days: np.ndarray
    """datetime64[D] of each meetup's local start, ascending."""
    going: np.ndarray
    checked_in: np.ndarray
    no_shows: np.ndarray
    first_timers: np.ndarray

    @classmethod
    def empty(cls) -> HeldMeetups:
        none = np.array([], dtype=np.int64)
        return cls(np.array([], dtype="datetime64[D]"), none, none, none, none)

    @classmethod
    def of(cls, attendance: pd.DataFrame, timezone_name: str, as_of) -> HeldMeetups:
        """From `metrics.attendance()` rows: those not cancelled that started by `as_of`."""
        if not len(attendance):
            return cls.empty()
        keep = (attendance["status"] != "cancelled") & (attendance["starts_at"] <= pd.Timestamp(as_of))
        held = attendance[keep]
        days = held["starts_at"].dt.tz_convert(timezone_name).dt.tz_localize(None).to_numpy().astype("datetime64[D]")
        order = np.argsort(days, kind="stable")
        return cls(days[order], *(held[c].to_numpy(dtype=np.int64)[order]
                                  for c in ("going", "checked_in", "no_shows", "first_timers")))

    @property
    def first_day(self) -> date | None:
        return self.days[0].astype(date) if len(self.days) else None

    def between(self, first: date, last: date) -> slice:
        """The meetups held on the local days first..last."""
        return slice(int(np.searchsorted(self.days, _day(first), side="left")),
                     int(np.searchsorted(self.days, _day(last), side="right")))

    def count(self, first: date, last: date) -> int:
        inside = self.between(first, last)
        return inside.stop - inside.start if inside.stop > inside.start else 0

    def sums(self, first: date, last: date) -> tuple[int, int, int, int]:
        """(going, checked in, no-shows, first-timers) over the meetups held first..last."""
        inside = self.between(first, last)
        return tuple(int(column[inside].sum()) for column in (self.going, self.checked_in, self.no_shows,
                                                              self.first_timers))

    def rate(self, first: date, last: date):
        """The contract's attendance rate over them: (going - no-shows) / going, None when nobody went."""
        going, _, no_shows, _ = self.sums(first, last)
        return rate(going - no_shows, going)


def spans(window: Window, last: date, period: str | None = None) -> list[tuple[date, date, date]]:
    """(period start, first day, last day) of every period the range shows: its days inside
    `window.start`..min(`window.end`, `last`); none when the range begins after `last`."""
    period = period or window.period
    end = min(window.end, last)
    if end < window.start:
        return []
    found = []
    for begin in periods(window.start, end, period):
        found.append((begin, max(begin, window.start), min(next_period(begin, period) - timedelta(days=1), end)))
    return found


def member_periods(city: str, members: MemberDays, window: Window, last: date,
                   period: str | None = None) -> pd.DataFrame:
    """Joins, leaves and net over each period's days in the range, members at its last such day."""
    rows = []
    for begin, first, final in spans(window, last, period):
        joins, leaves = members.changes(first, final)
        rows.append((city, begin, first, final, joins, leaves, joins - leaves, members.members_on(final)))
    return pd.DataFrame(rows, columns=MEMBER_COLUMNS)


def attendance_periods(city: str, held: HeldMeetups, window: Window, last: date,
                       period: str | None = None) -> pd.DataFrame:
    """Per period: how many meetups were held on its days in the range, the sums of going,
    checked-in and no-shows, and the contract's attendance rate over them (NaN when nobody was
    going); periods without meetups included."""
    rows = []
    for begin, first, final in spans(window, last, period):
        going, checked_in, no_shows, _ = held.sums(first, final)
        exact = rate(going - no_shows, going)
        rows.append((city, begin, first, final, held.count(first, final), going, checked_in, no_shows,
                     float("nan") if exact is None else float(exact)))
    frame = pd.DataFrame(rows, columns=ATTENDANCE_COLUMNS)
    frame["attendance_rate"] = frame["attendance_rate"].astype("float64")
    return frame


def blog_periods(city: str, visits: pd.DataFrame, window: Window, last: date, period: str | None = None) -> pd.DataFrame:
    """From per post and period counts over the range's days (`data.blog_in_range`): the rows
    with each period's days in the range added."""
    bounds = {begin: (first, final) for begin, first, final in spans(window, last, period)}
    rows = [(city, row.post_id, row.title, row.period_start, *bounds[row.period_start], int(row.views),
             int(row.unique_visitors))
            for row in visits.itertuples(index=False) if row.period_start in bounds]
    return pd.DataFrame(rows, columns=BLOG_COLUMNS)
