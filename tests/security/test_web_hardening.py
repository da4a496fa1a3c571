"""Headers, redirects, malformed input and the security log, against a real pulse serve."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import sqlite3
import time
from urllib.parse import urlencode

import pytest

from posters.slack_approvals import signature
from tests.support.security import PASSWORD, Visitor, security_events
from tests.support.web import Server

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def _raw(server, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> http.client.HTTPResponse:
    """A request exactly as given (Host header, bytes), which requests would tidy up."""
    con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    con.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in {"Host": f"127.0.0.1:{server.port}", **(headers or {})}.items():
        con.putheader(name, value)
    con.putheader("Content-Length", str(len(body)))
    con.endheaders(body)
    response = con.getresponse()
    response.body = response.read()
    con.close()
    return response


def test_permissions_policy_everywhere_and_no_hsts_over_plain_cookies(server):
    for path in ("/sign-in", "/healthz", "/no-such-page"):
        response = Visitor(server.url).get(path)
        assert "camera=()" in response.headers["Permissions-Policy"], path
        assert "geolocation=()" in response.headers["Permissions-Policy"], path
        assert "Strict-Transport-Security" not in response.headers, path


def test_hsts_when_cookies_are_secure(target):
    secure = Server(target.data_dir, "--workers", "0", "--secure-cookies")
    try:
        response = Visitor(secure.url).get("/sign-in")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        secure.stop()


@pytest.mark.parametrize("path", ["//evil.example/", "//evil.example//x", "/city//sydney", "/posts//1",
                                  "/assets//pulse.css"])
def test_the_host_header_never_picks_a_redirect_target(server, path):
    response = _raw(server, "GET", path, {"Host": "evil.example"})
    location = response.getheader("Location") or ""
    assert "evil.example" not in location, (path, location)
    assert response.status in (302, 404), (path, response.status)  # not found, or to sign-in on this site
    if location:
        assert location.startswith("/sign-in"), location


def test_sign_in_next_cannot_send_anyone_elsewhere_or_inject_headers(server):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/x\r\nSet-Cookie: a=b",
                   "/%0d%0aSet-Cookie:%20a=b", "javascript:alert(1)"):
        visitor = Visitor(server.url, "192.0.2.60")
        visitor.get("/sign-in")
        response = visitor.post("/sign-in", {"email": "lead@sydney.example", "password": PASSWORD, "next": target})
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//") and "\n" not in location, target
        assert "evil.example" not in location.split("?")[0] or location.startswith("/%"), target
        assert "a=b" not in response.headers.get("Set-Cookie", ""), target


def _slack(server, headers: dict, body: bytes):
    return _raw(server, "POST", "/slack/interactions",
                {"Content-Type": "application/x-www-form-urlencoded", **headers}, body)


def _hmac(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's signature by its definition, for bodies slack-sdk cannot sign (not UTF-8)."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def _seen_slack_requests(target) -> int:
    with contextlib.closing(sqlite3.connect(target.data_dir / "posts.sqlite")) as con:
        return con.execute("SELECT count(*) FROM slack_requests_seen").fetchone()[0]


def test_malformed_slack_requests_are_400_and_write_nothing(server, target):
    now = str(int(time.time()))
    body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    good = signature(target.slack_secret, now, body)
    before = _seen_slack_requests(target)
    cases = [
        ({"X-Slack-Request-Timestamp": "\u00b2\u00b3", "X-Slack-Signature": good}, body),          # isdigit() but not int
        ({"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": good}, body),             # int() refuses
        ({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "\u00e9" * 64}, body),   # not ASCII
        ({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": good + ", v0=00"}, body),
        ({"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": good}, body),
        ({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": _hmac(target.slack_secret, now, b"\xff\xfe")},
         b"\xff\xfe"),                                                                             # body not UTF-8
    ]
    for headers, sent in cases:
        response = _slack(server, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}, sent)
        assert response.status == 400, (headers, response.status, response.body)
    assert _slack(server, {}, body).status == 401  # unsigned: not malformed, just not Slack's
    assert _seen_slack_requests(target) == before  # nothing was written for any of them


def test_slack_signatures_and_replays_hold_over_http(server, target):
    post = next(p for p in target.posts["sydney"] if p.channel == "slack")
    from posters.approvals import text_hash
    from posters.store import PostStore

    with PostStore(target.config) as store:
        current = store.get(post.id)
    payload = {"type": "block_actions", "user": {"id": "U0SYD"},
               "actions": [{"action_id": "pulse_approve", "value": f"{post.id}:{text_hash(current)}"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    now = str(int(time.time()))
    forged = _slack(server, {"X-Slack-Request-Timestamp": now,
                             "X-Slack-Signature": signature("not-the-secret", now, body)}, body)
    assert forged.status == 401
    old = str(int(time.time()) - 301)
    stale = _slack(server, {"X-Slack-Request-Timestamp": old, "X-Slack-Signature": signature(target.slack_secret, old, body)}, body)
    assert stale.status == 401
    headers = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(target.slack_secret, now, body)}
    first = _slack(server, headers, body)
    assert first.status == 200, first.body
    assert _slack(server, headers, body).status == 401  # the same signed request again: a replay
    with PostStore(target.config) as store:
        assert store.get(post.id).state == "approved"  # once, by the first signed click


@pytest.mark.parametrize("query", ["range=custom&from=9999-11-01&to=9999-12-01", "range=custom&from=0001-01-05&to=0001-01-10",
                                   "range=custom&from=10000-01-01&to=10000-01-02", "range=%00", "period=%ff",
                                   "range=custom&from=2026-13-01&to=2026-13-02", "range=custom&from=&to="])
def test_bad_dates_and_ranges_are_a_400(server, query):
    admin = Visitor(server.url, "192.0.2.61")
    admin.sign_in("admin@region.example")
    for path in ("/", "/city/sydney", "/city/sydney/meetups.csv", "/overview.json"):
        assert admin.get(f"{path}?{query}").status_code == 400, (path, query)


def test_other_malformed_requests_are_never_a_500(server):
    admin = Visitor(server.url, "192.0.2.62")
    admin.sign_in("admin@region.example")
    admin.get("/posts")
    for path in ("/posts?status=%ff", "/posts/99999999999999999999999", "/city/%ff", "/city/sydney/%2e%2e.csv",
                 "/sign-in/link/%ff%fe", "/assets/..%2fapp.py", "/sign-in?next=%ff"):
        assert admin.get(path).status_code < 500, path
    for path, data in (("/posts/99999999999999999999/approve", {}), ("/posts/999999/edit", {"text": b"\xed\xb3\xbf\xff"}),
                       ("/sign-in", {"email": "\x00" * 1000, "password": "\x00"}),
                       ("/sign-in", {"email": "a" * 60_000, "password": "x"})):
        assert admin.post(path, data).status_code < 500, path
    huge = admin.post("/sign-in", {"email": "x", "password": "p" * 70_000})
    assert huge.status_code == 413


def test_the_security_log(server, target):
    target.people.add("logged@sydney.example", "organiser", ["sydney"], password=PASSWORD)
    link = target.people.issue_sign_in_link("logged@sydney.example", server.url)
    token = link.rsplit("/", 1)[1]
    wrong = Visitor(server.url, "192.0.2.63")
    for _ in range(5):
        wrong.post("/sign-in", {"email": "logged@sydney.example", "password": "a wrong password"})
    wrong.post("/sign-in", {"email": "logged@sydney.example", "password": PASSWORD})  # throttled
    person = Visitor(server.url, "192.0.2.64")
    person.sign_in("logged@sydney.example")
    linked = Visitor(server.url, "192.0.2.65")
    linked.get(link.removeprefix(server.url))
    linked.post(link.removeprefix(server.url))
    person.post("/sign-out", {"csrf_token": "forged"})  # refused
    person.get("/posts")
    post = next(p for p in target.posts["sydney"] if p.channel == "x")
    person.post(f"/posts/{post.id}/approve", {"hash": ""})
    person.get("/account")
    person.post("/sign-out")
    _slack(server, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
           b"payload=%7B%7D")
    slack_post = next(p for p in target.posts["sydney"] if p.channel == "facebook")
    click = urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0SYD"}, "actions": [
        {"action_id": "pulse_approve", "value": f"{slack_post.id}:"}]})}).encode()
    now = str(int(time.time()))
    assert _slack(server, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(target.slack_secret, now, click)},
                  click).status == 200
    time.sleep(0.3)
    events = security_events(server.log)
    mine = [e for e in events if e.get("email") == "logged@sydney.example"]
    kinds = {e["event"] for e in mine}
    assert {"sign_in_failure", "lockout", "sign_in_throttled", "sign_in_success", "link_used", "csrf_refused",
            "action", "sign_out"} <= kinds, kinds
    assert any(e["event"] == "lockout" and e["held_by"] == "pair" and e["address"] == "192.0.2.63" for e in mine)
    approval = next(e for e in mine if e["event"] == "action" and e["endpoint"] == "posts.approve")
    assert approval["post_id"] == post.id and approval["status"] == 303
    assert any(e["event"] == "slack_signature_refused" and e["reason"] == "bad signature" for e in events)
    # A Slack click has no session: its line names the Slack user and the person it is mapped to.
    (clicked,) = [e for e in events if e["event"] == "slack_action" and e["post_id"] == slack_post.id]
    assert (clicked["slack_user"], clicked["email"], clicked["post_id"], clicked["method"], clicked["status"]) == (
        "U0SYD", "org@sydney.example", slack_post.id, "approve", 200)
    # Never a secret: no password, link token, session id or signing secret anywhere in the log.
    text = server.log.read_text(encoding="utf-8", errors="replace")
    for secret in (PASSWORD, "a wrong password", token, target.slack_secret, person.cookie or "(none)",
                   linked.cookie):
        assert secret not in text
    assert "/sign-in/link/" not in text
