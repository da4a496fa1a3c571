"""Serving while the jobs write: the snapshot, its refresh, and a real `pulse serve` process
answering pages while `pulse ingest` and `pulse build` run in other processes."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from datetime import timedelta, UTC

import pytest

from analytics import refresh
from dashboards import snapshot
from dashboards.snapshot import Refresher, SnapshotReader, open_snapshot, publish, read_freshness, snapshot_path
from pulse.core.config import Config
from pulse.core.warehouse import LockTimeout, open_warehouse
from tests.support.web import (ADMIN_PASSWORD, ROOT, Server, copy_warehouse, make_config, pulse_command)

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def test_snapshot_holds_the_models_and_how_fresh_they_are(demo):
    with contextlib.closing(open_snapshot(snapshot_path(demo.config))) as snap, \
            open_warehouse(demo.config, write=False) as warehouse:
        for table in ("cities", "meetups", "attendance", "member_daily", "posts"):
            query = f"SELECT * FROM analytics.{table} ORDER BY ALL"
            assert snap.execute(query).fetchall() == warehouse.execute(query).fetchall(), table
        folded = "SELECT city, post_id, day, visitor_id, sum(views) FROM analytics.blog_visits GROUP BY ALL ORDER BY ALL"
        assert snap.execute(folded).fetchall() == warehouse.execute(folded).fetchall()
        freshness = read_freshness(snap)
        max_seq = warehouse.execute("SELECT max(seq) FROM events").fetchall()[0][0]
    assert freshness.built and freshness.last_seq == freshness.max_seq == max_seq
    assert freshness.last_run_status == "completed" and freshness.last_ingest_at is not None
    assert freshness.stale_reasons(freshness.snapshot_at, timedelta(hours=24)) == []


def test_stale_reasons():
    base = snapshot.Freshness(True, None, 10, 10, None, "completed", None, None, 1)
    from datetime import datetime
    now = datetime(2026, 3, 8, tzinfo=UTC)
    assert base.stale_reasons(now, timedelta(hours=24)) == ["No ingest has completed yet."]
    late = snapshot.Freshness(True, now, 10, 25, now - timedelta(days=3), "failed", now, now, 1)
    assert late.stale_reasons(now, timedelta(hours=24)) == [
        "15 events ingested since the last build are not in these figures yet (the next `pulse build` adds them).",
        "The last ingest finished 3 days ago.",
        "The most recent ingest run failed.",
    ]
    never = snapshot.Freshness(False, None, 0, 0, None, None, None, now, 0)
    assert never.stale_reasons(now, timedelta(hours=24))[0].startswith("The metrics have not been built yet")


def test_publish_without_waiting_gives_up_at_once_while_a_writer_works(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    _add_meetup(config, tmp_path)  # the warehouse is newer than its snapshot: a refresh is due
    with open_warehouse(config, write=True, purpose="test writer"):
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            publish(config, wait=False)
        assert time.monotonic() - started < 1.0
        refresher = Refresher(config)
        assert refresher.refresh_once() is False and refresher.last_attempt_busy


def test_reader_follows_a_replaced_snapshot(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    reader = SnapshotReader(snapshot_path(config))
    with reader.cursor() as (con, first_version, _):
        before = con.execute("SELECT count(*) FROM analytics.meetups").fetchall()[0][0]
        # A new snapshot replaces the file while this cursor is still reading the old one.
        _add_meetup(config, tmp_path)
        refresh.build(config)
        publish(config)
        assert con.execute("SELECT count(*) FROM analytics.meetups").fetchall()[0][0] == before
    with reader.cursor() as (con, second_version, _):
        assert second_version != first_version
        assert con.execute("SELECT count(*) FROM analytics.meetups").fetchall()[0][0] == before + 1


def test_refresher_publishes_only_when_the_warehouse_changed(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    refresher = Refresher(config)
    assert refresher.refresh_once() is False     # the snapshot is of this very warehouse
    _add_meetup(config, tmp_path)
    assert refresher.due()
    assert refresher.refresh_once() is True
    assert refresher.refresh_once() is False     # nothing changed since


def test_no_warehouse_yet_is_an_empty_not_built_snapshot(tmp_path):
    config = make_config(tmp_path / "empty")
    path = publish(config)
    with contextlib.closing(open_snapshot(path)) as con:
        assert read_freshness(con).built is False
    assert not (tmp_path / "empty" / "pulse.duckdb").exists()


_added = iter(range(1_000_000))


def _add_meetup(config: Config, tmp_path):
    from jobs.ingest.run import ingest
    n = next(_added)
    path = tmp_path / f"extra-{n}.ndjson"
    path.write_text(json.dumps({
        "specversion": "1.0", "id": f"extra-{n}", "source": "tests/serving", "type": "event:created",
        "time": "2026-03-01T00:00:00Z", "city": "sydney",
        "data": {"event_id": f"m_extra_{n}", "title": f"Extra {n}", "starts_at": "2026-03-02T08:00:00Z"}}) + "\n")
    assert ingest(config, files=[str(path)]).accepted == 1


class Visitor:
    """A signed-in browser without the browser: cookies, CSRF token, page fetches."""

    def __init__(self, url: str, email: str, password: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = self.get("/sign-in")[1]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token, "next": "/"})
        with self.opener.open(url + "/sign-in", data=body.encode(), timeout=30) as response:
            assert response.status == 200

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.url + path, timeout=30) as response:
            return response.status, response.read().decode("utf-8")


@pytest.mark.slow
def test_pages_keep_answering_while_ingest_and_build_run(demo, tmp_path):
    """Ingest and build in their own processes, over and over, while pages are fetched; neither
    side fails, and the pages move on to the new figures once the jobs are done."""
    config = copy_warehouse(demo, tmp_path / "data")
    server = Server(config.data_dir, "--refresh-seconds", "0.5")
    try:
        admin = Visitor(server.url, "admin@example.org", ADMIN_PASSWORD)
        status, page = admin.get("/city/sydney?range=365d")
        assert status == 200
        failures, latencies, stop = [], [], threading.Event()

        def fetch():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status, _ = admin.get("/city/sydney?range=365d&period=month")
                    if status != 200:
                        failures.append(status)
                except OSError as error:
                    failures.append(repr(error))
                latencies.append(time.monotonic() - started)

        readers = [threading.Thread(target=fetch) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            for round_ in range(3):
                batch = tmp_path / f"batch-{round_}.ndjson"
                batch.write_text("".join(json.dumps({
                    "specversion": "1.0", "id": f"live-{round_}-{i}", "source": "tests/live", "type": "user:joined_city",
                    "time": demo.now.strftime("%Y-%m-%dT%H:%M:%SZ"), "city": "sydney",
                    "data": {"user_id": f"u_live_{round_}_{i}"}}) + "\n" for i in range(50)))
                for args in (["ingest", "--file", str(batch)], ["build"]):
                    job = subprocess.run(pulse_command("--data-dir", str(config.data_dir), *args),
                                         capture_output=True, text=True, cwd=ROOT, timeout=120)
                    assert job.returncode == 0, job.stderr
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert failures == []
        assert len(latencies) > 20
        # Within a few refresh intervals the pages show the 150 new members.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            kpis = json.loads(admin.get("/city/sydney/kpis.json?range=30d")[1])
            if next(k for k in kpis if k["metric"] == "net_growth")["value"] >= 150:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the new members never reached the pages")
    finally:
        server.stop()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _gone(pids: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{pid}") for pid in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_workers_end_with_the_server(demo, stop):
    server = Server(demo.data_dir)
    try:
        Visitor(server.url, "admin@example.org", ADMIN_PASSWORD).get("/city/perth?range=30d")
        workers = _children(server.process.pid)
        assert len(workers) >= 2  # the figure workers (and multiprocessing's resource tracker)
        getattr(server.process, stop)()
        server.process.wait(15)
        assert _gone(workers, 10), f"workers left behind after {stop}"
    finally:
        server.stop()


def test_pages_warn_when_events_arrived_after_the_build(demo, tmp_path):
    from pulse.web.app import create_app
    from tests.support.web import SECRET
    from tests.support.web import sign_in

    config = copy_warehouse(demo, tmp_path / "data")
    app = create_app(config, secret_key=SECRET)
    admin = sign_in(app, "admin@example.org", ADMIN_PASSWORD)
    assert 'id="stale-warning"' not in admin.get("/city/sydney").get_data(as_text=True)
    _add_meetup(config, tmp_path)
    publish(config)
    page = admin.get("/city/sydney").get_data(as_text=True)
    assert 'id="stale-warning"' in page
    assert "1 event ingested since the last build is not in these figures yet" in page
    assert "Data as of: last ingest" in page
