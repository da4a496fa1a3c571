"""The dashboards in a real headless Chromium (Debian's, driven by Playwright) against a real
`pulse serve` on 127.0.0.1, and the offline export opened from disk.

Every page is screenshotted into tests/artifacts/ so a person can see what the tests saw. Each
test fails on any console error, any script dialog, and any request leaving 127.0.0.1.
"""

from __future__ import annotations

import pytest

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


from dashboards.export import export_all
from dashboards.ranges import Choice
from tests.support.web import (ADMIN_PASSWORD, IMG_TITLE, LEAD_PASSWORD, SCRIPT_TITLE, Watch, browser_sign_in,
                               shot, wait_for_charts)

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def test_sign_in_charts_range_and_csv(server, context):
    watch = Watch(context)
    page = watch.page(context)
    page.goto(server.url + "/sign-in")
    shot(page, "sign-in")
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    # A lead of one city lands on it, with the default range in the URL.
    assert urlsplit(page.url).path == "/city/sydney"
    assert parse_qs(urlsplit(page.url).query) == {"range": ["90d"], "period": ["week"]}
    wait_for_charts(page)
    assert page.locator(".kpi").count() == 6
    shot(page, "city-sydney-90d")

    # A preset range: the choice lands in the URL and the page follows it.
    page.select_option("#range-select", "365d")
    page.select_option("#period-select", "month")
    page.click("#range-form button[type=submit]")
    page.wait_for_load_state("load")
    assert parse_qs(urlsplit(page.url).query) == {"range": ["365d"], "period": ["month"]}
    wait_for_charts(page)
    assert "Last 365 days" in page.inner_text(".sub")
    shot(page, "city-sydney-365d-month")

    # A custom range: the date fields appear, and a shared link reproduces the page.
    assert not page.locator("#custom-dates").is_visible()
    page.select_option("#range-select", "custom")
    assert page.locator("#custom-dates").is_visible()
    query_before = page.url
    page.evaluate("""() => { document.querySelector('input[name=from]').value = '2026-01-05';
                             document.querySelector('input[name=to]').value = '2026-06-30'; }""")
    page.click("#range-form button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url != query_before
    assert parse_qs(urlsplit(page.url).query) == {"range": ["custom"], "from": ["2026-01-05"],
                                                  "to": ["2026-06-30"], "period": ["month"]}
    wait_for_charts(page)
    assert "2026-01-05 to 2026-06-30" in page.inner_text(".sub")
    shared = context.new_page()
    shared.goto(page.url)
    assert shared.inner_text(".sub") == page.inner_text(".sub")
    shared.close()

    # Download a CSV: the browser saves exactly what the server's CSV endpoint answers.
    with page.expect_download() as caught:
        page.click("a.download-csv[data-dataset='member-growth']")
    download = caught.value
    assert download.suggested_filename == "sydney-member-growth-2026-01-05-2026-06-30.csv"
    saved = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert [r["period_start"] for r in rows][:2] == ["2026-01-01", "2026-02-01"]
    assert rows[-1]["period_start"] == "2026-06-01"
    direct = page.request.get(server.url + "/city/sydney/member-growth.csv?range=custom&from=2026-01-05"
                              "&to=2026-06-30&period=month")
    assert direct.text() == saved
    watch.clean()


def test_markup_in_titles_shows_as_text_and_runs_nothing(server, context):
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "lead@example.org", LEAD_PASSWORD)
    page.goto(server.url + "/city/sydney?range=30d&period=week")
    wait_for_charts(page)
    titles = page.locator("#meetups-table td.title").all_inner_texts()
    assert SCRIPT_TITLE in titles and IMG_TITLE in titles
    assert page.locator("#posts-table td.title").first.inner_text() == IMG_TITLE
    # The chart's axis label shows the title's characters, not an element made of them.
    labels = page.locator("#figure-top-posts .yaxislayer-above text").all_text_contents()
    assert f"1. {IMG_TITLE}" in labels
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("main script:not([type='application/json'])").count() == 0
    page.wait_for_timeout(300)  # let any would-be onerror handler fire
    shot(page, "city-sydney-hostile-titles")
    watch.clean()


def test_admin_overview_sorts_and_links_to_each_city(server, context):
    watch = Watch(context)
    page = watch.page(context)
    browser_sign_in(page, server.url, "admin@example.org", ADMIN_PASSWORD)
    assert urlsplit(page.url).path == "/"
    rows = page.locator("#overview-table tbody tr")
    assert rows.count() == 5
    assert [r.get_attribute("data-city") for r in rows.all()] == ["auckland", "melbourne", "perth", "singapore",
                                                                    "sydney"]
    shot(page, "overview-admin")

    def members():
        return [int(v) for v in page.locator("#overview-table tbody td:nth-child(2)").evaluate_all(
            "cells => cells.map(c => c.getAttribute('data-value'))")]

    page.click("#overview-table th:nth-child(2)")
    assert members() == sorted(members())
    page.click("#overview-table th:nth-child(2)")
    assert members() == sorted(members(), reverse=True)
    page.click("#overview-table a >> text=Perth")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/city/perth"
    wait_for_charts(page)
    shot(page, "city-perth-admin")
    watch.clean()


def test_sign_in_link_from_the_command(server, demo, context):
    watch = Watch(context)
    link = demo.people.issue_sign_in_link("organiser@example.org", server.url)
    page = watch.page(context)
    page.goto(link)
    shot(page, "sign-in-link")
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert [r.get_attribute("data-city") for r in page.locator("#overview-table tbody tr").all()] == [
        "melbourne", "perth"]
    shot(page, "overview-organiser")
    page.click("form[action='/sign-out'] button")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/sign-in"
    watch.clean()


def test_offline_export_opens_from_disk_with_no_network(demo, tmp_path, context):
    out = tmp_path / "offline"
    export_all(demo.config, out, choice=Choice("90d", None, None, "week"), now=demo.now)
    watch = Watch(context)
    page = watch.page(context)
    page.goto((out / "index.html").as_uri())
    assert page.locator("#overview-table tbody tr").count() == 5
    shot(page, "offline-index")
    page.click("#overview-table a >> text=Sydney")
    page.wait_for_load_state("load")
    assert page.url == (out / "sydney.html").as_uri()
    wait_for_charts(page)
    assert SCRIPT_TITLE in page.locator("#meetups-table td.title").all_inner_texts()
    with page.expect_download() as caught:
        page.click("a.download-csv[data-dataset='meetups']")
    saved = Path(caught.value.path()).read_text(encoding="utf-8")
    assert re.match(r"city,event_id,title,starts_at,status,going", saved)
    shot(page, "offline-sydney")
    watch.clean()
