"""The demo region and its cities: the default region, and the checks any other list of cities
goes through before a stream is made for it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")

# The default demo region. ``weight`` scales a city's member growth; ``rename`` is the name a
# later ``city:upserted`` gives the chapter (exactly one city of a region should carry it).
REGION: tuple[dict[str, Any], ...] = (
    {"slug": "sydney", "name": "Sydney", "timezone": "Australia/Sydney", "region": "apac",
     "weight": 1.3},
    {"slug": "melbourne", "name": "Melbourne", "timezone": "Australia/Melbourne", "region": "apac",
     "weight": 1.1, "rename": "Naarm / Melbourne"},
    {"slug": "perth", "name": "Perth", "timezone": "Australia/Perth", "region": "apac",
     "weight": 0.6},
    {"slug": "auckland", "name": "Auckland", "timezone": "Pacific/Auckland", "region": "apac",
     "weight": 0.8},
    {"slug": "singapore", "name": "Singapore", "timezone": "Asia/Singapore", "region": "apac",
     "weight": 0.9},
)


def normalise_cities(cities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``cities`` checked (slug, name, a known timezone) with defaults filled in; the
    first city gets a rename when none has one. Raises ValueError (or zoneinfo's error)."""
    out = []
    for c in cities:
        c = dict(c)
        for key in ("slug", "name", "timezone"):
            if not c.get(key):
                raise ValueError(f"city {c!r} needs {key!r}")
        if not isinstance(c["slug"], str) or not _SLUG.fullmatch(c["slug"]):
            raise ValueError(f"city slug {c['slug']!r} is not [a-z0-9][a-z0-9-]*")
        ZoneInfo(c["timezone"])  # an unknown name fails here, not in the middle of a stream
        c.setdefault("region", "")
        c.setdefault("weight", 1.0)
        out.append(c)
    if not out:
        raise ValueError("at least one city is needed")
    if not any(c.get("rename") for c in out):
        out[0]["rename"] = f"{out[0]['name']} Chapter"
    return out
