"""Fixtures of the poster tests: the three fake APIs and the channels' secrets in the environment."""

from __future__ import annotations

import datetime as dt

import pytest

from posters.publisher import Publisher
from pulse.people import People
from pulse.web.app import create_app
from tests.fakes.social_servers import FacebookServer, SlackServer, XServer
from tests.support.posters import (
    PASSWORD,
    SECRETS,
    channels,
    city_event,
    load,
    meetup_events,
)


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


@pytest.fixture
def servers():
    with SlackServer() as slack, XServer() as x, FacebookServer() as fb:
        yield {"slack": slack, "x": x, "facebook": fb}


@pytest.fixture
def site(make_config, servers, secrets_env, tmp_path):
    """(config, app): the web app over a Sydney meetup's three drafts awaiting approval, with an
    organiser each for Sydney (mapped to Slack user U0SYD) and Perth."""
    NOW = dt.datetime.now(dt.UTC)
    config = make_config(**channels(servers, mode="approval"))
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=NOW - dt.timedelta(hours=1),
                                                          starts=NOW + dt.timedelta(days=4), title="Web <b>queue</b>"))
    load(config, tmp_path, [city_event("perth", "Perth", "Australia/Perth")])
    Publisher(config).run()
    people = People(config)
    people.add("org@sydney.example", "organiser", ["sydney"], password=PASSWORD)
    people.add("org@perth.example", "organiser", ["perth"], password=PASSWORD)
    people.set_slack_user("org@sydney.example", "U0SYD")
    app = create_app(config, secret_key="test-secret-key-test-secret-key!")
    return config, app
