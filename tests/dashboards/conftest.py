"""What the dashboards tests share: a demo region ingested and built into a real warehouse
(once per session), a real `pulse serve` process on a free loopback port, and Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from analytics import refresh
from dashboards import snapshot
from jobs.ingest.run import ingest
from pulse import config as config_module
from pulse.demo import REGION, generate_files
from pulse.people import People

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
    return datetime.now(timezone.utc).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A year of the demo region up to now, plus the hostile titles: ingested, built, published.

    Returns a namespace with the config, the data folder, `now`, and the people file with a
    lead of Sydney, an organiser of Perth and Melbourne, and an admin.
    """
    base = tmp_path_factory.mktemp("dashboards-demo")
    now = now_utc()
    events_dir = base / "events"
    generate_files(events_dir, now=now, cities=REGION)
    (events_dir / "hostile.ndjson").write_text(
        "".join(json.dumps(e) + "\n" for e in hostile_events(now)), encoding="utf-8")
    config = make_config(base / "warehouse")
    ingest(config, files=[str(events_dir)])
    refresh.build(config)
    snapshot.publish(config)
    people = People(config)
    people.add("lead@example.org", "lead", ["sydney"], password=LEAD_PASSWORD)
    people.add("organiser@example.org", "organiser", ["melbourne", "perth"], password=LEAD_PASSWORD)
    people.add("admin@example.org", "admin", password=ADMIN_PASSWORD)

    class Demo:
        pass

    found = Demo()
    found.config, found.data_dir, found.now, found.people, found.events_dir = (
        config, config.data_dir, now, people, events_dir)
    return found


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
        self._log = open(self.log, "wb")
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


@pytest.fixture(scope="session")
def server(demo):
    running = Server(demo.data_dir)
    yield running
    running.stop()


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


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a test module, closed after it: Playwright's sync API cannot start while
    another instance runs in the same thread, so none may outlive the module that uses it."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
