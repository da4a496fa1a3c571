"""Fixtures of the operations tests: a platform feed on 127.0.0.1 whose answers can be slowed,
so a job is reliably still running when a second one starts, a signal arrives or SIGKILL lands."""

from __future__ import annotations

import pytest

from tests.fakes.feed_server import FeedServer
from tests.support.records import envelope

TOKEN = "ops-feed-token"
EVENTS = 300


def joins(count: int, prefix: str = "ev") -> list[dict]:
    """`count` joins of distinct users in three cities: the members each city ends with is known."""
    cities = ("sydney", "perth", "melbourne")
    return [envelope(f"{prefix}-{i:05d}", city=cities[i % 3], data={"user_id": f"u{i:05d}"},
                     time=f"2026-0{1 + i % 9}-1{i % 10}T10:00:00Z") for i in range(count)]


@pytest.fixture
def feed():
    with FeedServer(joins(EVENTS), token=TOKEN) as server:
        yield server


@pytest.fixture
def feed_env(monkeypatch):
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    return {"FEED_TOKEN": TOKEN}
