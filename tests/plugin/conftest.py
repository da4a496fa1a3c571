"""Fixtures of the plugin tests: the three fake social APIs with their secrets, an event sink that
records what it is sent, and a server on an address nobody may reach."""

from __future__ import annotations

import pytest

from tests.fakes.social_servers import FacebookServer, SlackServer, XServer
from tests.support.plugin import Recorder
from tests.support.posters import SECRETS

SINK_TOKEN = "sink-bearer-token-0123456789"


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PULSE_SINK_TOKEN", SINK_TOKEN)
    return {**SECRETS, "PULSE_SINK_TOKEN": SINK_TOKEN}


@pytest.fixture
def servers():
    with SlackServer() as slack, XServer() as x, FacebookServer() as fb:
        yield {"slack": slack, "x": x, "facebook": fb}


@pytest.fixture
def outsider():
    """A server on 127.0.0.2: an address neither plugin.json nor any test config allows."""
    with Recorder(host="127.0.0.2") as server:
        yield server


@pytest.fixture
def sink():
    """An HTTP event sink on 127.0.0.1 that records every request (answers 200 unless scripted)."""
    with Recorder() as server:
        yield server
