"""Outbound clients go only where plugin.json (or the operator) allows, redirects included, and
a token goes only to the host it is for. Real slack-sdk, tweepy and facebook-sdk against local
servers on 127.0.0.1; a second local server on another port stands for "elsewhere"."""

from __future__ import annotations

import datetime as dt
from http.server import BaseHTTPRequestHandler

import pytest

from posters.publisher import Publisher
from pulse.core.egress import EgressRefused, check_url, guarded_session, parse_url
from tests.fakes.local_server import LocalServer
from tests.fakes.social_servers import SlackServer, XServer
from tests.support.posters import SECRETS, city_event, load, meetup_events

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


class Redirector(LocalServer):
    """Answers every request with `status` and a Location on `target` (same path)."""

    name = "redirector"

    def __init__(self, target: str, status: int = 302):
        super().__init__()
        self.target, self.status, self.seen = target, status, []

    def handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append((self.command, self.path, dict(self.headers)))
                self.send_response(server.status)
                self.send_header("Location", server.target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

        return Handler


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


def _slack_publish(make_config, tmp_path, base_url: str, allowed: list[str]):
    config = make_config(
        cities={"sydney": {"channels": {"slack": {"channel": "#meetups", "token_env": "SYD_SLACK_TOKEN",
                                                  "base_url": base_url, "mode": "auto", "post": "on_create",
                                                  "enabled_since": "2020-01-01T00:00:00Z",
                                                  "rate_per_minute": 6000}}}},
        publisher={"allow_hosts_for_tests": allowed, "timeout_seconds": 2.0, "max_attempts": 1,
                   "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.1})
    now = dt.datetime.now(dt.UTC)
    load(config, tmp_path, [city_event()] + meetup_events("m1", created=now - dt.timedelta(hours=1),
                                                          starts=now + dt.timedelta(days=3)))
    return Publisher(config).run()


def test_the_slack_client_does_not_follow_a_redirect_off_the_allow_list(make_config, tmp_path, secrets_env):
    with SlackServer() as elsewhere, Redirector(elsewhere.url) as slack:
        report = _slack_publish(make_config, tmp_path, slack.url + "/api/", [f"127.0.0.1:{_port(slack.url)}"])
        assert slack.seen and slack.seen[0][1] == "/api/chat.postMessage"
        assert elsewhere.requests == []  # not one connection to the host that is not allowed
        outcome = report.outcomes[0]
        assert outcome.state in ("needs_attention", "failed") and "refused to connect" in outcome.detail
        assert "test-token" not in outcome.detail


def test_the_slack_token_is_not_sent_to_another_host_even_an_allowed_one(make_config, tmp_path, secrets_env):
    with SlackServer() as elsewhere, Redirector(elsewhere.url) as slack:
        allowed = [f"127.0.0.1:{_port(slack.url)}", f"127.0.0.1:{_port(elsewhere.url)}"]
        _slack_publish(make_config, tmp_path, slack.url + "/api/", allowed)
        assert slack.seen and all(h.get("Authorization") == "Bearer test-token" for _, _, h in slack.seen)
        assert elsewhere.requests, "the redirect to an allowed host is followed"
        assert all("authorization" not in r.headers for r in elsewhere.requests)


def test_without_redirects_the_guarded_slack_client_still_posts(make_config, tmp_path, secrets_env):
    with SlackServer() as slack:
        report = _slack_publish(make_config, tmp_path, slack.base_url, [f"127.0.0.1:{_port(slack.url)}"])
        assert report.count("published") == 1 and len(slack.posts) == 1


@pytest.mark.parametrize("url, words", [
    ("https://slack.com\\@evil.example/api/", "backslashes"),
    ("https://slack.com@evil.example/api/", "user info"),
    ("https://user:secret-pw@slack.com/api/", "user info"),
    ("https://slack.com:8443/api/", "not in plugin.json"),
    ("https://slack.com:0/api/", "not in plugin.json"),
    ("https://slack.com:99999/api/", "not a valid URL"),
    ("https://slack.com:notaport/api/", "not a valid URL"),
    ("ftp://slack.com/api/", "only http(s)"),
    ("https:///api/", "no host"),
    ("https://slack.com/api/\x00", "control characters"),
    ("https://sla\u202eck.com/", "not in plugin.json"),
    ("https://evil.example/?u=https://slack.com/", "not in plugin.json"),
    ("https://slack.com.evil.example/", "not in plugin.json"),
])
def test_egress_urls_are_read_strictly(url, words):
    with pytest.raises(EgressRefused, match=words.replace("(", r"\(").replace(")", r"\)")) as refused:
        check_url(url)
    assert "secret-pw" not in str(refused.value)
    assert not any(ord(ch) < 0x20 or ch == "\u202e" for ch in str(refused.value))  # escaped in the message


def test_egress_allows_what_plugin_json_declares_and_ports_only_when_listed():
    for url in ("https://slack.com/api/", "https://files.slack.com/x", "https://api.twitter.com/2/tweets",
                "https://graph.facebook.com/v19.0/1/feed", "http://slack.com:80/", "https://slack.com:443/"):
        check_url(url)
    check_url("http://127.0.0.1:8443/x", ["127.0.0.1:8443"])
    with pytest.raises(EgressRefused):
        check_url("http://127.0.0.1:8444/x", ["127.0.0.1:8443"])
    assert parse_url("https://Slack.COM./api")[1] == "slack.com"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_session_of_tweepy_facebook_sdk_and_the_feed_refuses_a_redirect_before_connecting(status):
    """The X and Facebook clients (and the feed) send through `guarded_session` (their tests
    point them at fakes through its base_url, which sends every request to the fake, so the
    redirect check is shown here, without one)."""
    with XServer() as elsewhere, Redirector(elsewhere.url, status=status) as api:
        session = guarded_session(timeout=2.0, extra_hosts=[f"127.0.0.1:{_port(api.url)}"])
        with pytest.raises(EgressRefused, match="refused to connect"):
            session.post(api.url + "/2/tweets", json={"text": "hi"}, headers={"Authorization": "Bearer x-token"})
        assert api.seen and elsewhere.requests == []
