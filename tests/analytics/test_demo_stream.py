"""The realistic demo stream (late events, DST, renames, RSVP changes), ingested in three
batches: after each, the incremental build equals the reference; at the end, a full rebuild."""

from __future__ import annotations

from datetime import date, datetime, UTC

import pytest

from analytics import metrics
from pulse import demo as demo_data
from tests.analytics.helpers import build, load, rows
from tests.analytics.reference import Reference

NOW = datetime(2026, 4, 15, tzinfo=UTC)
RANGE = (date(2026, 1, 1), date(2026, 5, 31))
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def figures(config) -> dict:
    with metrics.connect(config, build_if_stale=False, on_notice=pytest.fail) as con:
        out = {f"growth/{p}": rows(metrics.member_growth(con, "all", p, *RANGE)) for p in ("day", "week", "month")}
        out.update({f"views/{p}": rows(metrics.blog_views(con, "all", p, *MARCH)) for p in ("day", "week", "month")})
        out["attendance"] = rows(metrics.attendance(con, "all"))
        out["trend"] = rows(metrics.attendance_trend(con, "all", *RANGE))
        out["top"] = rows(metrics.top_posts(con, "all", *MARCH))
    return out


def expected(envelopes) -> dict:
    ref = Reference(envelopes)
    out = {f"growth/{p}": ref.member_growth("all", p, *RANGE) for p in ("day", "week", "month")}
    out.update({f"views/{p}": ref.blog_views("all", p, *MARCH) for p in ("day", "week", "month")})
    out["attendance"] = ref.attendance("all")
    out["trend"] = ref.attendance_trend("all", *RANGE)
    out["top"] = ref.top_posts("all", *MARCH)
    return out


def test_the_demo_stream_in_batches(config, tmp_path):
    envelopes = list(demo_data.generate_events(seed=3, now=NOW, days=90, scale=0.5))
    redelivered = envelopes[100:150]
    batches = [envelopes[:1200], envelopes[1200:2400] + redelivered, envelopes[2400:]]
    delivered = []
    for batch in batches:
        load(config, batch, tmp_path / "in")
        delivered.extend(batch)
        build(config)
        got = figures(config)
        want = expected(delivered)
        assert {name: got[name] == want[name] for name in want} == {name: True for name in want}
    assert len(got["attendance"]) > 20 and len(got["views/day"]) > 40  # the stream is not empty
    assert build(config, full=True).full
    assert figures(config) == got
