"""Fixtures of the dashboards tests: a demo region ingested and built into a real warehouse (once
per session), a real `pulse serve` process on a free loopback port, and Chromium."""

from __future__ import annotations

import json

import pytest

from analytics import refresh
from dashboards import snapshot
from jobs.ingest.run import ingest
from pulse.demo import REGION, generate_files
from pulse.people import People
from tests.support.web import (
    ADMIN_PASSWORD,
    CHROMIUM,
    CHROMIUM_ARGS,
    LEAD_PASSWORD,
    Server,
    hostile_events,
    make_config,
    now_utc,
    require_chromium,
)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A year of the demo region up to now, plus the hostile titles: ingested, built, published.

    Returns a namespace with the config, the data folder, `now`, and the people file with a
    lead of Sydney, an organiser of Perth and Melbourne, and an admin.
    """
    base = tmp_path_factory.mktemp("dashboards-demo")
    now = now_utc()
    events_dir = base / "events"
    generate_files(events_dir, now=now, cities=REGION)
    (events_dir / "hostile.ndjson").write_text(
        "".join(json.dumps(e) + "\n" for e in hostile_events(now)), encoding="utf-8")
    config = make_config(base / "warehouse")
    ingest(config, files=[str(events_dir)])
    refresh.build(config)
    snapshot.publish(config)
    people = People(config)
    people.add("lead@example.org", "lead", ["sydney"], password=LEAD_PASSWORD)
    people.add("organiser@example.org", "organiser", ["melbourne", "perth"], password=LEAD_PASSWORD)
    people.add("admin@example.org", "admin", password=ADMIN_PASSWORD)

    class Demo:
        pass

    found = Demo()
    found.config, found.data_dir, found.now, found.people, found.events_dir = (
        config, config.data_dir, now, people, events_dir)
    return found


@pytest.fixture(scope="session")
def server(demo):
    running = Server(demo.data_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a test module, closed after it: Playwright's sync API cannot start while
    another instance runs in the same thread, so none may outlive the module that uses it."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser):
    """A desktop-sized browser context (downloads allowed), closed after the test."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True,
                                  timezone_id="Europe/London")
    yield context
    context.close()


@pytest.fixture
def contexts(browser):
    """`contexts(width)`: a new browser context that wide (1280 for a laptop, 390 for a phone),
    closed after the test."""
    made = []

    def make(width: int, height: int = 900):
        made.append(browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True,
                                        timezone_id="Europe/London"))
        return made[-1]

    yield make
    for context in made:
        context.close()
