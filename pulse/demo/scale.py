"""``events_for_scale``: the ``scale`` that makes a stream of about the size a benchmark asks for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pulse.demo.region import REGION
from pulse.demo.stream import stream

_PROBE_NOW = datetime(2026, 3, 1, tzinfo=UTC)


def events_for_scale(n_events: int, *, seed: int = 7, now: datetime | None = None,
                     days: int = 365, cities: Iterable[Mapping[str, Any]] = REGION) -> float:
    """The ``scale`` that gives about ``n_events`` events (within a few percent).

    Counts a probe stream at scale 2, then one at the estimated scale (at most 20, where the
    count per unit of scale has settled) and extrapolates linearly: about 1.3 s of CPU for
    1 M or 5 M events alike (the probes stop at scale 20).
    """
    cities = list(cities)
    now = now or _PROBE_NOW

    def count(scale: float) -> int:
        return max(1, sum(1 for _ in stream(seed=seed, now=now, days=days, cities=cities,
                                            scale=scale)))

    first = n_events * 2.0 / count(2.0)
    probe = min(max(first, 0.05), 20.0)
    return max(0.01, n_events * probe / count(probe))
