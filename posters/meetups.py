"""What the drafts are made from: meetups touched since the last look, read from the warehouse.

Read-only (`open_warehouse(write=False)`), so it runs beside `pulse serve`; the warehouse's
`seq` grows with arrival, so "new since the last look" is `seq > last_seen_seq`. A meetup's
state is each field's latest value by (time, id) over its `event:created` and
`event:updated` events, as the contract defines it; it is draftable once its `event:created`
arrived (the title and start time are known).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pulse.config import Config
from pulse.warehouse import open_warehouse

from posters.drafts import Meetup

SQL = Path(__file__).parent / "sql"


def read_changes(config: Config, after_seq: int) -> tuple[list[Meetup], int]:
    """(meetups touched by events with seq > after_seq, the highest seq seen)."""
    with open_warehouse(config, write=False, purpose="posts") as con:
        upto = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0][0]
        if upto <= after_seq:
            return [], after_seq
        rows = con.execute((SQL / "meetup_events.sql").read_text(), {"after": after_seq, "upto": upto}).fetchall()
        cities = {city: (name, tz) for city, name, tz in con.execute((SQL / "cities.sql").read_text()).fetchall()}
    return fold(rows, cities, config.analytics.default_timezone), upto


def fold(rows, cities: dict[str, tuple[str, str]], default_timezone: str) -> list[Meetup]:
    """Rows (city, event_id, type, time, id, data) sorted by meetup then (time, id) → Meetups."""
    meetups = []
    current_key, state = None, None
    for city, event_id, kind, time, _id, data in list(rows) + [(None, None, None, None, None, None)]:
        if (city, event_id) != current_key:
            if state is not None and state.get("created_at") is not None:
                meetups.append(_meetup(current_key, state, cities, default_timezone))
            current_key, state = (city, event_id), {}
        if city is None:
            break
        fields = json.loads(data) if data else {}
        if kind == "event:created" and state.get("created_at") is None:
            state["created_at"] = time
        if kind in ("event:created", "event:updated"):
            for name in ("title", "starts_at", "venue", "url", "description"):
                if fields.get(name) is not None:
                    state[name] = fields[name]
        elif kind == "event:cancelled":
            state["cancelled"] = True
            state["reason"] = fields.get("reason") or ""
    return meetups


def _meetup(key, state, cities, default_timezone) -> Meetup:
    city, event_id = key
    name, tz = cities.get(city, (city, default_timezone))
    return Meetup(
        city=city, event_id=event_id, title=state.get("title", ""),
        starts_at=dt.datetime.fromisoformat(state["starts_at"].replace("Z", "+00:00")),
        created_at=state["created_at"] if state["created_at"].tzinfo else state["created_at"].replace(tzinfo=dt.timezone.utc),
        timezone=tz or default_timezone, city_name=name or city, venue=state.get("venue", ""),
        url=state.get("url", ""), description=state.get("description", ""),
        cancelled=state.get("cancelled", False), reason=state.get("reason", ""))
