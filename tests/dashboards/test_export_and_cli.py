"""`pulse dashboards --out DIR` (offline HTML) and `pulse users` (people and sign-in links)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from dashboards.export import export_all, page_name
from dashboards.ranges import Choice
from pulse.cli import main as cli_main
from pulse.people import People
from tests.support.web import SCRIPT_TITLE, make_config

CITIES = ["auckland", "melbourne", "perth", "singapore", "sydney"]


def run(*args, input=None):
    return CliRunner().invoke(cli_main, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def exported(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("offline")
    files = export_all(demo.config, out, choice=Choice("30d", None, None, "week"), now=demo.now)
    return out, files


def test_export_writes_a_page_per_city_the_overview_and_plotly_once(exported):
    out, files = exported
    assert [f.name for f in files] == ["index.html"] + [f"{c}.html" for c in CITIES] + [
        "pulse.css", "dashboard.css", "dashboard.js", "plotly.min.js"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in files)
    plotly = (out / "plotly.min.js").read_text()
    assert len(plotly) > 1_000_000 and "plotly" in plotly[:2000].lower()
    for page in out.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        # Nothing is fetched from anywhere: every script and stylesheet is a file beside the page.
        sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
        assert set(sources) <= {"plotly.min.js", "dashboard.js", "dashboard.css", "pulse.css", "data:,"}, page.name
        assert "cdn.plot.ly" not in html and len(html) < 1_000_000, page.name  # plotly.js is not inlined


def test_overview_links_every_city_page(exported):
    out, _ = exported
    html = (out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([a-z-]+\.html)">', html) == [f"{c}.html" for c in CITIES]


def test_offline_downloads_are_the_same_as_pulse_metrics(demo, exported):
    out, _ = exported
    html = (out / "sydney.html").read_text(encoding="utf-8")
    link = re.search(r'href="data:text/csv;charset=utf-8,([^"]+)" download="(sydney-meetups-[^"]+\.csv)"', html)
    assert link, "a meetups CSV download"
    last = demo.now.astimezone(ZoneInfo("Australia/Sydney")).date()
    first = last - timedelta(days=29)
    assert link.group(2) == f"sydney-meetups-{first}-{last}.csv"
    printed = run("--data-dir", str(demo.data_dir), "metrics", "attendance", "--city", "sydney",
                  "--from", first.isoformat(), "--to", last.isoformat(), "--format", "csv", "--no-build")
    assert unquote(link.group(1)) == printed.stdout
    assert SCRIPT_TITLE in printed.stdout


def test_offline_pages_escape_user_text(exported):
    out, _ = exported
    html = (out / "sydney.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and SCRIPT_TITLE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html


def test_a_city_called_index_does_not_overwrite_the_overview():
    assert page_name("index") == "index.city.html"
    assert page_name("sydney") == "sydney.html"


def test_pulse_dashboards_command(demo, tmp_path):
    out = tmp_path / "site"
    result = run("--data-dir", str(demo.data_dir), "dashboards", "--out", str(out), "--city", "perth",
                 "--range", "365d", "--period", "month", "--no-build")
    assert result.exit_code == 0, result.output
    assert "wrote 2 pages" in result.output and str(out.resolve() / "index.html") in result.output
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html", "perth.html"]
    assert "Last 365 days" in (out / "perth.html").read_text(encoding="utf-8")
    bad = run("--data-dir", str(demo.data_dir), "dashboards", "--out", str(out), "--from", "2026-03-05",
              "--to", "2026-03-01")
    assert bad.exit_code == 2 and "is after" in bad.output


def test_users_commands(tmp_path):
    data_dir = tmp_path / "data"
    base = ["--data-dir", str(data_dir), "users"]
    added = run(*base, "add", "Lead@Example.org", "--role", "lead", "--city", "sydney", "--city", "perth",
                "--base-url", "http://127.0.0.1:9999")
    assert added.exit_code == 0, added.output
    assert "added lead@example.org (lead; perth, sydney)" in added.output
    link = re.search(r"http://127\.0\.0\.1:9999/sign-in/link/(\S+)", added.output).group(1)
    people = People(make_config(data_dir))
    assert people.peek(link).email == "lead@example.org"

    assert run(*base, "add", "root@example.org", "--role", "admin", "--password-stdin",
               input="a-very-long-password\n").exit_code == 0
    assert people.verify_password("root@example.org", "a-very-long-password") is not None
    short = run(*base, "add", "x@example.org", "--role", "admin", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output

    listed = run(*base, "list")
    assert [line.rstrip() for line in listed.output.splitlines()] == [
        "email             role   cities        password  slack",
        "----------------  -----  ------------  --------  -----",
        "lead@example.org  lead   perth,sydney  no",
        "root@example.org  admin  (all)         yes",
    ]
    # In a narrow terminal, one record a person, as the other commands' tables do.
    narrow = CliRunner(env={"COLUMNS": "30"}).invoke(cli_main, [*base, "list"], catch_exceptions=False)
    assert narrow.output.splitlines()[:3] == ["-[ 1 ]" + "-" * 20, "email     lead@example.org",
                                              "role      lead"]
    assert "scrypt" not in listed.output and "scrypt" not in run(*base, "list", "--format", "json").output

    for args, message in [(["add", "a@example.org", "--role", "admin", "--city", "sydney"], "admin sees every city"),
                          (["add", "a@example.org", "--role", "lead"], "at least one --city"),
                          (["add", "lead@example.org", "--role", "lead", "--city", "x"], "already exists"),
                          (["link", "ghost@example.org"], "no user")]:
        result = run(*base, *args)
        assert result.exit_code == 2 and message in result.output, args

    new_link = run(*base, "link", "lead@example.org", "--valid-hours", "1").output.strip()
    assert new_link.startswith("http://127.0.0.1:8080/sign-in/link/")
    assert run(*base, "update", "lead@example.org", "--role", "organiser").exit_code == 0
    assert people.get("lead@example.org").role == "organiser"
    assert run(*base, "slack", "lead@example.org", "U0123").exit_code == 0
    refused = run(*base, "slack", "root@example.org", "U0\x1b]0;owned\x07")
    assert refused.exit_code == 2 and "is not a Slack member id" in refused.output and "\x1b" not in refused.output
    assert people.by_slack_user("U0123").email == "lead@example.org"
    assert run(*base, "remove", "lead@example.org").exit_code == 0
    assert people.peek(new_link.rsplit("/", 1)[1]) is None
    gone = run(*base, "remove", "lead@example.org")
    assert gone.exit_code == 1 and "no user" in gone.output


def test_demo_helpers(demo, tmp_path):
    from dashboards.demo import demo_sign_in, render_demo
    from tests.support.web import copy_warehouse

    config = copy_warehouse(demo, tmp_path / "data")
    first = demo_sign_in(config)
    second = demo_sign_in(config)
    people = People(config)
    assert people.verify_password(first.email, first.password) is None  # replaced by the second
    assert people.verify_password(second.email, second.password).is_admin
    assert people.peek(second.link.rsplit("/", 1)[1]).email == second.email
    files = render_demo(config, tmp_path / "site")
    assert files[0] == tmp_path / "site" / "index.html" and (tmp_path / "site" / "sydney.html").exists()
