"""Every HTTP client Pulse builds (X's tweepy, Facebook's facebook-sdk, the feed, the event sink)
refuses a host outside plugin.json's external_domains (plus the hosts an operator configures)
before it connects, redirects included: a real server on that host sees no request, and no
token leaves. (Slack's client has its own tests with the security work.)

The outside host is 127.0.0.2, a loopback address neither the manifest nor the test config
allows; the allowed test host is 127.0.0.1 (`publisher.allow_hosts_for_tests`).
"""

from __future__ import annotations

import types

import pytest

from jobs.ingest.sources.base import SourceError
from jobs.ingest.sources.feed import FeedSource
from posters.channels.base import SendError
from pulse.core import emit
from pulse.core.egress import EgressRefused, guarded_session
from tests.support.plugin import Recorder
from tests.support.posters import SECRETS, channels


@pytest.fixture
def redirector():
    """An allowed host (127.0.0.1) whose every answer is a redirect, scripted by each test."""
    with Recorder() as server:
        yield server


def channel(make_config, kind: str, base_url: str):
    fake = types.SimpleNamespace(url=base_url, base_url=base_url, page_id="1234567890")
    config = make_config(**channels({kind: fake}, kinds=(kind,)))
    settings = config.cities[0].channels[0]
    return settings.channel_kind.make(settings, config.publisher)


POSTS = {"x": types.SimpleNamespace(content={"text": "Meetup tonight"}),
         "facebook": types.SimpleNamespace(content={"message": "Meetup tonight", "link": ""})}
TOKENS = {"x": SECRETS["SYD_X_TOKEN"], "facebook": SECRETS["SYD_FB_TOKEN"]}


@pytest.mark.parametrize("kind", ["x", "facebook"])
def test_a_channel_pointed_at_an_undeclared_host_is_refused_before_connecting(make_config, secrets_env, outsider, kind):
    with pytest.raises(EgressRefused, match="refused to connect to '127.0.0.2'"):
        channel(make_config, kind, outsider.url)
    assert outsider.requests == []


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("kind", ["x", "facebook"])
def test_a_redirect_from_the_api_to_an_undeclared_host_is_refused(make_config, secrets_env, redirector, outsider,
                                                                   kind, status):
    client = channel(make_config, kind, redirector.url)
    redirector.redirect(outsider.url + "/steal", status)
    with pytest.raises(SendError) as refused:
        client.send(POSTS[kind])
    assert refused.value.outcome == "permanent" and "127.0.0.2" in refused.value.message
    assert outsider.requests == []
    # The one request that went out went to the allowed host, with the credentials it was due.
    assert len(redirector.requests) == 1
    assert TOKENS[kind] in (redirector.requests[0].headers.get("Authorization", "") + redirector.requests[0].path
                            + redirector.requests[0].body.decode())


def test_a_redirect_from_the_feed_to_another_host_is_refused(redirector, outsider):
    redirector.redirect(outsider.url + "/events", 302)
    feed = FeedSource("platform", redirector.url, "feed-token-secret", max_retries=0, sleep=lambda s: None)
    with pytest.raises(SourceError, match="refused to connect to '127.0.0.2'") as refused:
        list(feed.batches(None))
    assert "feed-token-secret" not in str(refused.value)
    assert outsider.requests == []
    assert redirector.requests[0].headers["Authorization"] == "Bearer feed-token-secret"


def test_the_event_sink_follows_no_redirect_and_keeps_the_events(make_config, secrets_env, redirector, outsider):
    redirector.redirect(outsider.url + "/events", 307)
    sink = emit.HttpSink(redirector.url + "/events", "sink-token", timeout=2)
    with pytest.raises(emit.SinkDown, match="HTTP 307 \\(a redirect is not followed\\)"):
        sink.send(['{"id": "1"}'])
    assert outsider.requests == []
    assert redirector.requests[0].headers["Authorization"] == "Bearer sink-token"


def test_the_guarded_session_refuses_a_redirect_even_when_asked_to_follow_it(redirector, outsider):
    # What the sink's client is built on, following redirects as tweepy's and the feed's do.
    redirector.redirect(outsider.url + "/x", 307)
    session = guarded_session(timeout=2, extra_hosts=[redirector.netloc])
    with pytest.raises(EgressRefused, match="127.0.0.2"):
        session.post(redirector.url + "/events", data=b"[]", headers={"Authorization": "Bearer t"})
    assert outsider.requests == [] and len(redirector.requests) == 1


def test_a_redirect_to_an_allowed_host_is_followed(redirector, outsider):
    # The check refuses hosts, not redirects: one that stays on an allowed host goes through.
    redirector.redirect(redirector.url + "/next", 307)
    session = guarded_session(timeout=2, extra_hosts=[redirector.netloc])
    assert session.post(redirector.url + "/events", data=b"[]").status_code == 200
    assert [seen.path for seen in redirector.requests] == ["/events", "/next"] and outsider.requests == []
