"""For tests of pages: the demo region's config, hostile titles, a real `pulse serve` process, and
where Chromium is."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, UTC
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pulse.core import config as config_module

ROOT = Path(__file__).resolve().parents[2]


ARTIFACTS = ROOT / "tests" / "artifacts"


CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


SECRET = "test-session-secret-" + "x" * 32


SCRIPT_TITLE = "<script>alert(1)</script>"


IMG_TITLE = "<img src=x onerror=alert(1)>"


LEAD_PASSWORD = "lead-password-sydney"


ADMIN_PASSWORD = "admin-password-region"


def make_config(data_dir: Path):
    return config_module.from_dict({"warehouse": {"data_dir": str(data_dir), "lock_timeout_seconds": 60}},
                                   base_dir=data_dir.parent)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hostile_events(now: datetime) -> list[dict]:
    """Two Sydney meetups and a post whose titles are markup, a week before `now`, with people."""
    def ev(type, id, time, **data):
        return {"specversion": "1.0", "id": id, "source": "tests/hostile", "type": type, "time": _iso(time),
                "city": "sydney", "data": data}

    start = now - timedelta(days=7)
    events = []
    for n, title in enumerate([SCRIPT_TITLE, IMG_TITLE], start=1):
        meetup = f"m_hostile_{n}"
        events.append(ev("event:created", f"h-create-{n}", start - timedelta(days=10), event_id=meetup,
                         title=title, starts_at=_iso(start + timedelta(hours=n))))
        for person in range(4):
            events.append(ev("event:rsvp", f"h-rsvp-{n}-{person}", start - timedelta(days=2), event_id=meetup,
                             user_id=f"u_hostile_{person}", status="going"))
        for person in range(3):
            events.append(ev("event:checked_in", f"h-in-{n}-{person}", start + timedelta(hours=n, minutes=5),
                             event_id=meetup, user_id=f"u_hostile_{person}"))
    events.append(ev("blog:post_published", "h-post", start, post_id="p_hostile", title=IMG_TITLE))
    for view in range(400):  # enough to be the most read post of the range
        events.append(ev("blog:post_viewed", f"h-view-{view}", start + timedelta(minutes=view),
                         post_id="p_hostile", visitor_id=f"v_hostile_{view % 250}"))
    return events


def copy_warehouse(demo, target: Path):
    """A private copy of the demo's data folder (for tests that change it)."""
    shutil.copytree(demo.data_dir, target, ignore=shutil.ignore_patterns("*.lock", "*.tmp"))
    return make_config(target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pulse_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pulse", *args]


class Server:
    """A real `pulse serve` process on 127.0.0.1."""

    def __init__(self, data_dir: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        env = {**os.environ, "PULSE_SESSION_SECRET": SECRET}
        self._log = open(self.log, "wb")  # noqa: SIM115 - the server writes into it until stop()
        self.process = subprocess.Popen(
            pulse_command("--data-dir", str(data_dir), "serve", "--port", str(self.port), *extra),
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        if not self.wait_ready(60):
            self.stop()
            raise AssertionError(f"pulse serve did not start: {self.log.read_text(errors='replace')}")

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def require_chromium():
    """Skip (locally) or fail (under CI) when Chromium or Playwright is missing, saying which."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing: pip install -e '.[test]'"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run under CI: {reason}")
        pytest.skip(reason)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path="/sign-in") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(app, email, password, address="127.0.0.1"):
    client = client_at(app, address)
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": csrf_of(client),
                                             "next": "/"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# --- in a real browser (Playwright driving Chromium) -------------------------------------

FIGURES = ["member-growth", "attendance-trend", "blog-views", "top-posts"]


class Watch:
    """What a page did that it should not: console errors, dialogs, requests off the machine."""

    def __init__(self, context):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "file", "about") or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def page(self, context):
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        return page

    def clean(self):
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        assert self.outside == [], self.outside


def shot(page, name: str):
    """A full-page screenshot into tests/artifacts/ (look at them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def browser_sign_in(page, url: str, email: str, password: str):
    """Sign in through the page's own form (a real browser's session cookie)."""
    page.goto(url + "/")
    assert urlsplit(page.url).path == "/sign-in"
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state("load")


def wait_for_charts(page, names=FIGURES):
    """Until plotly has drawn each named figure."""
    for name in names:
        page.wait_for_selector(f"#figure-{name} svg.main-svg", timeout=15_000)


def no_sideways_scroll(page) -> tuple[int, int]:
    """(scroll width, viewport width) of the page: the first must not exceed the second."""
    return tuple(page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]"))
