"""Real HTTP servers on 127.0.0.1 that speak Slack's Web API, X's API v2 and Facebook's Graph API
(as far as Pulse uses them), for the real slack-sdk, tweepy and facebook-sdk clients.

    with SlackServer() as slack, XServer() as x, FacebookServer() as fb:
        slack.fail(429, headers={"Retry-After": "1"})   # the next post gets a 429
        x.fail_auth(); x.duplicate()                      # X's 401 and duplicate-content 403
        fb.fail(500)
        fb.delay(5.0, process=True)   # the post is taken, the answer comes only after 5 s
        ... slack.posts ...           # every post the server accepted, in order
        ... x.requests ...            # every request seen: method, path, headers, body

Faults apply to the posting endpoint only (chat.postMessage, POST /2/tweets, POST /{page}/feed);
look-ups (Slack history) answer normally. X refuses a text it already has, as X does. Slack also
answers chat.update (`slack.updates`) and views.open (`slack.views`); X GET /2/users/me and
Facebook GET /{page} name the account.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.local_server import LocalServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class Fault:
    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    process: bool = False
    """With a delay: take the post first, then answer late (the client's outcome is unknown)."""


class _FakeApi(LocalServer):
    name = "fake"

    def __init__(self, *, token: str = "test-token"):
        super().__init__()
        self.token = token
        self.requests: list[Recorded] = []
        self.posts: list[dict] = []
        self._faults: deque[Fault | None] = deque()
        self._lock = threading.Lock()
        self._counter = 0

    def handler(self):
        return _handler_for(self)

    # -- scripting ------------------------------------------------------------------------

    def serve(self, times: int = 1) -> None:
        self._script(None, times)

    def fail(self, status: int, body: dict | None = None, *, headers: dict | None = None, times: int = 1) -> None:
        self._script(Fault(status, body, headers or {}), times)

    def delay(self, seconds: float, *, process: bool = False, times: int = 1) -> None:
        self._script(Fault(delay=seconds, process=process), times)

    def _script(self, fault: Fault | None, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def wait_for_posts(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return True
            time.sleep(0.01)
        return False

    # -- answering ------------------------------------------------------------------------

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _fault_for_post(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def answer(self, method: str, path: str, query: dict, headers: dict, body: dict) -> tuple[int, dict, dict]:
        raise NotImplementedError

    def _posting(self, headers, body, take, ok) -> tuple[int, dict, dict]:
        """Run a post through the scripted faults: `take()` records and returns the result, `ok` wraps it."""
        fault = self._fault_for_post()
        if fault is not None and fault.delay:
            result = take() if fault.process else None
            self._closing.wait(fault.delay)
            if result is None:
                return 504, {}, {"error": "gateway timeout"}
            return ok(result)
        if fault is not None:
            return fault.status, fault.headers, fault.body if fault.body is not None else {"error": f"error {fault.status}"}
        result = take()
        return ok(result) if not isinstance(result, tuple) else result


class SlackServer(_FakeApi):
    name = "slack"
    channels = {"meetups": "C0MEETUPS", "sydney-organisers": "C0ORGSYD", "organisers": "C0ORGS",
                "leads": "C0LEADS"}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.updates: list[dict] = []
        """Every chat.update, in order (the message in `posts` is changed too)."""
        self.views: list[dict] = []
        """Every modal opened (views.open): its trigger_id and view."""

    @property
    def base_url(self) -> str:
        return self.url + "/api/"

    def fail_auth(self) -> None:
        self.fail(200, {"ok": False, "error": "invalid_auth"})

    def rate_limit(self, retry_after: int = 1) -> None:
        self.fail(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": str(retry_after)})

    def answer(self, method, path, query, headers, body):
        if headers.get("authorization") != f"Bearer {self.token}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        api = path.rsplit("/", 1)[-1]
        params = {**query, **body}
        if api == "chat.postMessage":
            channel = str(params.get("channel", "")).lstrip("#")
            channel_id = self.channels.get(channel, channel)

            def take():
                if not params.get("text") and not params.get("blocks"):
                    return 200, {}, {"ok": False, "error": "no_text"}
                ts = f"{1_800_000_000 + self._next_id()}.000100"
                metadata = params.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                message = {"type": "message", "ts": ts, "text": params.get("text"), "blocks": params.get("blocks"),
                           "metadata": metadata, "thread_ts": params.get("thread_ts"), "channel": channel_id}
                with self._lock:
                    self.posts.append(message)
                return message

            return self._posting(headers, body, take,
                                 lambda m: (200, {}, {"ok": True, "channel": m["channel"], "ts": m["ts"], "message": m}))
        if api == "conversations.history":
            with self._lock:
                found = [m for m in reversed(self.posts) if m["channel"] == params.get("channel") and not m["thread_ts"]]
            return 200, {}, {"ok": True, "messages": [_with_metadata(m, params) for m in found], "has_more": False}
        if api == "conversations.replies":
            with self._lock:
                found = [m for m in self.posts if m["channel"] == params.get("channel")
                         and (m["ts"] == params.get("ts") or m["thread_ts"] == params.get("ts"))]
            return 200, {}, {"ok": True, "messages": [_with_metadata(m, params) for m in found], "has_more": False}
        if api == "conversations.list":
            return 200, {}, {"ok": True, "channels": [{"id": i, "name": n} for n, i in self.channels.items()],
                             "response_metadata": {"next_cursor": ""}}
        if api == "chat.update":
            with self._lock:
                found = next((m for m in self.posts if m["channel"] == params.get("channel") and m["ts"] == params.get("ts")),
                             None)
                if found is None:
                    return 200, {}, {"ok": False, "error": "message_not_found"}
                blocks = params.get("blocks")
                found.update(text=params.get("text"), blocks=json.loads(blocks) if isinstance(blocks, str) else blocks)
                self.updates.append({"channel": found["channel"], "ts": found["ts"], "text": found["text"],
                                     "blocks": found["blocks"]})
            return 200, {}, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if api == "views.open":
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not params.get("trigger_id") or not isinstance(view, dict):
                return 200, {}, {"ok": False, "error": "invalid_arguments"}
            with self._lock:
                self.views.append({"trigger_id": params["trigger_id"], "view": view})
            return 200, {}, {"ok": True, "view": {"id": f"V{self._next_id():08d}", **view}}
        return 200, {}, {"ok": False, "error": "unknown_method"}


def _with_metadata(message: dict, params: dict) -> dict:
    shown = dict(message)
    if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
        shown.pop("metadata", None)
    return shown


class XServer(_FakeApi):
    name = "x"

    def __init__(self, *, consumer_key: str = "x-api-key", access_token: str = "x-access-token",
                 username: str = "pulse_sydney"):
        super().__init__()
        self.consumer_key = consumer_key
        self.access_token = access_token
        self.username = username

    def fail_auth(self) -> None:
        self.fail(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})

    def duplicate(self) -> None:
        self.fail(403, DUPLICATE)

    def rate_limit(self, reset_in: int = 1) -> None:
        self.fail(429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                        "status": 429},
                  headers={"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(int(time.time()) + reset_in)})

    def answer(self, method, path, query, headers, body):
        auth = headers.get("authorization", "")
        if not (auth.startswith("OAuth ") and f'oauth_consumer_key="{self.consumer_key}"' in auth
                and f'oauth_token="{self.access_token}"' in auth and "oauth_signature=" in auth):
            return 401, {}, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        if method == "GET" and path == "/2/users/me":
            return 200, {}, {"data": {"id": "2244994945", "name": "Pulse Sydney", "username": self.username}}
        if method == "POST" and path == "/2/tweets":
            def take():
                with self._lock:
                    if any(p["text"] == body.get("text") for p in self.posts):
                        return 403, {}, DUPLICATE
                tweet = {"id": str(1_900_000_000_000_000_000 + self._next_id()), "text": body.get("text"),
                         "reply": body.get("reply")}
                with self._lock:
                    self.posts.append(tweet)
                return tweet

            return self._posting(headers, body, take,
                                 lambda t: (201, {}, {"data": {"id": t["id"], "text": t["text"],
                                                               "edit_history_tweet_ids": [t["id"]]}}))
        return 404, {}, {"title": "Not Found Error", "status": 404, "detail": "no such endpoint"}


DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
             "title": "Forbidden", "status": 403}


class FacebookServer(_FakeApi):
    name = "facebook"

    def __init__(self, *, page_id: str = "1122334455", token: str = "fb-page-token", page_name: str = "Sydney Python"):
        super().__init__(token=token)
        self.page_id = page_id
        self.page_name = page_name
        self.versions: list[str] = []

    def fail_auth(self) -> None:
        self.fail(400, {"error": {"message": "Error validating access token: Session has expired.",
                                  "type": "OAuthException", "code": 190, "fbtrace_id": "Atest"}})

    def rate_limit(self, retry_after: int = 1) -> None:
        self.fail(429, {"error": {"message": "(#32) Page request limit reached", "type": "OAuthException",
                                  "code": 32}}, headers={"Retry-After": str(retry_after)})

    def app_limit(self, minutes: int = 60, times: int = 1) -> None:
        """Graph's code 4 (application request limit) as Facebook sends it: HTTP 400, the wait in
        the business-use-case usage header only."""
        usage = json.dumps({self.page_id: [{"type": "pages", "call_count": 100, "total_cputime": 10,
                                            "total_time": 10, "estimated_time_to_regain_access": minutes}]})
        self.fail(400, {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                                  "code": 4, "is_transient": True}},
                  headers={"X-Business-Use-Case-Usage": usage}, times=times)

    def server_error(self) -> None:
        self.fail(500, {"error": {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1,
                                  "is_transient": True}})

    def answer(self, method, path, query, headers, body):
        params = {**query, **body}
        match = re.fullmatch(r"/(v\d+\.\d+)/([^/]+)/feed", path)
        if params.get("access_token") != self.token:
            return 400, {}, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}
        page = re.fullmatch(r"/(v\d+\.\d+)/([^/]+)", path)
        if method == "GET" and page and page.group(2) == self.page_id:
            return 200, {}, {"id": self.page_id, "name": self.page_name}
        if method == "POST" and match and match.group(2) == self.page_id:
            self.versions.append(match.group(1))

            def take():
                if not params.get("message") and not params.get("link"):
                    return 400, {}, {"error": {"message": "(#100) Missing message or attachment", "code": 100}}
                post = {"id": f"{self.page_id}_{7_000_000 + self._next_id()}", "message": params.get("message"),
                        "link": params.get("link")}
                with self._lock:
                    self.posts.append(post)
                return post

            return self._posting(headers, body, take, lambda p: (200, {}, {"id": p["id"]}))
        return 404, {}, {"error": {"message": "Unknown path components", "type": "OAuthException", "code": 2500}}


def _handler_for(api: _FakeApi):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            kind = self.headers.get("Content-Type", "")
            if "json" in kind and raw:
                body = json.loads(raw)
            elif raw:
                body = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            else:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            with api._lock:
                api.requests.append(Recorded(self.command, parts.path, headers, body))
            status, extra, answer = api.answer(self.command, parts.path, query, headers, body)
            payload = json.dumps(answer).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout) or was killed

        do_GET = do_POST = _handle

    return Handler
