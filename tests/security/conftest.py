"""Fixtures of the attack suite: one target for the session (two cities with hostile meetup
titles, ingested, built and published; drafts awaiting approval in each city; people of every
role), a real `pulse serve` over it that believes 127.0.0.1 as its proxy (so each test can be a
visitor from an address of its own), and Chromium."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import refresh
from dashboards import snapshot
from jobs.ingest.run import ingest
from posters.publisher import Publisher
from posters.store import PostStore
from pulse.core import config as config_module
from pulse.people import People
from tests.fakes.social_servers import FacebookServer, SlackServer, XServer
from tests.support.posters import SECRETS, channels, city_event, meetup_events, toml
from tests.support.records import envelope, write_lines
from tests.support.security import FORMULA_TITLES, PASSWORD
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, Server, hostile_events, now_utc, require_chromium


class Target:
    """What the suite attacks: `config`, `config_path`, `data_dir`, `people`, the posts of each
    city (`posts["sydney"]`, `posts["perth"]`), `slack_secret`."""


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    base = tmp_path_factory.mktemp("security")
    now = now_utc()
    patch = pytest.MonkeyPatch()
    for name, value in SECRETS.items():
        patch.setenv(name, value)
    with SlackServer() as slack, XServer() as x, FacebookServer() as fb:
        servers = {"slack": slack, "x": x, "facebook": fb}
        raw = channels(servers, mode="approval")
        raw["cities"]["perth"] = channels(servers, city="perth", mode="approval")["cities"]["perth"]
        raw["warehouse"] = {"data_dir": str(base / "data"), "lock_timeout_seconds": 60}
        config_path = base / "pulse.toml"
        config_path.write_text(toml(raw), encoding="utf-8")
        patch.setenv("PULSE_CONFIG", str(config_path))
        config = config_module.load(config_path)

        past = now - dt.timedelta(days=5)
        events = [city_event("sydney"), city_event("perth", "Perth", "Australia/Perth"), *hostile_events(now)]
        for n, title in enumerate(FORMULA_TITLES):
            events.append(envelope(f"formula-{n}", "event:created", city="sydney", time=_iso(past - dt.timedelta(days=1)),
                                   data={"event_id": f"m_formula_{n}", "title": title, "starts_at": _iso(past),
                                         "venue": "=1+1"}))
        created, starts = now - dt.timedelta(hours=1), now + dt.timedelta(days=4)
        events += meetup_events("m_sydney", created=created, starts=starts, title="Sydney <b>draft</b>")
        events += meetup_events("m_perth", created=created, starts=starts, city="perth", title="Perth draft")
        ingest(config, files=[str(write_lines(base / "events" / "target.ndjson", events))])
        refresh.build(config)
        snapshot.publish(config)
        Publisher(config).run()  # approval mode: drafts wait, nothing is sent

    people = People(config)
    people.add("lead@sydney.example", "lead", ["sydney"], password=PASSWORD)
    people.add("org@sydney.example", "organiser", ["sydney"], password=PASSWORD)
    people.add("org@perth.example", "organiser", ["perth"], password=PASSWORD)
    people.add("admin@region.example", "admin", password=PASSWORD)
    people.set_slack_user("org@sydney.example", "U0SYD")

    found = Target()
    found.config, found.config_path, found.data_dir, found.people, found.now = (
        config, config_path, config.data_dir, people, now)
    with PostStore(config) as store:
        found.posts = {city: store.find(city=city) for city in ("sydney", "perth")}
    found.slack_secret = SECRETS["SLACK_SIGNING_SECRET"]
    assert found.posts["sydney"] and found.posts["perth"]
    yield found
    patch.undo()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="session")
def server(target):
    """`pulse serve` over the target, with 127.0.0.1 as its trusted proxy."""
    running = Server(target.data_dir, "--workers", "0", "--trusted-proxy", "127.0.0.1")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """One Chromium per module (Playwright's sync API cannot start while another runs)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
