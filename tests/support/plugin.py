"""For the plugin tests: a real HTTP server that records every request and answers as scripted
(an event sink, a redirector, or a host nobody may reach), and reading an NDJSON sink file."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fakes.local_server import LocalServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def events(self) -> list[dict]:
        """The CloudEvents of a batched-mode body (a JSON array)."""
        return json.loads(self.body)


class Recorder(LocalServer):
    """`Recorder(host="127.0.0.2")`; `.answer(500)`, `.redirect(url)`, `.hold()` script the next answers
    (default 200); `.requests` is everything seen; `.received` is set when a request arrived."""

    name = "recorder"

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__()
        self.host = host
        self.requests: list[Seen] = []
        self.received = threading.Event()
        self._script: deque = deque()
        self._lock = threading.Lock()
        self.release = threading.Event()

    def start(self) -> None:
        self._server = ThreadingHTTPServer((self.host, 0), self.handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="fake-recorder",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        super().close()

    def answer(self, status: int, headers: dict | None = None, times: int = 1) -> None:
        with self._lock:
            self._script.extend([("answer", status, headers or {})] * times)

    def redirect(self, location: str, status: int = 307) -> None:
        self.answer(status, {"Location": location})

    def hold(self) -> None:
        """The next request is taken (recorded) and answered only once `release` is set."""
        with self._lock:
            self._script.append(("hold", 200, {}))

    def handler(self):
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with recorder._lock:
                    recorder.requests.append(Seen(self.command, self.path, dict(self.headers), body))
                    step = recorder._script.popleft() if recorder._script else ("answer", 200, {})
                recorder.received.set()
                kind, status, headers = step
                if kind == "hold":
                    recorder.release.wait(30)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                payload = b'{"ok": true}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        return Handler

    @property
    def netloc(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def sent_events(self) -> list[dict]:
        return [event for seen in self.requests if seen.method == "POST" for event in seen.events()]


def read_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
