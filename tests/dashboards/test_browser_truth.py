"""What the pages say at a glance, in a real Chromium at 1280 and 390 px against a real `pulse
serve`: no page scrolls sideways, upcoming meetups are listed apart and have no attendance bar,
weekly ticks fall on Mondays, an empty range shows the one empty state, the overview tells a
region's trend, and the range form keeps what was typed. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from dashboards.export import export_all
from dashboards.ranges import Choice
from dashboards.snapshot import SnapshotReader, snapshot_path
from tests.support.web import (ADMIN_PASSWORD, LEAD_PASSWORD, Watch, browser_sign_in, no_sideways_scroll, shot,
                               wait_for_charts)

WIDTHS = (1280, 390)
EMPTY_RANGE = "range=custom&from=2019-01-07&to=2019-03-31&period=week"


def as_of(demo) -> datetime:
    with SnapshotReader(snapshot_path(demo.config)).cursor() as (_, _, freshness):
        return freshness.snapshot_at


def fits(page, name: str):
    """The page at this width: screenshot it, and nothing may stick out sideways."""
    shot(page, name)
    scroll, inner = no_sideways_scroll(page)
    client = page.evaluate("() => document.documentElement.clientWidth")
    assert scroll <= inner and scroll <= client, f"{name}: {scroll} px wide in a {inner} px window"


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(server, demo, contexts, tmp_path, width):
    context = contexts(width)
    watch = Watch(context)
    page = watch.page(context)
    page.goto(server.url + "/sign-in")
    fits(page, f"w{width}-sign-in")
    browser_sign_in(page, server.url, "admin@example.org", ADMIN_PASSWORD)
    fits(page, f"w{width}-overview")
    for name, path in [("city-sydney", "/city/sydney"), ("city-sydney-year", "/city/sydney?range=365d&period=month"),
                       ("city-sydney-empty", f"/city/sydney?{EMPTY_RANGE}"), ("city-perth", "/city/perth"),
                       ("account", "/account"), ("posts", "/posts"),
                       ("bad-range", "/city/sydney?range=custom&from=2026-03-05&to=2026-03-01")]:
        page.goto(server.url + path)
        if name.startswith("city") and "empty" not in name:
            wait_for_charts(page)
        fits(page, f"w{width}-{name}")
    # The offline copy too.
    out = tmp_path / "offline"
    export_all(demo.config, out, choice=Choice(), now=demo.now)
    for name in ("index", "sydney"):
        page.goto((out / f"{name}.html").as_uri())
        if name == "sydney":
            wait_for_charts(page)
        fits(page, f"w{width}-offline-{name}")
    watch.errors = [e for e in watch.errors if "status of 400" not in e]  # the bad range's own answer
    watch.clean()


@pytest.mark.parametrize("width", WIDTHS)
def test_upcoming_meetups_are_apart_and_the_attendance_chart_has_no_bar_for_them(server, demo, contexts, width):
    context = contexts(width)
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    page.goto(server.url + "/city/sydney?range=90d&period=week")
    wait_for_charts(page)
    moment = as_of(demo).astimezone(ZoneInfo("Australia/Sydney"))
    when = page.locator("#upcoming-table tbody td:first-child").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-value'))")
    assert when, "the demo has meetups coming up"
    assert all(datetime.fromisoformat(w) > moment for w in when)
    held = page.locator("#meetups-table tbody td:first-child").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-value'))")
    assert held and all(datetime.fromisoformat(w) <= moment for w in held)
    # The chart's bars are the meetups held, exactly: its going bars add up to the table's
    # going (cancelled rows aside), and no bar lies after the as-of week.
    going_table = sum(page.locator("#meetups-table tbody tr:not(.cancelled) td:nth-child(3)").evaluate_all(
        "cells => cells.map(c => parseInt(c.textContent, 10))"))
    bars = page.evaluate("""() => { const gd = document.getElementById('figure-attendance-trend');
                                    return {x: gd.data[0].x, y: gd.data[0].y}; }""")
    assert sum(bars["y"]) == going_table
    this_week = moment.date() - timedelta(days=moment.date().weekday())
    assert max(date.fromisoformat(x) for x in bars["x"]) <= this_week
    upcoming_going = sum(page.locator("#upcoming-table tbody td:nth-child(3)").evaluate_all(
        "cells => cells.map(c => parseInt(c.textContent, 10))"))
    assert upcoming_going > 0  # people are going to them, and none of it is in the chart
    shot(page, f"w{width}-city-sydney-upcoming")
    watch.clean()


@pytest.mark.parametrize("width", WIDTHS)
def test_week_ticks_fall_on_mondays(server, contexts, width):
    context = contexts(width)
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    for query in ("range=90d&period=week", "range=365d&period=week", "range=custom&from=2026-06-03&to=2026-08-20&period=week"):
        page.goto(server.url + f"/city/sydney?{query}")
        wait_for_charts(page)
        for name in ("member-growth", "attendance-trend", "blog-views"):
            ticks = page.evaluate(f"""() => document.getElementById('figure-{name}')._fullLayout.xaxis._vals
                                               .map(v => new Date(v.x).toISOString().slice(0, 10))""")
            assert ticks, (query, name)
            assert {date.fromisoformat(t).weekday() for t in ticks} == {0}, (query, name, ticks)
            labels = page.locator(f"#figure-{name} .xtick text").all_text_contents()
            first = date.fromisoformat(ticks[0])
            assert labels[0] == f"{first.day} {first.strftime('%b')}"  # "31 Aug": the week of that Monday
    shot(page, f"w{width}-city-sydney-week-ticks")
    watch.clean()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_range_with_no_data_shows_the_one_empty_state(server, contexts, width):
    context = contexts(width)
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    page.goto(server.url + f"/city/sydney?{EMPTY_RANGE}")
    page.wait_for_load_state("load")
    for card in ("member-growth", "attendance-trend", "meetups", "blog-views", "top-posts"):
        states = page.locator(f"#card-{card} .empty-state")
        assert states.count() == 1, card  # once, not twice
        assert states.inner_text() == "No data in this range"
    assert page.locator(".js-plotly-plot").count() == 0  # no chart with axes from -1 to 1
    styles = page.locator(".empty-state").evaluate_all(
        "els => els.map(e => { const s = getComputedStyle(e); return [s.color, s.borderStyle, s.textAlign].join(); })")
    assert len(set(styles)) == 1  # one style, the upcoming card's included
    assert "nothing before to compare with" in page.locator("[data-kpi='members_now']").inner_text()
    assert page.locator("[data-kpi='members_now'] h2").inner_text() == "Members at end of range"
    shot(page, f"w{width}-city-sydney-empty-range")
    watch.clean()


def test_the_overview_tells_the_region_at_a_glance(server, contexts):
    context = contexts(1280)
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "admin@example.org", ADMIN_PASSWORD)
    assert page.locator("h1").inner_text() == "All 5 cities"
    rows = page.locator("#overview-table tbody tr")
    assert rows.count() == 5
    assert page.locator("#overview-table tbody svg.spark").count() == 10  # members and attendance per city
    totals = page.locator("#overview-totals")
    members = [int(v) for v in page.locator("#overview-table tbody td:nth-child(2)").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-value'))")]
    assert totals.locator("td:nth-child(2) .figure-value").inner_text() == f"{sum(members):,}"
    # Every column says how it changed; members' change is not net growth again.
    for column in (3, 4, 5):
        assert page.locator(f"#overview-table tbody td:nth-child({column}) .change").count() == 5
    assert page.locator("#overview-table tbody td:nth-child(2) .change").count() == 0
    # Sorting keeps the totals last.
    page.click("#overview-table th:nth-child(3)")
    assert page.locator("#overview-table tfoot tr").count() == 1
    shot(page, "w1280-overview-admin")

    # The period selector changes the sparklines: 13 weekly points, 4 monthly, for 90 days.
    def points():
        return page.locator("#overview-table tbody tr:first-child td:nth-child(2) polyline").get_attribute("points")

    weekly = len(points().split())
    page.select_option("#period-select", "month")
    page.click("#range-form button[type=submit]")
    page.wait_for_load_state("load")
    monthly = len(points().split())
    assert weekly in (13, 14) and monthly in (3, 4), (weekly, monthly)
    shot(page, "w1280-overview-admin-month")
    watch.clean()


def test_an_organiser_sees_their_cities_named(server, demo, contexts):
    context = contexts(390)
    watch = Watch(context)
    page = watch.page(context)
    page.goto(demo.people.issue_sign_in_link("organiser@example.org", server.url))
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "Naarm / Melbourne and Perth"  # the demo renames Melbourne
    assert page.locator("#overview-totals th").inner_text() == "All 2 shown"
    fits(page, "w390-overview-organiser")
    watch.clean()


def test_the_range_form_starts_from_the_dates_shown_and_keeps_a_bad_range(server, contexts):
    context = contexts(1280)
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    page.goto(server.url + "/city/sydney?range=30d&period=week")
    sub = page.inner_text(".sub")
    page.select_option("#range-select", "custom")
    start, end = page.input_value("input[name=from]"), page.input_value("input[name=to]")
    assert f"({start} to {end})" in sub  # the custom fields open on the range shown
    page.fill("input[name=from]", "2026-03-05")
    page.fill("input[name=to]", "2026-03-01")
    page.click("#range-form button[type=submit]")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/city/sydney"
    assert "is after" in page.inner_text("#range-error")
    # The form still holds what was typed, ready to correct.
    assert page.input_value("input[name=from]") == "2026-03-05" and page.input_value("input[name=to]") == "2026-03-01"
    assert page.locator("#range-select").input_value() == "custom"
    shot(page, "w1280-city-sydney-bad-range")
    watch.errors = [e for e in watch.errors if "status of 400" not in e]  # the page's own answer
    watch.clean()
