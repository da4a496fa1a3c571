"""Access to the web app, route by route: sign-in, cities, CSRF, throttle, sessions, headers.

In-process with Flask's test client over the session's demo warehouse (real DuckDB snapshot,
real SQLite people file); nothing listens on a port here.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from dashboards.data import DATASETS
from pulse.people import People
from pulse.web.app import create_app, registered_extensions
from pulse.web.extension import NavLink, WebExtension
from tests.support.web import (
    ADMIN_PASSWORD,
    IMG_TITLE,
    LEAD_PASSWORD,
    SCRIPT_TITLE,
    SECRET,
    client_at,
    copy_warehouse,
    csrf_of,
    sign_in,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OTHER_CITIES = ["perth", "melbourne", "auckland", "singapore"]


@pytest.fixture(scope="module")
def app(demo):
    return create_app(demo.config, secret_key=SECRET)


def filled(rule, slug: str) -> list[str]:
    """Concrete URLs for a rule, every parameter filled in; unknown parameters fail the test
    so a new route cannot slip past these checks."""
    urls = [rule.rule]
    values = {"slug": [slug], "dataset": list(DATASETS), "fmt": ["csv", "json"], "token": ["not-a-token"],
              "name": ["dashboard.css"], "post_id": ["1"]}
    for argument in rule.arguments:
        assert argument in values, f"route {rule.rule} has a parameter this test does not know: {argument}"
        urls = [re.sub(rf"<(?:\w+:)?{argument}>", v, u) for u in urls for v in values[argument]]
    return urls


def routes(app, method):
    return [rule for rule in app.url_map.iter_rules() if method in rule.methods]


PUBLIC_GETS = {"/sign-in", "/sign-in/link/not-a-token", "/assets/dashboard.css", "/healthz"}


def test_signed_out_visitors_are_sent_to_sign_in_on_every_route(app):
    client = app.test_client()
    checked = 0
    for rule in routes(app, "GET"):
        for url in filled(rule, "sydney"):
            response = client.get(url)
            if url in PUBLIC_GETS:
                assert response.status_code in (200, 410), url
                assert b"sydney" not in response.data.lower() or url == "/healthz", url
                continue
            checked += 1
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/sign-in?next="), url
    assert checked >= 2 + 2 * len(DATASETS) + 2  # /, overview.csv/json, /city/x, its downloads, /account


def test_a_lead_gets_no_data_of_another_city_on_any_route(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    for other in OTHER_CITIES:
        for rule in routes(app, "GET"):
            if "slug" not in rule.arguments:
                continue
            for url in filled(rule, other):
                response = lead.get(url)
                assert response.status_code == 404, url
                assert other.encode() not in response.data.lower(), url
    # ... and the routes without a city show only theirs.
    for url in ("/overview.json", "/overview.csv", "/account"):
        response = lead.get(url)
        assert response.status_code == 200, url
        text = response.get_data(as_text=True).lower()
        assert not any(other in text for other in OTHER_CITIES), url
    assert [row["city"] for row in lead.get("/overview.json").get_json()] == ["sydney"]
    # A lead of one city lands on it.
    assert lead.get("/").headers["Location"].startswith("/city/sydney?")


def test_an_unknown_city_looks_the_same_as_someone_elses(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    unknown, forbidden = lead.get("/city/atlantis"), lead.get("/city/perth")
    assert unknown.status_code == forbidden.status_code == 404
    assert unknown.data.replace(b"atlantis", b"X") == forbidden.data.replace(b"perth", b"X")


def test_an_organiser_sees_exactly_their_cities(app):
    organiser = sign_in(app, "organiser@example.org", LEAD_PASSWORD)
    assert [row["city"] for row in organiser.get("/overview.json").get_json()] == ["melbourne", "perth"]
    page = organiser.get("/").get_data(as_text=True)
    assert 'data-city="melbourne"' in page and 'data-city="perth"' in page and 'data-city="sydney"' not in page
    assert organiser.get("/city/perth").status_code == 200
    assert organiser.get("/city/sydney").status_code == 404


def test_an_admin_sees_every_city(app):
    admin = sign_in(app, "admin@example.org", ADMIN_PASSWORD)
    cities = [row["city"] for row in admin.get("/overview.json").get_json()]
    assert cities == ["auckland", "melbourne", "perth", "singapore", "sydney"]
    for city in cities:
        assert admin.get(f"/city/{city}").status_code == 200
        rows = list(csv.DictReader(io.StringIO(admin.get(f"/city/{city}/meetups.csv").get_data(as_text=True))))
        assert {row["city"] for row in rows} <= {city}


def test_every_form_without_its_csrf_token_is_refused(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    # The Slack endpoint proves itself by Slack's signature instead (tests/posters check it).
    posts = [url for rule in routes(app, "POST") for url in filled(rule, "sydney") if url != "/slack/interactions"]
    assert set(posts) >= {"/sign-in", "/sign-out", "/account/password", "/sign-in/link/not-a-token",
                          "/posts/1/approve", "/posts/1/reject", "/posts/1/edit"}
    for url in posts:
        for client in (lead, app.test_client()):
            assert client.post(url, data={"email": "lead@example.org", "password": LEAD_PASSWORD}).status_code == 403, url
            assert client.post(url, data={"csrf_token": "forged"}).status_code == 403, url
    # Still signed in: the refused sign-out did nothing.
    assert lead.get("/city/sydney").status_code == 200


def test_a_token_from_another_session_or_site_is_refused(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    other = app.test_client()
    stolen = csrf_of(other)
    assert lead.post("/sign-out", data={"csrf_token": stolen}).status_code == 403
    own = csrf_of(lead, "/account")
    assert lead.post("/sign-out", data={"csrf_token": own}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert lead.post("/sign-out", data={"csrf_token": own}).status_code == 302
    assert lead.get("/city/sydney").status_code == 302  # signed out


def test_wrong_passwords_are_throttled(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    app = create_app(config, secret_key=SECRET)
    client = client_at(app, "10.0.0.7")
    for _ in range(5):
        response = client.post("/sign-in", data={"email": "lead@example.org", "password": "wrong",
                                                  "csrf_token": csrf_of(client)})
        assert response.status_code == 401
        assert "do not match" in response.get_data(as_text=True)
    # Locked: even the right password is refused for a while, and the page says so.
    response = client.post("/sign-in", data={"email": "lead@example.org", "password": LEAD_PASSWORD,
                                              "csrf_token": csrf_of(client)})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    # An unknown email fails the same way as a wrong password.
    response = client.post("/sign-in", data={"email": "ghost@example.org", "password": "x",
                                              "csrf_token": csrf_of(client)})
    assert response.status_code == 401 and "do not match" in response.get_data(as_text=True)


def test_sign_in_link_works_once(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    app = create_app(config, secret_key=SECRET)
    link = People(config).issue_sign_in_link("organiser@example.org", "http://127.0.0.1:8080")
    path = link.removeprefix("http://127.0.0.1:8080")
    client = app.test_client()
    shown = client.get(path)
    assert shown.status_code == 200 and "organiser@example.org" in shown.get_data(as_text=True)
    assert client.get("/overview.json").status_code == 302  # showing the link did not sign in
    response = client.post(path, data={"csrf_token": CSRF.search(shown.get_data(as_text=True)).group(1)})
    assert response.status_code == 302
    assert [r["city"] for r in client.get("/overview.json").get_json()] == ["melbourne", "perth"]
    again = app.test_client()
    assert again.get(path).status_code == 410
    assert again.post(path, data={"csrf_token": csrf_of(again)}).status_code == 410


def test_sessions_end_when_the_person_is_removed_or_changes_password(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    app = create_app(config, secret_key=SECRET)
    people = People(config)
    people.add("temp@example.org", "lead", ["sydney"], password="temporary-password")
    client = sign_in(app, "temp@example.org", "temporary-password")
    assert client.get("/city/sydney").status_code == 200
    people.set_password("temp@example.org", "another-password-1")
    assert client.get("/city/sydney").status_code == 302
    client = sign_in(app, "temp@example.org", "another-password-1")
    people.update("temp@example.org", cities=["perth"])
    assert client.get("/city/sydney").status_code == 404  # cities are read afresh every request
    people.remove("temp@example.org")
    assert client.get("/city/perth").status_code == 302


def test_setting_a_password_in_the_app(demo, tmp_path):
    config = copy_warehouse(demo, tmp_path / "data")
    app = create_app(config, secret_key=SECRET)
    people = People(config)
    people.add("new@example.org", "lead", ["sydney"])
    client = app.test_client()
    path = people.issue_sign_in_link("new@example.org", "").removeprefix("")
    client.post(path, data={"csrf_token": csrf_of(client, path)})
    token = csrf_of(client, "/account")
    short = client.post("/account/password", data={"csrf_token": token, "password": "short", "repeat": "short"})
    assert short.status_code == 400
    done = client.post("/account/password", data={"csrf_token": token, "password": "a-long-password",
                                                   "repeat": "a-long-password"})
    assert done.status_code == 302
    assert client.get("/city/sydney").status_code == 200  # this session goes on
    assert people.verify_password("new@example.org", "a-long-password") is not None
    # Changing it again needs the current one.
    token = csrf_of(client, "/account")
    wrong = client.post("/account/password", data={"csrf_token": token, "current": "nope",
                                                    "password": "third-password", "repeat": "third-password"})
    assert wrong.status_code == 401


def test_next_after_sign_in_stays_on_this_site(app):
    for target, expected in [("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil", "/"),
                             ("/city/sydney?range=30d", "/city/sydney?range=30d")]:
        client = app.test_client()
        response = client.post("/sign-in", data={"email": "lead@example.org", "password": LEAD_PASSWORD,
                                                  "csrf_token": csrf_of(client), "next": target})
        assert response.headers["Location"] == expected


def test_session_cookie_and_security_headers(app):
    client = app.test_client()
    response = client.post("/sign-in", data={"email": "lead@example.org", "password": LEAD_PASSWORD,
                                              "csrf_token": csrf_of(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and cookie.startswith("pulse_session=")
    # The cookie is signed: changing one character of it signs the person out.
    value = cookie.split(";")[0].split("=", 1)[1]
    tampered = app.test_client()
    tampered.set_cookie("pulse_session", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert tampered.get("/city/sydney").status_code == 302
    page = client.get("/city/sydney")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.get_data(as_text=True).replace('<script src="', "")  # no inline script


def test_user_text_is_escaped_in_pages_and_figures(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    page = lead.get("/city/sydney?range=30d").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert SCRIPT_TITLE not in page and IMG_TITLE not in page
    assert "<img" not in page
    # In the figure data (plotly decodes entities, so the label carries them), no raw markup.
    figure = re.search(r'id="figure-data-top-posts">(.*?)</script>', page, re.S).group(1)
    assert "\\u003c" not in json.loads(figure)["data"][0]["y"][0]
    assert json.loads(figure)["data"][0]["y"][0] == "1. &lt;img src=x onerror=alert(1)&gt;"
    # Downloads carry the text exactly as sent.
    meetups = lead.get("/city/sydney/meetups.csv?range=30d").get_data(as_text=True)
    titles = [row["title"] for row in csv.DictReader(io.StringIO(meetups))]
    assert SCRIPT_TITLE in titles and IMG_TITLE in titles


def test_bad_range_is_a_400_that_says_why(app):
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    for query, words in [("range=7d", "range: expected"), ("period=day", "period: expected"),
                         ("range=custom&from=2026-03-05&to=2026-03-01", "is after"),
                         ("range=custom&from=2026-02-30&to=2026-03-01", "not a real date"),
                         ("range=custom&from=2000-01-01&to=2026-03-01", "at most"),
                         # Dates Python (or a timezone shift) cannot go past: these were 500s.
                         ("range=custom&from=9999-11-01&to=9999-12-01", "too far in the future"),
                         ("range=custom&from=3000-01-01&to=3000-01-02", "too far in the future"),
                         ("range=custom&from=0001-01-05&to=0001-01-10", "too far in the past"),
                         ("range=custom&from=1900-01-01&to=1900-01-02", "too far in the past")]:
        for path in ("/city/sydney", "/city/sydney/meetups.csv", "/overview.csv"):
            response = lead.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            assert words in response.get_data(as_text=True), (path, query)
    # The edges themselves are fine.
    for query in ("range=custom&from=2999-12-01&to=2999-12-31&period=month",
                  "range=custom&from=1900-01-03&to=1900-01-04"):
        assert lead.get(f"/city/sydney?{query}").status_code == 200, query


def test_assets_are_served_locally_and_cacheable(app):
    client = app.test_client()
    plotly = client.get("/assets/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.data) > 1_000_000
    assert plotly.headers["Content-Type"].startswith("text/javascript")
    again = client.get("/assets/plotly.min.js", headers={"If-None-Match": plotly.headers["ETag"].strip('"')})
    assert again.status_code == 304
    assert client.get("/assets/secrets.txt").status_code == 404


def test_another_package_adds_pages_behind_the_same_gate(demo):
    from flask import Blueprint, current_app, g

    extra = Blueprint("extra", __name__)

    @extra.get("/extra/<slug>")
    def city_extra(slug):
        current_app.extensions["pulse.auth"].require_city(slug)
        return f"queue of {slug} for {g.user.email}"

    @extra.post("/extra/act")
    def act():
        return "done"

    @extra.post("/extra/hook")
    def hook():  # authenticates its caller its own way (e.g. a signed Slack request)
        return "hooked"

    mounted = WebExtension("extra", lambda config: extra, public_endpoints=frozenset({"extra.hook"}),
                           csrf_exempt_endpoints=frozenset({"extra.hook"}), nav_links=(NavLink("Queue", "/extra/sydney"),))
    app = create_app(demo.config, secret_key=SECRET, extensions=[*registered_extensions(), mounted])
    assert app.test_client().get("/extra/sydney").status_code == 302
    lead = sign_in(app, "lead@example.org", LEAD_PASSWORD)
    assert lead.get("/extra/sydney").get_data(as_text=True) == "queue of sydney for lead@example.org"
    assert lead.get("/extra/perth").status_code == 404
    assert lead.get("/extra/perth").headers["Content-Security-Policy"]
    assert lead.post("/extra/act").status_code == 403
    assert lead.post("/extra/act", data={"csrf_token": csrf_of(lead, "/account")}).status_code == 200
    assert app.test_client().post("/extra/hook").get_data(as_text=True) == "hooked"
    assert '<a href="/extra/sydney">Queue</a>' in lead.get("/account").get_data(as_text=True)
