"""Time in the demo stream: epoch milliseconds, each city's UTC offsets, RFC 3339 strings.

The generator counts time in integer milliseconds since 1970-01-01 UTC and formats it with
lookup tables rather than datetime work per event: a benchmark stream has millions of them.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000

_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_MS3 = [f"{i:03d}" for i in range(1000)]
_DATES: dict[int, str] = {}
_UNIX_ORDINAL = date(1970, 1, 1).toordinal()


def to_ms(now: datetime) -> int:
    """Epoch milliseconds of ``now`` (a naive datetime is taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return int(now.timestamp() * 1000)


def date_str(day: int) -> str:
    """``YYYY-MM-DD`` of a day counted from 1970-01-01."""
    s = _DATES.get(day)
    if s is None:
        s = _DATES[day] = date.fromordinal(day + _UNIX_ORDINAL).isoformat()
    return s


def offset_str(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    h, m = divmod(abs(seconds) // 60, 60)
    return f"{sign}{h:02d}:{m:02d}"


def fmt_utc(t: int) -> str:
    """RFC 3339 in UTC (``Z``), with milliseconds unless they are zero."""
    d, rem = divmod(t, DAY_MS)
    s, ms = divmod(rem, 1000)
    if ms:
        return f"{date_str(d)}T{_HMS[s]}.{_MS3[ms]}Z"
    return f"{date_str(d)}T{_HMS[s]}Z"


class Clock:
    """A city's UTC offsets over a range, found once with zoneinfo, then looked up by bisection."""

    def __init__(self, tzname: str, lo_ms: int, hi_ms: int):
        self.tz = tz = ZoneInfo(tzname)

        def off(sec: int) -> int:
            return int(datetime.fromtimestamp(sec, tz).utcoffset().total_seconds())

        lo, hi = lo_ms // 1000, hi_ms // 1000
        starts = [-(1 << 62)]
        offs = [off(lo)]
        t = lo
        while t < hi:
            t2 = t + 86_400
            o2 = off(t2)
            if o2 != offs[-1]:
                a, b = t, t2  # off(a) is the old offset, off(b) the new one
                while b - a > 1:
                    m = (a + b) // 2
                    if off(m) == offs[-1]:
                        a = m
                    else:
                        b = m
                starts.append(b * 1000)
                offs.append(o2)
            t = t2
        self.starts = starts
        self.offs_ms = [o * 1000 for o in offs]
        self.offstr = [offset_str(o) for o in offs]
        self.transitions = starts[1:]
        if not self.transitions:
            self.fmt = self._fmt_fixed  # type: ignore[method-assign]

    def _fmt_fixed(self, t: int) -> str:
        d, rem = divmod(t + self.offs_ms[0], DAY_MS)
        s, ms = divmod(rem, 1000)
        ds = _DATES.get(d) or date_str(d)
        if ms:
            return f"{ds}T{_HMS[s]}.{_MS3[ms]}{self.offstr[0]}"
        return f"{ds}T{_HMS[s]}{self.offstr[0]}"

    def offset_ms(self, t: int) -> int:
        return self.offs_ms[bisect_right(self.starts, t) - 1]

    def fmt(self, t: int) -> str:
        """RFC 3339 in the city's offset at ``t``, with milliseconds unless they are zero."""
        i = bisect_right(self.starts, t) - 1
        d, rem = divmod(t + self.offs_ms[i], DAY_MS)
        s, ms = divmod(rem, 1000)
        ds = _DATES.get(d) or date_str(d)
        if ms:
            return f"{ds}T{_HMS[s]}.{_MS3[ms]}{self.offstr[i]}"
        return f"{ds}T{_HMS[s]}{self.offstr[i]}"

    def local(self, y: int, mo: int, d: int, h: int, mi: int) -> int:
        """Epoch ms of a local wall-clock time (evening times never fall in a DST gap)."""
        return int(datetime(y, mo, d, h, mi, tzinfo=self.tz).timestamp()) * 1000

    def local_date(self, t: int) -> date:
        return date.fromordinal((t + self.offset_ms(t)) // DAY_MS + _UNIX_ORDINAL)
