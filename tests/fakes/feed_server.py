"""A real HTTP server on 127.0.0.1 that speaks the platform's event feed, for tests.

    with FeedServer([event, event, Raw('{"id":"1","id":"2"}')], token="t") as feed:
        feed.fail(503)                # the next request gets a 503
        feed.fail(429, retry_after="7")
        feed.delay(2.0)               # the one after answers only after 2 s
        feed.serve(2); feed.fail(500) # two normal answers, then a 500
        ... FeedSource("platform", feed.url, "t") ...
        feed.requests                 # every request seen: path, query, headers

Events are JSON values, or `Raw` text put into the body exactly as given. Cursors are opaque
strings ("c<count of events before it>"); `append` adds events while the server runs.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.local_server import LocalServer


@dataclass(frozen=True)
class Raw:
    """An event's exact text in the body (duplicate keys, `1.0`, anything a serializer would tidy)."""
    text: str


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Fault:
    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FeedServer(LocalServer):
    name = "feed"

    def __init__(self, events=(), *, token: str = "test-token"):
        super().__init__()
        self.token = token
        self.events: list = list(events)
        self.requests: list[Recorded] = []
        self._faults: deque[Fault | None] = deque()
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    def handler(self):
        return _handler_for(self)

    # -- scripting ------------------------------------------------------------------------

    def append(self, *events) -> None:
        with self._lock:
            self.events.extend(events)

    def serve(self, times: int = 1) -> None:
        """Answer the next `times` requests normally (to place a later fault)."""
        self._script(None, times)

    def fail(self, status: int, *, retry_after: str | None = None, body: str | bytes | None = None, times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._script(Fault(status, body if body is not None else f"error {status}".encode(), headers), times)

    def delay(self, seconds: float, times: int = 1) -> None:
        """Answer normally, but only after `seconds` (longer than the client's timeout)."""
        self._script(Fault(delay=seconds), times)

    def malformed(self, body: str | bytes, times: int = 1) -> None:
        """Answer 200 with exactly this body."""
        self._script(Fault(200, body.encode("utf-8") if isinstance(body, str) else body), times)

    def _script(self, fault: Fault | None, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    @staticmethod
    def cursor(index: int) -> str:
        return f"c{index}"

    # -- answering ------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(Recorded(handler.command, parts.path, query, dict(handler.headers.items())))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.delay:
            self._closing.wait(fault.delay)
        elif fault is not None:
            return fault.status, fault.headers, fault.body or b""
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"WWW-Authenticate": "Bearer"}, b'{"error":"unauthorized"}'
        if not parts.path.endswith("/events"):
            return 404, {}, b'{"error":"not found"}'
        try:
            after = query.get("after", "c0")
            if not after.startswith("c"):
                raise ValueError(after)
            start = int(after[1:])
            limit = int(query.get("limit", "100"))
        except ValueError:
            return 400, {}, b'{"error":"bad cursor or limit"}'
        with self._lock:
            if not 0 <= start <= len(self.events):
                return 400, {}, b'{"error":"unknown cursor"}'
            page = self.events[start:start + limit]
        texts = [event.text if isinstance(event, Raw) else json.dumps(event) for event in page]
        body = '{"events":[' + ",".join(texts) + '],"next_cursor":' + json.dumps(self.cursor(start + len(page))) + "}"
        return 200, {"Content-Type": "application/json"}, body.encode("utf-8")


def _handler_for(server: FeedServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, headers, body = server._answer(self)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a delay fault): that was the point

        def log_message(self, format, *args):
            pass

    return Handler
