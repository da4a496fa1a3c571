"""Downloads that are safe in a spreadsheet, a private data folder, and no secrets in the
configuration's URLs and connection strings (nor in what is said about them)."""

from __future__ import annotations

import csv
import html
import io
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from pulse.core import sqlite
from pulse.core.storage import ensure_folder
from tests.support.security import FORMULA_TITLES, Visitor
from tests.support.web import pulse_command

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out


def _formula_safe(title: str) -> str:
    """OWASP's rule, written out: a text cell starting with = + - @ TAB or CR gets a leading '."""
    return "'" + title if title[:1] in ("=", "+", "-", "@", "\t", "\r") else title


def test_dashboard_csv_downloads_defuse_formulas(server):
    lead = Visitor(server.url, "192.0.2.80")
    lead.sign_in("lead@sydney.example")
    response = lead.get("/city/sydney/meetups.csv?range=30d")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))
    titles = {row["title"] for row in rows}
    for title in FORMULA_TITLES:
        assert _formula_safe(title) in titles, title
    assert not any(t[:1] in "=+-@\t\r" for t in titles)
    # Numbers stay numbers (a negative one would start with '-': there it is a number, not text).
    for row in rows:
        for column in ("going", "checked_in", "no_shows", "walk_ins"):
            if column in row and row[column] != "":
                assert re.fullmatch(r"-?\d+", row[column]), (column, row[column])
    # JSON carries the text exactly as sent.
    data = lead.get("/city/sydney/meetups.json?range=30d").json()
    assert set(FORMULA_TITLES) <= {row["title"] for row in data}


def test_the_offline_export_defuses_formulas_too(target, tmp_path):
    out = tmp_path / "site"
    done = subprocess.run(pulse_command("--data-dir", str(target.data_dir), "dashboards", "--out", str(out),
                                        "--range", "30d", "--no-build", "--city", "sydney"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    page = (out / "sydney.html").read_text(encoding="utf-8")
    tables = [unquote(html.unescape(link)) for link in re.findall(r'href="data:text/csv;charset=utf-8,([^"]+)"', page)]
    # The meetups held and the upcoming ones are separate downloads: the titles are in one or the other.
    meetups = [t for t in tables if t.startswith("city,") and "title" in t.split("\n", 1)[0].split(",")]
    titles = {row["title"] for table in meetups for row in csv.DictReader(io.StringIO(table, newline=""))}
    assert {_formula_safe(title) for title in FORMULA_TITLES} <= titles


def test_pulse_metrics_csv_keeps_the_contracts_exact_text(target):
    done = subprocess.run(pulse_command("--data-dir", str(target.data_dir), "metrics", "attendance", "--city",
                                        "sydney", "--format", "csv", "--no-build"), capture_output=True)
    assert done.returncode == 0, done.stderr
    titles = {row["title"] for row in csv.DictReader(io.StringIO(done.stdout.decode("utf-8"), newline=""))}
    assert set(FORMULA_TITLES) <= titles  # exactly as the platform sent them: no quote added


def test_the_data_folder_is_private_and_so_is_every_file_pulse_writes(target, tmp_path):
    assert target.data_dir.stat().st_mode & 0o777 == 0o700
    written = {p.relative_to(target.data_dir).as_posix(): p.stat().st_mode & 0o777
               for p in target.data_dir.rglob("*") if p.is_file()}
    assert {"pulse.duckdb", "dashboard.duckdb", "people.sqlite", "posts.sqlite"} <= set(written)
    assert {name: mode for name, mode in written.items() if mode != 0o600} == {}
    # A new store under umask 022: the file, its WAL and shared memory are 0600 from the first
    # connection on (SQLite gives them the database file's mode).
    old = os.umask(0o022)
    try:
        folder = ensure_folder(tmp_path / "new" / "data")
        con = sqlite.connect(folder / "store.sqlite")
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES (1)")
        modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
        con.close()
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert modes == {"store.sqlite": 0o600, "store.sqlite-wal": 0o600, "store.sqlite-shm": 0o600}


FEED_SECRET = "s3cr3t-feed-token"


@pytest.mark.parametrize("url", [
    f"https://reader:{FEED_SECRET}@feed.example/",
    f"https://{FEED_SECRET}@feed.example/",
    f"https://feed.example/?token={FEED_SECRET}",
    f"https://feed.example/#{FEED_SECRET}",
    f"ftp://reader:{FEED_SECRET}@feed.example/",
    f"https://feed.example:{FEED_SECRET}/",
    f"https://feed.example\\@{FEED_SECRET}/",
])
def test_a_feed_url_with_a_secret_is_refused_without_repeating_it(tmp_path, url):
    result = _ingest_with(tmp_path, f'[sources.platform]\nkind = "feed"\nurl = "{_toml(url)}"\ntoken_env = "FEED_T"\n')
    assert result.returncode == 2, result
    assert "sources.platform.url" in result.stderr and FEED_SECRET not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


PG_SECRET = "s3cr3t-pg-password"


@pytest.mark.parametrize("dsn", [
    f"host=db dbname=platform user=reader password={PG_SECRET}",
    f"host=db sslpassword={PG_SECRET} user=reader",
    f"postgresql://reader:{PG_SECRET}@db/platform",
    f"postgresql://reader@db/platform?password={PG_SECRET}",
    f"host=db password {PG_SECRET}",           # malformed: libpq's message would quote it
    f"host='db {PG_SECRET}",                   # an unterminated quote
])
def test_an_outbox_dsn_with_a_password_is_refused_without_repeating_it(tmp_path, dsn):
    result = _ingest_with(tmp_path, f'[sources.platform]\nkind = "outbox"\ndsn = "{_toml(dsn)}"\n')
    assert result.returncode == 2, result
    assert "sources.platform.dsn" in result.stderr and PG_SECRET not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _toml(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _ingest_with(tmp_path: Path, sources: str):
    config = tmp_path / "pulse.toml"
    config.write_text(f'[warehouse]\ndata_dir = "{tmp_path / "data"}"\n{sources}', encoding="utf-8")
    env = {**os.environ, "PULSE_CONFIG": str(config), "FEED_T": "x"}
    return subprocess.run(pulse_command("ingest"), capture_output=True, text=True, env=env, timeout=120)
