"""The figures a page shows: KPI tiles against hand-counted events, the served data against
`pulse metrics`, and every plotly figure against plotly's own schema."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import pytest
from click.testing import CliRunner

from analytics import refresh
from dashboards import data, figures, kpis, ranges, render
from dashboards.snapshot import SnapshotReader, publish, snapshot_path
from pulse.web.app import create_app
from jobs.ingest.run import ingest
from pulse.cli import main as cli_main
from pulse.people import People
from tests.support.web import ADMIN_PASSWORD, SECRET, make_config
from tests.support.web import sign_in

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def ev(type, id, time, **fields):
    return {"specversion": "1.0", "id": id, "source": "tests/kpi", "type": type, "time": time,
            "city": "testville", "data": fields}


# The range asked for is 2026-03-01..2026-03-10 (10 days); the previous one 2026-02-19..02-28.
SCENARIO = [
    ev("city:upserted", "c", "2026-01-01T00:00:00Z", name="Testville", timezone="UTC"),
    ev("user:joined_city", "j5", "2026-01-10T10:00:00Z", user_id="u5"),   # before both ranges
    ev("user:joined_city", "j1", "2026-02-20T10:00:00Z", user_id="u1"),   # previous range
    ev("user:joined_city", "j2", "2026-02-25T10:00:00Z", user_id="u2"),   # previous range
    ev("user:joined_city", "j3", "2026-03-02T10:00:00Z", user_id="u3"),
    ev("user:joined_city", "j1b", "2026-03-03T10:00:00Z", user_id="u1"),  # already a member: nothing
    ev("user:left_city", "l2", "2026-03-05T10:00:00Z", user_id="u2"),
    ev("user:joined_city", "j4", "2026-03-09T10:00:00Z", user_id="u4"),
    # Meetup A (this range): going u1, u2 (u3 changed their mind); checked in u1 and u4 (a walk-in).
    ev("event:created", "ma", "2026-02-01T00:00:00Z", event_id="A", title="A", starts_at="2026-03-04T18:00:00Z"),
    ev("event:rsvp", "ra1", "2026-03-01T00:00:00Z", event_id="A", user_id="u1", status="going"),
    ev("event:rsvp", "ra2", "2026-03-01T00:00:00Z", event_id="A", user_id="u2", status="going"),
    ev("event:rsvp", "ra3", "2026-03-01T00:00:00Z", event_id="A", user_id="u3", status="going"),
    ev("event:rsvp", "ra3b", "2026-03-02T00:00:00Z", event_id="A", user_id="u3", status="not_going"),
    ev("event:checked_in", "ca1", "2026-03-04T18:05:00Z", event_id="A", user_id="u1"),
    ev("event:checked_in", "ca4", "2026-03-04T18:06:00Z", event_id="A", user_id="u4"),
    # Meetup B (this range) is cancelled: not held.
    ev("event:created", "mb", "2026-02-01T00:00:00Z", event_id="B", title="B", starts_at="2026-03-06T18:00:00Z"),
    ev("event:rsvp", "rb1", "2026-03-01T00:00:00Z", event_id="B", user_id="u1", status="going"),
    ev("event:cancelled", "xb", "2026-03-05T00:00:00Z", event_id="B"),
    # Meetup C (previous range): going u1, u5, both came.
    ev("event:created", "mc", "2026-02-01T00:00:00Z", event_id="C", title="C", starts_at="2026-02-25T18:00:00Z"),
    ev("event:rsvp", "rc1", "2026-02-20T00:00:00Z", event_id="C", user_id="u1", status="going"),
    ev("event:rsvp", "rc5", "2026-02-20T00:00:00Z", event_id="C", user_id="u5", status="going"),
    ev("event:checked_in", "cc1", "2026-02-25T18:05:00Z", event_id="C", user_id="u1"),
    ev("event:checked_in", "cc5", "2026-02-25T18:05:00Z", event_id="C", user_id="u5"),
    # Meetup D (this range) starts after NOW: not held yet.
    ev("event:created", "md", "2026-02-01T00:00:00Z", event_id="D", title="D", starts_at="2026-03-09T18:00:00Z"),
    ev("event:rsvp", "rd1", "2026-03-01T00:00:00Z", event_id="D", user_id="u1", status="going"),
    # Blog: this range 4 views by visitors x, y (x read two posts); the previous range 1 view.
    ev("blog:post_published", "pb1", "2026-02-01T00:00:00Z", post_id="b1", title="First"),
    ev("blog:post_viewed", "v1", "2026-03-02T09:00:00Z", post_id="b1", visitor_id="x"),
    ev("blog:post_viewed", "v2", "2026-03-02T10:00:00Z", post_id="b1", visitor_id="y"),
    ev("blog:post_viewed", "v3", "2026-03-03T09:00:00Z", post_id="b1", visitor_id="x"),
    ev("blog:post_viewed", "v4", "2026-03-05T09:00:00Z", post_id="b2", visitor_id="x"),
    ev("blog:post_viewed", "v0", "2026-02-21T09:00:00Z", post_id="b1", visitor_id="z"),
]

# Counted by hand from SCENARIO: (value, previous). The figures are as of NOW (03-08): u4's join
# dated 03-09 is not in them yet, as meetup D (03-09) is not held yet.
EXPECTED = {
    "members_now": (3, 3),          # u5 u1 u3 / u5 u1 u2
    "net_growth": (0, 2),           # +u3 -u2 / +u1 +u2
    "meetups_held": (1, 1),         # A / C
    "attendance_rate": ("0.5000", "1.0000"),  # (2 going - 1 no-show) / 2 ; 2/2
    "blog_views": (4, 1),
    "unique_visitors": (2, 1),      # x, y over both posts (per post it would add up to 3)
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    base = tmp_path_factory.mktemp("kpi-scenario")
    config = make_config(base / "warehouse")
    path = base / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in SCENARIO), encoding="utf-8")
    assert ingest(config, files=[str(path)]).rejected == 0
    refresh.build(config)
    publish(config)
    People(config).add("admin@example.org", "admin", password=ADMIN_PASSWORD)
    return config


CHOICE = ranges.Choice("custom", date(2026, 3, 1), date(2026, 3, 10), "week")


def test_kpi_tiles_match_the_hand_count(scenario):
    with SnapshotReader(snapshot_path(scenario)).cursor() as (con, _, _):
        city = data.find_city(con, "testville")
        found = data.city_data(con, city, data.city_window(city, CHOICE, NOW), NOW)
    tiles = {k.key: (k.output(k.value), k.output(k.previous)) for k in found.kpis}
    assert tiles == EXPECTED


def test_overview_row_from_the_page_is_the_one_computed_alone(scenario):
    with SnapshotReader(snapshot_path(scenario)).cursor() as (con, _, _):
        city = data.find_city(con, "testville")
        window = data.city_window(city, CHOICE, NOW)
        alone = data.overview_row(con, city, window, NOW)
        from_page = data.overview_row_of(data.city_data(con, city, window, NOW))
    assert alone == from_page
    assert (alone.members.value, alone.net_growth.value, alone.meetups_held.value) == (3, 0, 1)


def test_kpi_download_is_the_same_figures(scenario):
    app = create_app(scenario, secret_key=SECRET, clock=lambda: NOW)
    admin = sign_in(app, "admin@example.org", ADMIN_PASSWORD)
    query = "range=custom&from=2026-03-01&to=2026-03-10&period=week"
    rows = admin.get(f"/city/testville/kpis.json?{query}").get_json()
    assert {row["metric"]: (row["value"], row["previous_value"]) for row in rows} == EXPECTED
    assert {(row["from"], row["to"], row["previous_from"], row["previous_to"]) for row in rows} == {
        ("2026-03-01", "2026-03-10", "2026-02-19", "2026-02-28")}
    by_metric = {row["metric"]: row["change"] for row in rows}
    assert by_metric["net_growth"] == -2 and by_metric["attendance_rate"] == "-0.5000"
    page = admin.get(f"/city/testville?{query}").get_data(as_text=True)
    assert "50.0%" in page and "\u221250.0 pts" in page  # the rate tile and its change
    # The meetups table lists those started by NOW, the cancelled one too, marked; D has not
    # started: it is upcoming, with its one RSVP, and counts as neither attended nor no-show.
    meetups = list(csv.DictReader(io.StringIO(admin.get(f"/city/testville/meetups.csv?{query}").get_data(as_text=True))))
    assert [(m["event_id"], m["status"]) for m in meetups] == [("A", "scheduled"), ("B", "cancelled")]
    upcoming = admin.get(f"/city/testville/upcoming.json?{query}").get_json()
    assert [(m["event_id"], m["going"], m["waitlist"], m["capacity"]) for m in upcoming] == [("D", 1, 0, "")]
    trend = admin.get(f"/city/testville/attendance-trend.json?{query}").get_json()
    assert sum(row["going"] for row in trend) == 2 and sum(row["no_shows"] for row in trend) == 1  # A only


def test_presets_end_on_the_citys_own_today():
    choice = ranges.parse_choice({"range": "30d", "period": "month"})
    late_utc = datetime(2026, 3, 8, 20, 0, tzinfo=UTC)  # already 03-09 in Sydney
    sydney = ranges.window(choice, ranges.local_today("Australia/Sydney", late_utc))
    assert (sydney.start, sydney.end) == (date(2026, 2, 8), date(2026, 3, 9))
    assert (sydney.previous_start, sydney.previous_end) == (date(2026, 1, 9), date(2026, 2, 7))
    utc = ranges.window(choice, ranges.local_today("UTC", late_utc))
    assert utc.end == date(2026, 3, 8)


def _cli_json(config, *args) -> list[dict]:
    """What `pulse metrics ... --format json` prints (the command itself, run in-process)."""
    result = CliRunner().invoke(cli_main, ["--data-dir", str(config.data_dir), "metrics", *args,
                                           "--format", "json", "--no-build"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _ranges(today: date):
    """(query, first, last, period) for a custom range inside the demo year and a preset."""
    first, last = today - timedelta(days=200), today - timedelta(days=95)
    yield (f"range=custom&from={first}&to={last}&period=week", first, last, "week")
    yield ("range=90d&period=month", today - timedelta(days=89), today, "month")


def _local_period(instant: str, period: str) -> date:
    day = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ZoneInfo("Australia/Sydney")).date()
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def test_served_data_is_pulse_metrics_over_the_range_as_of_the_snapshot(demo):
    """The pages' tables against `pulse metrics` (the contract's figures) as an independent
    oracle: each period counts its days in the range (whole periods are the contract's rows
    exactly), and meetups not started when the snapshot was taken are not in the tables."""
    app = create_app(demo.config, secret_key=SECRET)
    admin = sign_in(app, "admin@example.org", ADMIN_PASSWORD)
    with SnapshotReader(snapshot_path(demo.config)).cursor() as (_, _, freshness):
        as_of = freshness.snapshot_at
    sydney_today = as_of.astimezone(ZoneInfo("Australia/Sydney")).date()
    for query, first, last, period in _ranges(sydney_today):
        served = {name: admin.get(f"/city/sydney/{name}.json?{query}").get_json()
                  for name in ("member-growth", "attendance-trend", "meetups", "upcoming", "blog-views", "top-posts")}
        common = ["--city", "sydney", "--from", first.isoformat(), "--to", last.isoformat()]
        days = {row["period_start"]: row for row in _cli_json(demo.config, "member-growth", *common, "--period", "day")}
        whole = {row["period_start"]: row for row in _cli_json(demo.config, "member-growth", *common, "--period", period)}
        for row in served["member-growth"]:
            inside = [days[d] for d in days if row["from"] <= d <= row["to"]]
            assert row["joins"] == sum(d["joins"] for d in inside) and row["leaves"] == sum(d["leaves"] for d in inside)
            assert row["members_end"] == days[row["to"]]["members_end"]
            if row["from"] == row["period_start"] and row["to"] == (date.fromisoformat(row["period_start"]) + (
                    timedelta(days=6) if period == "week" else timedelta(days=0))).isoformat():
                assert {k: row[k] for k in whole[row["period_start"]]} == whole[row["period_start"]]
        assert served["member-growth"][0]["from"] == first.isoformat()
        assert served["member-growth"][-1]["to"] == last.isoformat()

        def instant(m):
            return datetime.fromisoformat(m["starts_at"].replace("Z", "+00:00"))

        contract = _cli_json(demo.config, "attendance", *common)
        started = [m for m in contract if instant(m) <= as_of]
        assert served["meetups"] == started
        held = [m for m in started if m["status"] == "scheduled"]
        for row in served["attendance-trend"]:
            mine = [m for m in held if _local_period(m["starts_at"], period).isoformat() == row["period_start"]]
            assert (row["events"], row["going"], row["no_shows"]) == (
                len(mine), sum(m["going"] for m in mine), sum(m["no_shows"] for m in mine)), row
        ahead = _cli_json(demo.config, "attendance", "--city", "sydney", "--from", first.isoformat(),
                          "--to", (sydney_today + timedelta(days=800)).isoformat())
        later = [m["event_id"] for m in ahead if instant(m) > as_of and m["status"] == "scheduled"]
        assert later and [m["event_id"] for m in served["upcoming"]] == later  # the demo has meetups coming up

        daily_views = _cli_json(demo.config, "blog-views", *common, "--period", "day")
        for row in served["blog-views"]:
            assert row["views"] == sum(v["views"] for v in daily_views if v["post_id"] == row["post_id"]
                                       and row["from"] <= v["period_start"] <= row["to"])
        assert served["top-posts"] == _cli_json(demo.config, "top-posts", *common)
        assert all(served.values()), "every table has rows in the demo data"
        # And the CSV is the same rows as the JSON.
        member_csv = admin.get(f"/city/sydney/member-growth.csv?{query}").get_data(as_text=True)
        assert [row["members_end"] for row in csv.DictReader(io.StringIO(member_csv))] == [
            str(row["members_end"]) for row in served["member-growth"]]


# --- figures ---------------------------------------------------------------------------------

def _frames():
    weeks = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    growth = pd.DataFrame({"city": ["c"] * 3, "period_start": weeks, "from": weeks, "to": weeks,
                           "joins": [3, 0, 2], "leaves": [1, 0, 4], "net": [2, 0, -2], "members_end": [10, 10, 8]})
    trend = pd.DataFrame({"city": ["c"] * 2, "period_start": [date(2026, 2, 1), date(2026, 3, 1)], "events": [1, 0],
                          "going": [4, 0], "checked_in": [3, 0], "no_shows": [1, 0],
                          "attendance_rate": [0.75, float("nan")]})
    views = pd.DataFrame({"city": ["c"] * 3, "post_id": ["a", "b", "a"], "title": ["A", "B", "A"],
                          "period_start": [date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 9)],
                          "views": [5, 2, 1], "unique_visitors": [4, 2, 1]})
    top = pd.DataFrame({"city": ["c"] * 3, "post_id": ["p1", "p2", "p3"],
                        "title": ["<b>bold</b> & <a href='javascript:alert(1)'>x</a>", "", "Same"],
                        "views": [9, 5, 1], "unique_visitors": [3, 2, 1]})
    return growth, trend, views, top


def test_figures_follow_the_plotly_schema_and_carry_the_numbers():
    growth, trend, views, top = _frames()
    built = {
        "growth": figures.member_growth(growth, "week"),
        "trend": figures.attendance_trend(trend, "month"),
        "views": figures.blog_views(views, "week", list(growth["period_start"])),
        "top": figures.top_posts(top, label_length=200),
    }
    for figure in built.values():
        go.Figure(figure)  # raises on anything plotly does not know
    joins, leaves, members = built["growth"]["data"]
    assert joins["y"] == [3, 0, 2] and leaves["y"] == [-1, 0, -4] and members["y"] == [10, 10, 8]
    assert built["trend"]["data"][2]["y"] == [75.0, None]  # percent; an undefined rate is a gap
    assert built["views"]["data"][0]["x"] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert built["views"]["data"][0]["y"] == [7, 1, 0]  # a week without views is a zero, not missing
    labels = built["top"]["data"][0]["y"]
    assert labels == ["1. &lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&#x27;javascript:alert(1)&#x27;&gt;x&lt;/a&gt;",
                      "2. (untitled p2)", "3. Same"]
    assert built["top"]["data"][0]["hovertext"][0] == labels[0][3:]
    assert all(f["layout"]["hoverlabel"]["namelength"] == -1 for f in built.values())  # names never cut


def test_period_axes_tick_on_period_starts_and_name_them_as_periods():
    mondays = [date(2026, 8, 31) + timedelta(weeks=n) for n in range(20)]
    axis = figures.period_axis(mondays, "week")
    assert axis["tickmode"] == "linear" and axis["tick0"] == "2026-08-31"
    assert axis["dtick"] % (7 * figures.DAY_MS) == 0  # every tick a Monday
    assert axis["tickformat"] == "%-d %b" and axis["hoverformat"] == "week of %-d %b %Y"
    # Clipped to the periods shown: half a week either side of the first and last bar.
    assert axis["range"] == ["2026-08-27 12:00:00", "2027-01-14 12:00:00"]
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    month_axis = figures.period_axis(months, "month")
    assert (month_axis["tick0"], month_axis["dtick"], month_axis["hoverformat"]) == ("2026-01-01", "M1", "%b %Y")


def test_dual_axes_share_their_zero():
    for low, high, top in [(-4, 3, 10), (-40, 2, 377), (0, 5, 20), (-3, 0, 8)]:
        left, right = figures.aligned_ranges(low, high, top)
        assert left[0] <= low and left[1] >= high and right[1] >= top
        # The zero of each axis at the same height of the plot.
        assert -left[0] / (left[1] - left[0]) == pytest.approx(-right[0] / (right[1] - right[0]))
    growth, _, _, _ = _frames()
    layout = figures.member_growth(growth, "week")["layout"]
    assert min(layout["yaxis2"]["tickvals"]) == 0  # no negative member counts on the axis


def test_long_titles_are_shortened_on_the_axis_only():
    _, _, _, top = _frames()
    top.loc[0, "title"] = "A" * 60
    figure = figures.top_posts(top, label_length=48)
    assert figure["data"][0]["y"][0] == "1. " + "A" * 47 + "\u2026"
    assert figure["data"][0]["hovertext"][0] == "A" * 60


def test_nothing_to_draw_is_no_chart():
    """The page shows its one empty state instead of axes from -1 to 1."""
    growth, trend, views, top = _frames()
    assert figures.member_growth(growth.iloc[0:0], "month") is None
    assert figures.member_growth(growth.assign(joins=0, leaves=0, members_end=0), "week") is None
    assert figures.attendance_trend(trend.assign(events=0), "month") is None
    assert figures.blog_views(views.iloc[0:0], "week", [date(2026, 3, 2)]) is None
    assert figures.top_posts(top.iloc[0:0]) is None


def test_figure_json_cannot_close_its_script_element():
    text = figures.to_json({"data": [{"type": "bar", "y": [1], "name": "</script><script>alert(1)</script>"}],
                            "layout": {}})
    assert "</script" not in text and "<" not in text
    assert json.loads(text)["data"][0]["name"] == "</script><script>alert(1)</script>"


def test_kpi_change_texts():
    up = kpis.Kpi("k", "K", 12, 10)
    down = kpis.Kpi("r", "R", __import__("decimal").Decimal("0.5000"), __import__("decimal").Decimal("0.7500"), kind="rate")
    none = kpis.Kpi("r", "R", None, __import__("decimal").Decimal("0.5"), kind="rate")
    assert render.kpi_change(up) == ("+2", "up")
    assert render.kpi_change(down) == ("\u221225.0 pts", "down")
    assert render.kpi_change(none) == (render.NO_COMPARISON, "none")
    assert render.kpi_value(down) == "50.0%" and render.kpi_value(none) == "–"


def test_figures_computed_in_worker_processes_are_the_same(scenario):
    query = "range=custom&from=2026-03-01&to=2026-03-10&period=week"
    answers = []
    for workers in (0, 1):
        app = create_app(scenario, secret_key=SECRET, clock=lambda: NOW, workers=workers)
        try:
            admin = sign_in(app, "admin@example.org", ADMIN_PASSWORD)
            answers.append([admin.get(f"/city/testville/{name}.json?{query}").get_json()
                            for name in ("kpis", "member-growth", "meetups", "top-posts")]
                           + [admin.get(f"/overview.json?{query}").get_json()])
        finally:
            app.extensions["pulse.dashboards"].pages.stop()
    assert answers[0] == answers[1]
    assert answers[0][0][0]["value"] == 3


def _row(slug, members, attendance, previous_held=1):
    city = data.City(slug, slug.title(), "UTC")
    window = ranges.window(ranges.Choice("30d", None, None, "week"), date(2026, 3, 15))
    weeks = [date(2026, 3, 2), date(2026, 3, 9)]
    return data.OverviewRow(
        city, window, kpis.Kpi("members_now", "Members now", members[-1], members[0]),
        kpis.Kpi("net_growth", "Net growth", 1, 0), kpis.Kpi("meetups_held", "Meetups held", 2, previous_held),
        kpis.Kpi("attendance_rate", "Attendance rate", None, None, kind="rate"),
        going=sum(g for g, _ in attendance), no_shows=sum(n for _, n in attendance), going_before=4, no_shows_before=1,
        members_series=tuple(zip(weeks, members, strict=True)),
        attendance_series=tuple((w, g, n) for w, (g, n) in zip(weeks, attendance, strict=True)))


def test_the_region_row_adds_up_the_cities():
    rows = [_row("a", [10, 12], [(4, 1), (0, 0)]), _row("b", [5, 4], [(6, 3), (2, 0)], previous_held=None)]
    region = data.totals(rows)
    assert (region.members.value, region.members.previous) == (16, 15)
    assert region.meetups_held.previous == 1  # b had no figures before: it adds nothing, it does not blank the row
    assert region.attendance_rate.value == Decimal("0.6667")  # (12 going - 4 no-shows) / 12, not a mean of rates
    assert region.members_series == ((date(2026, 3, 2), 15), (date(2026, 3, 9), 16))
    assert region.rate_series == ((date(2026, 3, 2), 0.6), (date(2026, 3, 9), 1.0))  # (10-4)/10, (2-0)/2


def test_the_overview_heading_names_what_the_person_sees():
    rows = [_row(slug, [1, 1], [(0, 0), (0, 0)]) for slug in ("perth", "melbourne", "sydney", "auckland")]
    assert render.overview_heading(rows, everyone=True) == "All 4 cities"
    assert render.overview_heading(rows[:1], everyone=False) == "Perth"
    assert render.overview_heading(rows[:2], everyone=False) == "Melbourne and Perth"
    assert render.overview_heading(rows[:3], everyone=False) == "Melbourne, Perth and Sydney"
    assert render.overview_heading(rows, everyone=False) == "Your 4 cities"


def test_the_overview_of_every_city_at_once_is_each_city_alone_and_the_contract(demo):
    """The overview reads every city with two queries; each row must be what the city's own
    page computes, and members on every day what `pulse metrics member-growth --period day` says."""
    with SnapshotReader(snapshot_path(demo.config)).cursor() as (con, _, freshness):
        everyone = data.cities(con)
        moment = freshness.snapshot_at
        choice = ranges.Choice("365d", None, None, "month")
        together = data.overview_rows(con, everyone, choice, moment, moment)
        alone = [data.overview_row_of(data.city_data(con, c, data.city_window(c, choice, moment), moment))
                 for c in everyone]
        assert together == alone and len(together) == 5
        days = data.member_days(con)
        for city in everyone:
            window = data.city_window(city, choice, moment)
            contract = _cli_json(demo.config, "member-growth", "--city", city.slug, "--period", "day",
                                 "--from", window.start.isoformat(), "--to", window.end.isoformat())
            assert [days[city.slug].members_on(date.fromisoformat(r["period_start"])) for r in contract] == [
                r["members_end"] for r in contract]
